package sapcpireceiver

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/mapping"
)

func (tt *testTenant) logFileSource(t *testing.T, next consumer.Logs, st storage.Client) *logFileSource {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.LogFiles.BatchSize = 100
	e := testEnv(t, envOptions{cfg: cfg, client: tt.client, logs: next, storage: st, now: tt.clock.Now})
	srcs, err := logFileSources(e)
	require.NoError(t, err)
	src := srcs[0].(*logFileSource)
	require.NoError(t, src.load(t.Context()))
	return src
}

// fileLines lists, per file, the line numbers of the records delivered from it.
func fileLines(all []plog.Logs) map[string][]int64 {
	out := map[string][]int64{}
	for _, ld := range all {
		rls := ld.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			lrs := rls.At(i).ScopeLogs().At(0).LogRecords()
			for j := 0; j < lrs.Len(); j++ {
				a := lrs.At(j).Attributes()
				name, _ := a.Get(mapping.AttrLogFileName)
				line, _ := a.Get(mapping.AttrLogFileLine)
				out[name.Str()] = append(out[name.Str()], line.Int())
			}
		}
	}
	return out
}

// entryStarts are the line numbers where the simulated file's entries start: every line of an access
// log, the "#2.0#" lines of a trace log. A last line without newline is not complete yet.
func entryStarts(text string, complete bool) []int64 {
	lines := strings.SplitAfter(text, "\n")
	var out []int64
	for i, l := range lines {
		if l == "" || (!complete && !strings.HasSuffix(l, "\n")) {
			continue
		}
		if strings.Contains(text, "#2.0#") && !strings.HasPrefix(l, "#2.0#") {
			continue
		}
		out = append(out, int64(i+1))
	}
	return out
}

func TestLogFileLinesArriveOnceAcrossGrowthRotationAndRestart(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{LogRotate: 10 * time.Minute})
	st := storagetest.NewInMemoryClient(component.KindReceiver, component.MustNewID("file_storage"), "")
	sink := &consumertest.LogsSink{}
	src := tt.logFileSource(t, sink, st)
	var rotated []string // files seen while they were still listed and no longer growing
	for i := range 30 {
		require.NoError(t, src.poll(t.Context()))
		for k, p := range src.state.Files {
			if p.Final && !contains(rotated, k) {
				rotated = append(rotated, k)
				name := strings.TrimPrefix(k, "iflmap/")
				want := entryStarts(tt.sim.LogFileText(name), true)
				assert.Equal(t, want, fileLines(sink.AllLogs())[name], "every entry of rotated file %s once, in order", name)
			}
		}
		tt.clock.Advance(time.Minute)
		if i%7 == 6 {
			src = tt.logFileSource(t, sink, st) // a restart
		}
	}
	assert.GreaterOrEqual(t, len(rotated), 6, "files rotated during the run")
	for name, lines := range fileLines(sink.AllLogs()) {
		seen := map[int64]bool{}
		for _, l := range lines {
			assert.False(t, seen[l], "%s line %d twice", name, l)
			seen[l] = true
		}
	}
}

func TestLogFileStackTracesStayInTheirEntry(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{})
	sink := &consumertest.LogsSink{}
	src := tt.logFileSource(t, sink, nil)
	require.NoError(t, src.poll(t.Context()))
	var errors, unparsed int
	for _, ld := range sink.AllLogs() {
		lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
		for i := 0; i < lrs.Len(); i++ {
			lr := lrs.At(i)
			if p, _ := lr.Attributes().Get(mapping.AttrLogFileParsed); !p.Bool() {
				unparsed++
			}
			if lr.SeverityNumber() == plog.SeverityNumberError && strings.Contains(lr.Body().Str(), "Caused by:") {
				errors++
				assert.Contains(t, lr.Body().Str(), "\tat org.apache.camel")
			}
		}
	}
	assert.Positive(t, errors)
	assert.Zero(t, unparsed)
}

