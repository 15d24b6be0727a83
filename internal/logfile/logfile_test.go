package logfile

import (
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseAccessReadsEveryField(t *testing.T) {
	e := ParseAccess(`10.20.1.2 - sb-client [23/Nov/2026:10:00:00 +0100] "POST /http/orders?x=1 HTTP/1.1" 500 1234 87`, 7)
	require.True(t, e.Parsed)
	assert.Equal(t, time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), e.Time)
	assert.Equal(t, "10.20.1.2", e.Client)
	assert.Equal(t, "sb-client", e.User)
	assert.Equal(t, "POST", e.Method)
	assert.Equal(t, "/http/orders?x=1", e.Path)
	assert.Equal(t, "HTTP/1.1", e.Protocol)
	assert.Equal(t, 500, e.Status)
	assert.EqualValues(t, 1234, e.Bytes)
	assert.EqualValues(t, 87, e.DurationMs)
	assert.Equal(t, 7, e.Line)

	e = ParseAccess(`::1 - - [23/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 304 -`, 1)
	require.True(t, e.Parsed)
	assert.Empty(t, e.User)
	assert.Zero(t, e.Bytes)

	for _, raw := range []string{"", "garbage", `1.2.3.4 - - [not a date] "GET / HTTP/1.1" 200 1`} {
		e := ParseAccess(raw, 3)
		assert.False(t, e.Parsed, raw)
		assert.Equal(t, raw, e.Text, "kept raw")
	}
}

func TestParseTraceReadsTheHashFormat(t *testing.T) {
	e := ParseTrace("#2.0#2026 11 23 10:00:01:250#+0000#Error#com.sap.it.Foo#IFLMAP#Thread-3#Order_In#Failed: boom\njava.lang.RuntimeException: boom\n\tat a.b(C.java:1)", 4)
	require.True(t, e.Parsed)
	assert.Equal(t, time.Date(2026, 11, 23, 10, 0, 1, 250e6, time.UTC), e.Time)
	assert.Equal(t, "ERROR", e.Level)
	assert.Equal(t, "com.sap.it.Foo", e.Logger)
	assert.Equal(t, "Thread-3", e.Thread)
	assert.Equal(t, "Order_In", e.Application)
	assert.Equal(t, "Failed: boom\njava.lang.RuntimeException: boom\n\tat a.b(C.java:1)", e.Message)

	assert.False(t, ParseTrace("#2.0#too#few", 1).Parsed)
	assert.False(t, ParseTrace("plain text", 1).Parsed)
}

const trace = "#2.0#2026 11 23 10:00:00:000#+0000#Info#L#C#T-1#A#first#\n" +
	"#2.0#2026 11 23 10:00:01:000#+0000#Error#L#C#T-2#A#second\n" +
	"java.net.ConnectException: refused\n" +
	"\tat x.y(Z.java:9)\n" +
	"Caused by: java.io.IOException\n" +
	"#2.0#2026 11 23 10:00:02:000#+0000#Info#L#C#T-1#A#third#\n" +
	"#2.0#2026 11 23 10:00:03:000#+0000#Info#L#C#T-1#A#fou" // half written

func TestReaderJoinsStackTracesAndWaitsForTheLastEntry(t *testing.T) {
	rd := NewReader(KindTrace, strings.NewReader(trace), 0, 0)
	var got []Entry
	var offsets []int64
	var lines []int
	for {
		e, off, n, err := rd.Next(false)
		if err == ErrNoEntry {
			break
		}
		require.NoError(t, err)
		got, offsets, lines = append(got, e), append(offsets, off), append(lines, n)
	}
	require.Len(t, got, 2, "the third entry may still get a stack trace; the fourth is half written")
	assert.Equal(t, "first", got[0].Message)
	assert.Equal(t, 1, lines[0])
	assert.Contains(t, got[1].Message, "Caused by: java.io.IOException")
	assert.Equal(t, 2, got[1].Line)
	assert.Equal(t, 5, lines[1])
	assert.Equal(t, int64(strings.Index(trace, "#2.0#2026 11 23 10:00:02")), offsets[1], "the offset is just after the second entry")

	// The next poll resumes at that offset; once the file no longer grows, everything complete is emitted.
	rest := trace[offsets[1]:] + "r#\n"
	rd = NewReader(KindTrace, strings.NewReader(rest), offsets[1], lines[1])
	var tail []Entry
	for {
		e, _, _, err := rd.Next(true)
		if err == ErrNoEntry {
			break
		}
		require.NoError(t, err)
		tail = append(tail, e)
	}
	require.Len(t, tail, 2)
	assert.Equal(t, "third", tail[0].Message)
	assert.Equal(t, "four", tail[1].Message)
	assert.Equal(t, 7, tail[1].Line)
}

