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