func TestLogFileConsumerRefusalKeepsTheOffset(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{})
	sink := &flakySink{every: 4}
	src := tt.logFileSource(t, sink, nil)
	for range 100 {
		_ = src.poll(t.Context()) // each refusal stops the poll; the next one resumes at the committed offset
	}
	files := fileLines(sink.AllLogs())
	require.Len(t, src.state.Files, 6, "three files of each type")
	for key, p := range src.state.Files {
		name := strings.TrimPrefix(key, "iflmap/")
		lines := files[name]
		want := entryStarts(tt.sim.LogFileText(name), p.Final)
		if !p.Final && strings.Contains(name, "ljs_trace") {
			want = want[:len(want)-1] // the newest trace entry waits for its possible stack trace
		}
		if !assert.Len(t, lines, len(want), name) {
			continue
		}
		for i := range want {
			if want[i] != lines[i] {
				t.Errorf("%s: record %d is line %d, want line %d", name, i, lines[i], want[i])
				break
			}
		}
	}
}

func TestLogFilesOnACloudFoundryTenantAreNotFound(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{CloudFoundry: true})
	err := tt.logFileSource(t, &consumertest.LogsSink{}, nil).poll(t.Context())
	require.Error(t, err)
	assert.Equal(t, httpapi.KindNotFound, httpapi.KindOf(err))
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// stubLogFiles serves one access log whose content the test replaces.
type stubLogFiles struct {
	content string
	mod     time.Time
}

func (s *stubLogFiles) LogFiles(context.Context, []string) ([]cpi.LogFile, error) {
	return []cpi.LogFile{{Name: "http_access_node0.log", Application: "iflmap", LogFileType: "http", NodeScope: "worker",
		Size: cpi.Int64(len(s.content)), LastModified: cpi.Time{Time: s.mod}}}, nil
}

func (s *stubLogFiles) LogFileContent(_ context.Context, _ cpi.LogFile, _ int64, read func(io.Reader) error) error {
	return read(strings.NewReader(s.content))
}

func accessLines(from, n int) string {
	var b strings.Builder
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&b, "10.0.0.1 - - [23/Nov/2026:10:00:%02d +0000] \"GET /p%d HTTP/1.1\" 200 1 1\n", i%60, i)
	}
	return b.String()
}

func TestLogFileReplacedByAShorterOneIsReadFromTheStart(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{})
	sink := &consumertest.LogsSink{}
	src := tt.logFileSource(t, sink, nil)
	stub := &stubLogFiles{content: accessLines(0, 50), mod: t0}
	src.client = stub
	require.NoError(t, src.poll(t.Context()))
	require.Equal(t, 50, sink.LogRecordCount())

	stub.content, stub.mod = accessLines(100, 10), t0.Add(time.Minute) // same name, new and shorter
	require.NoError(t, src.poll(t.Context()))
	require.Equal(t, 60, sink.LogRecordCount())
	last := sink.AllLogs()[len(sink.AllLogs())-1].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	first, _ := last.At(0).Attributes().Get(mapping.AttrURLPath)
	assert.Equal(t, "/p100", first.Str(), "the new file from its first line")

	stub.content += accessLines(110, 5) // it grows
	stub.mod = t0.Add(2 * time.Minute)
	require.NoError(t, src.poll(t.Context()))
	assert.Equal(t, 65, sink.LogRecordCount(), "only the new lines")
}

// simRecord is one record a simulated trace file must yield: its first line number and its lines. The
// simulator writes stack-trace lines only as "\tat …", "Caused by: …" and "java.net.ConnectException: …"
// after an ERROR entry, and "Heap dump written …" as a line in no format; every other line starts an entry.
type simRecord struct {
	line  int64
	lines []string
	raw   bool
}

func simRecords(text string, complete bool) []simRecord {
	var out []simRecord
	for i, l := range strings.SplitAfter(text, "\n") {
		if l == "" || (!complete && !strings.HasSuffix(l, "\n")) {
			continue
		}
		l = strings.TrimSuffix(l, "\n")
		if len(out) > 0 && (strings.HasPrefix(l, "\t") || strings.HasPrefix(l, "Caused by: ") || strings.HasPrefix(l, "java.net.ConnectException: ")) {
			out[len(out)-1].lines = append(out[len(out)-1].lines, l)
			continue
		}
		out = append(out, simRecord{line: int64(i + 1), lines: []string{l}, raw: strings.HasPrefix(l, "Heap dump written")})
	}
	return out
}