func TestReaderHoldsAPartialAccessLineUntilTheFileIsFinal(t *testing.T) {
	in := "1.1.1.1 - - [23/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 1 2\n1.1.1.1 - - [23/Nov/2026:10:0"
	rd := NewReader(KindHTTP, strings.NewReader(in), 0, 0)
	_, off, n, err := rd.Next(false)
	require.NoError(t, err)
	assert.Equal(t, int64(strings.IndexByte(in, '\n')+1), off)
	assert.Equal(t, 1, n)
	_, _, _, err = rd.Next(false)
	assert.ErrorIs(t, err, ErrNoEntry)
	rd = NewReader(KindHTTP, strings.NewReader(in[off:]), off, n)
	e, _, _, err := rd.Next(true)
	require.NoError(t, err)
	assert.False(t, e.Parsed, "an unfinishable line is kept raw")
}

// A download cut off mid-line is no end of the file, even of a final one: the partial line is not an
// entry (the retry reads it whole from its offset), and the error comes back.
func TestReaderLeavesALineCutOffByAFailedDownloadForTheRetry(t *testing.T) {
	first := "1.1.1.1 - - [23/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 1 2\n"
	reset := errors.New("connection reset by peer")
	body := io.MultiReader(strings.NewReader(first+"1.1.1.1 - - [23/Nov/2026:10:0"), &failAfter{err: reset})
	rd := NewReader(KindHTTP, body, 0, 0)
	e, off, n, err := rd.Next(true)
	require.NoError(t, err)
	assert.True(t, e.Parsed)
	assert.Equal(t, int64(len(first)), off)
	assert.Equal(t, 1, n)
	_, _, _, err = rd.Next(true)
	assert.ErrorIs(t, err, reset, "the cut-off line is not returned as an entry")
}

type failAfter struct{ err error }

func (f *failAfter) Read([]byte) (int, error) { return 0, f.err }

func TestAnEndlessStackTraceIsCutIntoRecordsWithoutLosingALine(t *testing.T) {
	frame := "\tat x.y(Z.java:1)"
	in := "#2.0#2026 11 23 10:00:01:000#+0000#Error#L#C#T#A#boom\n" + strings.Repeat(frame+"\n", 10000)
	rd := NewReader(KindTrace, strings.NewReader(in), 0, 0)
	rd.MaxEntry = 1000
	got, off, n := readAll(t, rd, true)
	assert.Equal(t, int64(len(in)), off)
	assert.Equal(t, 10001, n, "every line is consumed")
	require.Greater(t, len(got), 100)
	assert.Equal(t, "ERROR", got[0].Level, "the entry keeps its fields")
	var lines []string
	next := 1
	for i, e := range got {
		assert.Equal(t, next, e.Line, "record %d begins where the one before ended", i)
		text := e.Text
		if i < len(got)-1 {
			require.True(t, strings.HasSuffix(text, cutMarker), "record %d is marked as cut", i)
			text = strings.TrimSuffix(text, cutMarker)
			assert.True(t, strings.HasSuffix(e.Message, cutMarker) || !e.Parsed, "the body shows the cut")
		}
		assert.LessOrEqual(t, len(text), 1000)
		assert.Equal(t, i > 0, !e.Parsed, "the rest of the trace is raw")
		lines = append(lines, strings.Split(text, "\n")...)
		next += len(strings.Split(text, "\n"))
	}
	assert.Equal(t, linesOf(in), lines, "lines in = lines out")
}

func TestAGrowingFileOfOnlyContinuationsIsNotHeldBackWhole(t *testing.T) {
	// A file that is one long stack trace: only its last MaxEntry bytes may wait for the next poll.
	in := strings.Repeat("\tat x.y(Z.java:1)\n", 10000)
	rd := NewReader(KindTrace, strings.NewReader(in), 0, 0)
	rd.MaxEntry = 1000
	_, off, n := readAll(t, rd, false)
	assert.GreaterOrEqual(t, off, int64(len(in)-1000))
	assert.Equal(t, int(off)/len("\tat x.y(Z.java:1)\n"), n)
}

