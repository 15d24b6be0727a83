package logfile

import (
	"strings"
	"testing"
	"time"

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

func TestReaderCapsAnEndlessStackTrace(t *testing.T) {
	in := "#2.0#2026 11 23 10:00:01:000#+0000#Error#L#C#T#A#boom\n" + strings.Repeat("\tat x.y(Z.java:1)\n", 10000)
	rd := NewReader(KindTrace, strings.NewReader(in), 0, 0)
	rd.MaxEntry = 1000
	e, _, n, err := rd.Next(true)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(e.Message), 1100)
	assert.True(t, strings.HasSuffix(e.Message, "…[truncated]"))
	assert.Equal(t, 10001, n, "every line is consumed")
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
	f.Fuzz(func(t *testing.T, in string, final bool) {
		for _, kind := range []string{KindHTTP, KindTrace} {
			rd := NewReader(kind, strings.NewReader(in), 0, 0)
			var last int64
			for range len(in) + 2 {
				_, off, _, err := rd.Next(final)
				if err == ErrNoEntry {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if off < last || off > int64(len(in)) {
					t.Fatalf("offset %d after %d of %d", off, last, len(in))
				}
				last = off
			}
			if final && last != int64(len(in)) && strings.TrimSpace(in) != "" && kind == KindHTTP {
				t.Fatalf("final read stopped at %d of %d", last, len(in))
			}
		}
	})
}