// fileRecords lists, per file, the records delivered from it.
func fileRecords(all []plog.Logs) map[string][]plog.LogRecord {
	out := map[string][]plog.LogRecord{}
	for _, ld := range all {
		rls := ld.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			lrs := rls.At(i).ScopeLogs().At(0).LogRecords()
			for j := 0; j < lrs.Len(); j++ {
				name, _ := lrs.At(j).Attributes().Get(mapping.AttrLogFileName)
				out[name.Str()] = append(out[name.Str()], lrs.At(j))
			}
		}
	}
	return out
}

// checkTraceRecords compares what was delivered from a trace file with what the file holds: each entry
// one record starting at its line, its stack trace joined to it line for line, each stray line a raw
// record of its own, nothing twice and nothing missing.
func checkTraceRecords(t *testing.T, name string, want []simRecord, got []plog.LogRecord) {
	t.Helper()
	if !assert.Equal(t, len(want), len(got), "%s: one record per entry and per stray line", name) {
		return
	}
	for i, w := range want {
		lr := got[i]
		line, _ := lr.Attributes().Get(mapping.AttrLogFileLine)
		parsed, _ := lr.Attributes().Get(mapping.AttrLogFileParsed)
		body := strings.Split(lr.Body().Str(), "\n")
		ok := assert.Equal(t, w.line, line.Int(), "%s record %d", name, i) &&
			assert.Equal(t, !w.raw, parsed.Bool(), "%s line %d parsed", name, w.line) &&
			assert.Equal(t, w.lines[1:], body[1:], "%s line %d: its stack trace, joined", name, w.line)
		if !ok {
			return
		}
		if w.raw {
			assert.Equal(t, w.lines[0], body[0], "%s line %d kept raw", name, w.line)
			continue
		}
		assert.NotEmpty(t, body[0], "%s line %d has a message", name, w.line)
		assert.True(t, strings.HasSuffix(strings.TrimSuffix(w.lines[0], "#"), body[0]), "%s line %d: message %q is the end of %q", name, w.line, body[0], w.lines[0])
		assert.NotZero(t, lr.Timestamp(), "%s line %d has its time", name, w.line)
		if len(w.lines) > 1 {
			assert.Equal(t, plog.SeverityNumberError, lr.SeverityNumber(), "%s line %d", name, w.line)
		}
	}
}

func TestLogFileTraceFormatsArriveWholeAcrossGrowthRotationAndRestart(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{LogRotate: 10 * time.Minute,
		TraceFormats: []fakecpi.TraceFormat{fakecpi.TraceHashed, fakecpi.TraceMixed, fakecpi.TraceClassic}})
	st := storagetest.NewInMemoryClient(component.KindReceiver, component.MustNewID("file_storage"), "")
	sink := &consumertest.LogsSink{}
	src := tt.logFileSource(t, sink, st)
	rotated := map[string]string{} // trace file → its text once it no longer grew
	for i := range 30 {
		require.NoError(t, src.poll(t.Context()))
		got := fileRecords(sink.AllLogs())
		for k, p := range src.state.Files {
			name := strings.TrimPrefix(k, "iflmap/")
			if !strings.HasPrefix(name, "ljs_trace") {
				continue
			}
			text := tt.sim.LogFileText(name)
			if p.Final {
				if _, seen := rotated[name]; !seen {
					rotated[name] = text
					checkTraceRecords(t, name, simRecords(text, true), got[name])
				}
				continue
			}
			// The current file: everything but its half-written line and its last entry, which may still grow.
			want := simRecords(text, false)
			checkTraceRecords(t, name, want[:len(want)-1], got[name])
		}
		tt.clock.Advance(time.Minute)
		if i%7 == 6 {
			src = tt.logFileSource(t, sink, st) // a restart
		}
	}
	require.GreaterOrEqual(t, len(rotated), 3, "trace files rotated during the run")
	var hashed, mixed, classic bool
	for _, text := range rotated {
		hashed = hashed || strings.Contains(text, "#+00#ERROR#")
		mixed = mixed || strings.Contains(text, "\nHeap dump written")
		classic = classic || strings.HasPrefix(text, "#2.0#")
	}
	assert.True(t, hashed && mixed && classic, "every format was read to its end")
}