func TestALineLongerThanTheLimitIsCutAndMarked(t *testing.T) {
	long := "2026-12-01 20:31:01.726#+00#INFO#L#t#" + strings.Repeat("ä", 1000)
	in := long + "\n\tat a.b\n2026-12-01 20:31:02.000#+00#INFO#L#t#next\n"
	rd := NewReader(KindTrace, strings.NewReader(in), 0, 0)
	rd.MaxEntry = 101
	got, _, n := readAll(t, rd, true)
	require.Len(t, got, 3)
	assert.Equal(t, 3, n)
	assert.Equal(t, cutText(long, 101)+cutLineMarker+cutMarker, got[0].Text)
	assert.True(t, utf8.ValidString(got[0].Text), "no rune split")
	assert.Equal(t, Entry{Line: 2, Text: "\tat a.b"}, got[1])
	assert.Equal(t, "next", got[2].Message)
}

func FuzzParseAccess(f *testing.F) {
	f.Add(`10.20.1.2 - u [23/Nov/2026:10:00:00 +0100] "POST /x HTTP/1.1" 500 1234 87`)
	f.Add(`- - - [] "" 999 -`)
	f.Fuzz(func(t *testing.T, line string) {
		e := ParseAccess(line, 1)
		if e.Text != line {
			t.Fatalf("raw text lost")
		}
	})
}

func FuzzReader(f *testing.F) {
	f.Add(trace, true)
	f.Add("a\nb\r\n#2.0#x\n", false)
	f.Add("2026-12-01 20:31:01.726#+00#WARN#com.sap.it.op.agent.deploy##anonymous#worker-1#Order #1 slow\n"+
		"2026-12-01 20:31:02.000#+00#ERROR#L##anonymous#worker-1#boom\njava.net.ConnectException: refused\n\tat a.b(C.java:1)\nCaused by: x.y.IOError\n\t... 3 more\n"+
		"Heap dump written\n2026-12-01 20:31:03#+00:00#Info#L#w#done#\n|\n", true)
	f.Add("2026-12-01T20:31:01.726Z ERROR [worker-1] com.sap.Foo - boom\n\tat a.b\n2026-12-01 20:31:01,726 [main] INFO  c.s.Bar - ok\nat x\n... 2 common frames omitted\n2026-12-01 20:31", false)
	f.Add("2026 12 01 20:31:01:726#-05#X#\n\n  \n2026-02-30 10:00:00 x\n2026-12-01T20:31:01+0100\r\n", true)
	f.Fuzz(func(t *testing.T, in string, final bool) {
		for _, kind := range []string{KindHTTP, KindTrace} {
			for _, opts := range []Options{{}, {LineStart: regexp.MustCompile(`^\d`)}} {
				checkReader(t, kind, in, final, opts, len(in)+1)
				checkReader(t, kind, in, final, opts, 8)
			}
		}
	})
}

// checkReader proves what the Reader promises for any input: offsets only grow and stay in the file;
// each record begins on the line after the one before it ended; with no size limit in the way the
// records hold every line read exactly once and in order; a final read reaches the end; and resuming
// at a returned offset yields the records a single read yields.
func checkReader(t *testing.T, kind, in string, final bool, opts Options, maxEntry int) {
	read := func(s string, off int64, lines int, final bool) ([]Entry, int64, int) {
		rd := NewReader(kind, strings.NewReader(s), off, lines, opts)
		rd.MaxEntry = maxEntry
		var got []Entry
		last, n := off, lines
		for range len(s) + 2 {
			e, o, l, err := rd.Next(final)
			if err == ErrNoEntry {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if o < last || o > int64(len(in)) || l <= n || e.Line != n+1 {
				t.Fatalf("%s: record of line %d ends at offset %d, line %d; the one before at %d, line %d (file %d bytes)", kind, e.Line, o, l, last, n, len(in))
			}
			got, last, n = append(got, e), o, l
		}
		return got, last, n
	}
	got, last, n := read(in, 0, 0, final)
	if want := linesOf(in[:last]); len(want) != n || maxEntry > len(in) && !equalLines(want, recordLines(got)) {
		t.Fatalf("%s: %d lines read, records hold %q, want %q", kind, n, recordLines(got), want)
	}
	if final && last != int64(len(in)) {
		t.Fatalf("%s: final read stopped at %d of %d", kind, last, len(in))
	}
	if final {
		return
	}
	whole, _, _ := read(in, 0, 0, true)
	rest, _, _ := read(in[last:], last, n, true)
	if resumed := append(got, rest...); !equalEntries(whole, resumed) {
		t.Fatalf("%s: resuming at %d gave %+v, one read %+v", kind, last, resumed, whole)
	}
}

func equalLines(a, b []string) bool {
	return strings.Join(a, "\n") == strings.Join(b, "\n") && len(a) == len(b)
}

func equalEntries(a, b []Entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
