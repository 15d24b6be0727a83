package fakecpi

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func traceFileSim(t *testing.T, formats ...TraceFormat) (*Server, *atomic.Int64) {
	t.Helper()
	start := time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	var clock atomic.Int64
	clock.Store(start.Add(5 * time.Minute).UnixNano())
	sim := New(Options{Start: start, LogRotate: 10 * time.Minute, TraceFormats: formats, Now: func() time.Time { return time.Unix(0, clock.Load()).UTC() }})
	return sim, &clock
}

func traceFiles(sim *Server) []logFile {
	var out []logFile
	for _, f := range sim.logFiles(sim.now()) {
		if f.kind == "trace" {
			out = append(out, f)
		}
	}
	return out
}

func TestLogFileTraceFormatsAreTakenInTurn(t *testing.T) {
	sim, _ := traceFileSim(t, TraceClassic, TraceHashed, TraceMixed)
	files := traceFiles(sim)
	require.Len(t, files, keptFiles)
	// The first file starts two hours before Start: the kept ones are the 11th, 12th and 13th (k = 10, 11, 12).
	for i, want := range []TraceFormat{TraceHashed, TraceMixed, TraceClassic} {
		text := sim.LogFileText(files[i].name)
		require.NotEmpty(t, text)
		var classic, hashed, stray int
		for _, l := range strings.Split(text, "\n") {
			switch {
			case strings.HasPrefix(l, "#2.0#"):
				classic++
			case strings.HasPrefix(l, "2026-12-01 "):
				hashed++
			case strings.HasPrefix(l, "Heap dump written"):
				stray++
			}
		}
		switch want {
		case TraceClassic:
			assert.Positive(t, classic, files[i].name)
			assert.Zero(t, hashed+stray, files[i].name)
		case TraceHashed:
			assert.Positive(t, hashed, files[i].name)
			assert.Zero(t, classic+stray, files[i].name)
			assert.Contains(t, text, "#+00#ERROR#com.sap.it.rt.adapter.http.HttpAdapter##anonymous#worker-3#")
			assert.Contains(t, text, "\njava.net.ConnectException: Connection refused (Connection refused)\n\tat ")
			assert.Contains(t, text, "\nCaused by: java.io.IOException: peer closed\n")
		case TraceMixed:
			assert.Positive(t, classic, files[i].name)
			assert.Positive(t, hashed, files[i].name)
			assert.Equal(t, 120/25, stray, "a stray line after every 25th of the 120 entries")
		}
	}
}

func TestLogFileTraceFormatDefaultsToTheClassicOne(t *testing.T) {
	sim, _ := traceFileSim(t)
	for _, f := range traceFiles(sim) {
		assert.True(t, strings.HasPrefix(sim.LogFileText(f.name), "#2.0#"), f.name)
	}
}

func TestLogFileSimulatedTraceFileOnlyGrows(t *testing.T) {
	sim, clock := traceFileSim(t, TraceMixed)
	files := traceFiles(sim)
	current := files[len(files)-1].name
	before := sim.LogFileText(current)
	require.False(t, strings.HasSuffix(before, "\n"), "the current file ends in a half-written line")
	clock.Add(int64(time.Minute))
	after := sim.LogFileText(current)
	complete := before[:strings.LastIndexByte(before, '\n')+1]
	assert.True(t, strings.HasPrefix(after, complete), "what was written stays as it was")
	assert.Greater(t, len(after), len(before))
}

func TestLogFileParseTraceFormats(t *testing.T) {
	got, err := ParseTraceFormats("classic, hashed,mixed,")
	require.NoError(t, err)
	assert.Equal(t, []TraceFormat{TraceClassic, TraceHashed, TraceMixed}, got)
	got, err = ParseTraceFormats("")
	require.NoError(t, err)
	assert.Empty(t, got)
	_, err = ParseTraceFormats("classic,json")
	assert.ErrorContains(t, err, `unknown trace format "json"`)
}