// fakeLogFiles serves fixed log files, for cases the simulated tenant does not have.
type fakeLogFiles struct{ files map[cpi.LogFile]string }

func (f *fakeLogFiles) LogFiles(context.Context, []string) ([]cpi.LogFile, error) {
	out := make([]cpi.LogFile, 0, len(f.files))
	for lf := range f.files {
		out = append(out, lf)
	}
	return out, nil
}

func (f *fakeLogFiles) LogFileContent(_ context.Context, lf cpi.LogFile, _ int64, read func(io.Reader) error) error {
	return read(strings.NewReader(f.files[lf]))
}

// Several worker nodes write at once: each node's newest file is still growing, so its last entry (whose
// stack trace may continue) waits, while the older file of each node is read to its end.
func TestLogFilesOfSeveralNodesEachKeepTheirCurrentFileOpen(t *testing.T) {
	entry := func(min int, msg string) string {
		return fmt.Sprintf("2026-06-01 08:%02d:00.000#+00#ERROR#com.sap.it.op.agent#na#worker-1#%s\n\tat a.b(C.java:1)\n", min, msg)
	}
	at := func(h int) cpi.Time { return cpi.Time{Time: t0.Add(time.Duration(h) * time.Hour)} }
	file := func(node string, h int) cpi.LogFile {
		return cpi.LogFile{Name: fmt.Sprintf("ljs_trace_%s_2026-06-01_0%d-00-00.log", node, h), Application: "iflmap", LogFileType: "trace", LastModified: at(h)}
	}
	client := &fakeLogFiles{files: map[cpi.LogFile]string{
		file("node0", 1): entry(1, "old 0a") + entry(2, "old 0b"),
		file("node0", 2): entry(3, "current 0a") + entry(4, "current 0b"),
		file("node1", 1): entry(1, "old 1a") + entry(2, "old 1b"),
		file("node1", 3): entry(5, "current 1a") + entry(6, "current 1b"),
	}}
	tt := newTestTenant(t, fakecpi.Options{})
	sink := &consumertest.LogsSink{}
	src := tt.logFileSource(t, sink, nil)
	src.client = client
	require.NoError(t, src.poll(t.Context()))
	var got []string
	for _, ld := range sink.AllLogs() {
		lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
		for i := 0; i < lrs.Len(); i++ {
			got = append(got, strings.SplitN(lrs.At(i).Body().Str(), "\n", 2)[0])
		}
	}
	assert.ElementsMatch(t, []string{"old 0a", "old 0b", "current 0a", "old 1a", "old 1b", "current 1a"}, got,
		"the last entry of each node's current file waits for the next poll")
}

func TestLogFilesConfiguredLineStartPatternCutsTheEntries(t *testing.T) {
	body := "[2026-06-01 08:01:00] first\n  detail\n[2026-06-01 08:02:00] second\n[2026-06-01 08:03:00] third\n"
	old := cpi.LogFile{Name: "custom_trace_node0_2026-06-01.log", Application: "iflmap", LogFileType: "trace", LastModified: cpi.Time{Time: t0}}
	newer := cpi.LogFile{Name: "custom_trace_node0_2026-06-02.log", Application: "iflmap", LogFileType: "trace", LastModified: cpi.Time{Time: t0.Add(time.Hour)}}
	tt := newTestTenant(t, fakecpi.Options{})
	sink := &consumertest.LogsSink{}
	cfg := createDefaultConfig().(*Config)
	cfg.LogFiles.Multiline.LineStartPattern = `^\[\d{4}-\d{2}-\d{2} `
	e := testEnv(t, envOptions{cfg: cfg, logs: sink, now: tt.clock.Now})
	srcs, err := logFileSources(e)
	require.NoError(t, err)
	src := srcs[0].(*logFileSource)
	src.client = &fakeLogFiles{files: map[cpi.LogFile]string{old: body, newer: ""}}
	require.NoError(t, src.load(t.Context()))
	require.NoError(t, src.poll(t.Context()))
	require.Equal(t, 3, sink.LogRecordCount(), "three entries by the pattern, the indented line joined to the first")
	first := sink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Body().Str()
	assert.Contains(t, first, "detail")
}
