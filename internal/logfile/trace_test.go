package logfile

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var at = time.Date(2026, 12, 1, 20, 31, 1, 726e6, time.UTC)

func TestEveryStartFormatIsAnEntryWithItsFields(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       Entry // Line, Text and Parsed are checked for every case
	}{
		{"list log with marker", "#2.0#2026 12 01 20:31:01:726#+0000#Error#com.sap.it.Foo#IFLMAP#Thread-3#Order_In#Failed: boom#",
			Entry{Time: at, Level: "ERROR", Logger: "com.sap.it.Foo", Thread: "Thread-3", Application: "Order_In", Message: "Failed: boom"}},
		{"list log as measured", "2026-12-01 20:31:01.726#+00#WARN#com.sap.it.op.agent.deploy##anonymous#worker-1#Deployment of Order_In is slow",
			Entry{Time: at, Level: "WARN", Logger: "com.sap.it.op.agent.deploy", Thread: "worker-1", Message: "Deployment of Order_In is slow"}},
		{"list log, zone +0000", "2026-12-01 20:31:01.726#+0000#INFO#L#worker-1#started", Entry{Time: at, Level: "INFO", Logger: "L", Thread: "worker-1", Message: "started"}},
		{"list log, zone +01:00", "2026-12-01 21:31:01.726#+01:00#INFO#L#worker-1#started", Entry{Time: at, Level: "INFO", Logger: "L", Thread: "worker-1", Message: "started"}},
		{"list log, zone -05", "2026-12-01 15:31:01.726#-05#INFO#L#worker-1#started", Entry{Time: at, Level: "INFO", Logger: "L", Thread: "worker-1", Message: "started"}},
		{"list log, zone Z", "2026-12-01 20:31:01.726#Z#INFO#L#worker-1#started", Entry{Time: at, Level: "INFO", Logger: "L", Thread: "worker-1", Message: "started"}},
		{"list log, no zone field", "2026-12-01 20:31:01.726#INFO#L#worker-1#started", Entry{Time: at, Level: "INFO", Logger: "L", Thread: "worker-1", Message: "started"}},
		{"list log, a # in the message", "2026-12-01 20:31:01.726#+00#INFO#L##anonymous#worker-1#Order #12 of #13 done",
			Entry{Time: at, Level: "INFO", Logger: "L", Thread: "worker-1", Message: "Order #12 of #13 done"}},
		{"list log, closing #", "2026-12-01 20:31:01.726#+00#INFO#L#worker-1#done#", Entry{Time: at, Level: "INFO", Logger: "L", Thread: "worker-1", Message: "done"}},
		{"list log, unknown level kept as written", "2026-12-01 20:31:01.726#+00#Notice#L#worker-1#x", Entry{Time: at, Level: "Notice", Logger: "L", Thread: "worker-1", Message: "x"}},
		{"list log, only time, zone and level", "2026-12-01 20:31:01.726#+00#Warning", Entry{Time: at, Level: "WARNING"}},
		{"Neo list log, date with blanks, placeholders", "2018 03 06 17:24:12#+00#ERROR#org.apache.catalina.startup.HostConfig##anonymous#localhost-startStop-1#na#p0123456789trial#minjersey#web##na#na#na#na#Error deploying web application archive",
			Entry{Time: time.Date(2018, 3, 6, 17, 24, 12, 0, time.UTC), Level: "ERROR", Logger: "org.apache.catalina.startup.HostConfig", Message: "Error deploying web application archive"}},
		{"ISO-8601, log4j layout", "2026-12-01T20:31:01.726Z ERROR [worker-1] com.sap.it.Foo - boom", Entry{Time: at, Level: "ERROR", Logger: "com.sap.it.Foo", Thread: "worker-1", Message: "boom"}},
		{"ISO-8601 with offset", "2026-12-01T21:31:01.726+01:00 INFO started", Entry{Time: at, Level: "INFO", Message: "started"}},
		{"ISO-8601 with +0100", "2026-12-01T21:31:01.726+0100 INFO started", Entry{Time: at, Level: "INFO", Message: "started"}},
		{"ISO-8601, nanoseconds", "2026-12-01T20:31:01.726000001Z x", Entry{Time: at.Add(1), Message: "x"}},
		{"ISO-8601 without level", "2026-12-01T20:31:01.726Z Retrying - attempt 2", Entry{Time: at, Message: "Retrying - attempt 2"}},
		{"logback layout", "2026-12-01 20:31:01,726 [worker-1] WARN  com.sap.it.Foo - slow", Entry{Time: at, Level: "WARN", Logger: "com.sap.it.Foo", Thread: "worker-1", Message: "slow"}},
		{"log4j layout", "2026-12-01 20:31:01,726 ERROR [worker-1] com.sap.it.Foo - boom: x - y", Entry{Time: at, Level: "ERROR", Logger: "com.sap.it.Foo", Thread: "worker-1", Message: "boom: x - y"}},
		{"Spring Boot layout", "2026-12-01T20:31:01.726Z  INFO 4711 --- [orders] [           main] c.s.i.OrderService   : Started",
			Entry{Time: at, Level: "INFO", Logger: "c.s.i.OrderService", Thread: "main", Message: "Started"}},
		{"zone after a blank, logger with colon", "2026-12-01 20:31:01.726 +0000 DEBUG com.sap.it.Cache: warm", Entry{Time: at, Level: "DEBUG", Logger: "com.sap.it.Cache", Message: "warm"}},
		{"level in brackets", "2026-12-01 20:31:01.726 [ERROR] boom", Entry{Time: at, Level: "ERROR", Message: "boom"}},
		{"a message that begins like a level stays whole", "2026-12-01 20:31:01,726 Error connecting to host", Entry{Time: at, Message: "Error connecting to host"}},
		{"a timestamp alone", "2026-12-01 20:31:01.726", Entry{Time: at}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.True(t, startsTrace(tc.line), "starts an entry")
			e := ParseTrace(tc.line, 9)
			want := tc.want
			want.Line, want.Text, want.Parsed = 9, tc.line, true
			assert.Equal(t, want, e)
		})
	}
}

func TestLinesWithoutALeadingTimestampStartNoEntry(t *testing.T) {
	for _, line := range []string{
		"Heap dump written to /var/log/java_pid4711.hprof",
		"2026-13-01 20:31:01 month 13",
		"2026-02-30 10:00:00 no such day",
		"2026-12-01 24:00:00 no such hour",
		"2026-12-01 20:31",
		"2026-12-01_20:31:01 x",
		"2026-12 01 20:31:01 mixed separators",
		"2026 12 01T20:31:01 x",
		"20261201 203101 x",
		"12026-12-01 20:31:01 x",
		"2026-12-01 20:31:01abc",
		"2026-12-01 20:31:01.1234567891 ten fraction digits",
		" 2026-12-01 20:31:01 indented",
		"[2026-12-01 20:31:01] bracketed",
		"#2.1#2026 12 01 20:31:01:726#+0000#Error#x",
	} {
		assert.False(t, startsTrace(line), line)
		e := ParseTrace(line, 3)
		assert.Equal(t, Entry{Line: 3, Text: line}, e, "kept raw")
	}
	// The marker alone starts an entry, as it always did; fields that do not fit leave it raw.
	assert.True(t, startsTrace("#2.0#too#few"))
	assert.False(t, ParseTrace("#2.0#too#few", 1).Parsed)
	assert.False(t, ParseTrace("#2.0#2026 11 23 10:00:01:250#+0000#Error#too#few", 1).Parsed)
}

func TestStackTraceShapesContinueTheEntry(t *testing.T) {
	for _, line := range []string{
		"\tat org.apache.camel.Foo.process(Foo.java:178)",
		"    at org.apache.camel.Foo.process(Foo.java:178)",
		"at org.apache.camel.Foo.process(Foo.java:178)",
		"Caused by: java.io.IOException: peer closed",
		"Suppressed: java.lang.IllegalStateException",
		"\tSuppressed: java.lang.IllegalStateException",
		"... 12 more",
		"\t... 12 more",
		"... 3 common frames omitted",
		"java.net.ConnectException: Connection refused",
		"java.net.ConnectException",
		"java.lang.OutOfMemoryError: Java heap space",
		"com.sap.it.rt.adapter.http.api.exception.HttpResponseException: 503",
		"com.sap.it.Outer$InnerException: x",
		"java.lang.Throwable",
		"java.lang.Exception: plain",
		"   continued message",
		"|",
		"",
	} {
		assert.True(t, continuesEntry(line), "%q", line)
	}
	for _, line := range []string{
		"Heap dump written to /var/log/java_pid4711.hprof",
		"ConnectException: refused",
		"java.net.ConnectExceptional: no",
		"java.net.ConnectException refused",
		"com.sap.it.Foo: a logger, not an exception",
		"atlas",
		"Caused by",
		"... more",
		"|x",
		"2026-12-01 20:31:01.726#+00#INFO#L#t#m",
	} {
		assert.False(t, continuesEntry(line), "%q", line)
	}
}

func readAll(t *testing.T, rd *Reader, final bool) (got []Entry, off int64, lines int) {
	t.Helper()
	for {
		e, o, n, err := rd.Next(final)
		if err == ErrNoEntry {
			return got, off, lines
		}
		require.NoError(t, err)
		got, off, lines = append(got, e), o, n
	}
}

// linesOf is what the reader sees of a file: its lines without line ends.
func linesOf(s string) []string {
	var out []string
	for _, l := range strings.SplitAfter(s, "\n") {
		if l != "" {
			out = append(out, strings.TrimRight(l, "\r\n"))
		}
	}
	return out
}

// recordLines are the lines the records hold, in order.
func recordLines(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, strings.Split(e.Text, "\n")...)
	}
	return out
}

func TestAStackTraceAfterEachShapeJoinsItsEntryAndOtherLinesStandAlone(t *testing.T) {
	in := "2026-12-01 20:31:01.726#+00#ERROR#L##anonymous#worker-1#Send failed\n" +
		"java.net.ConnectException: Connection refused\n" +
		"\tat a.b(C.java:1)\n" +
		"Caused by: java.io.IOException: peer closed\n" +
		"\t... 12 more\n" +
		"Heap dump written to /var/log/java_pid4711.hprof\n" +
		"2026-12-01T20:31:02Z ERROR [worker-2] com.sap.Foo - boom\n" +
		"at a.b(C.java:1)\n" +
		"Suppressed: java.lang.Exception: also\n" +
		"... 3 common frames omitted\n" +
		"a second line of the message\n" +
		"#2.0#2026 12 01 20:31:03:000#+0000#Info#L#C#T#A#done#\n" +
		"|\n"
	got, off, n := readAll(t, NewReader(KindTrace, strings.NewReader(in), 0, 0), true)
	require.Len(t, got, 5)
	assert.Equal(t, int64(len(in)), off)
	assert.Equal(t, 13, n)

	assert.Equal(t, 1, got[0].Line)
	assert.Equal(t, "ERROR", got[0].Level)
	assert.Equal(t, "Send failed\njava.net.ConnectException: Connection refused\n\tat a.b(C.java:1)\nCaused by: java.io.IOException: peer closed\n\t... 12 more", got[0].Message)

	assert.Equal(t, Entry{Line: 6, Text: "Heap dump written to /var/log/java_pid4711.hprof"}, got[1], "a line of no shape is a raw record of its own")

	assert.Equal(t, 7, got[2].Line)
	assert.Equal(t, "com.sap.Foo", got[2].Logger)
	assert.Equal(t, "boom\nat a.b(C.java:1)\nSuppressed: java.lang.Exception: also\n... 3 common frames omitted", got[2].Message)

	assert.Equal(t, Entry{Line: 11, Text: "a second line of the message"}, got[3], "not swallowed into the entry before it")

	assert.Equal(t, 12, got[4].Line)
	assert.Equal(t, "done", got[4].Message, "the closing | is no part of the message")
	assert.Equal(t, linesOf(in), recordLines(got), "every line once, in order")
}

func TestContinuationsAfterARawLineJoinIt(t *testing.T) {
	in := "OutOfMemory handler ran\njava.lang.OutOfMemoryError: Java heap space\n\tat a.b(C.java:1)\n2026-12-01 20:31:01.726#+00#INFO#L#t#m\n"
	got, _, _ := readAll(t, NewReader(KindTrace, strings.NewReader(in), 0, 0), true)
	require.Len(t, got, 2)
	assert.Equal(t, Entry{Line: 1, Text: "OutOfMemory handler ran\njava.lang.OutOfMemoryError: Java heap space\n\tat a.b(C.java:1)"}, got[0])
	assert.True(t, got[1].Parsed)
}

// traceFile writes n entries in the list-log form the tenant was measured writing, an ERROR with a
// stack trace every third, and returns the text and each entry's first line number and line count.
func traceFile(n int, line func(i int, stamp time.Time) string) (string, []int, []int) {
	var b strings.Builder
	var starts, sizes []int
	next := 1
	for i := range n {
		text := line(i, at.Add(time.Duration(i)*1500*time.Millisecond))
		starts, sizes = append(starts, next), append(sizes, strings.Count(text, "\n"))
		next += sizes[i]
		b.WriteString(text)
	}
	return b.String(), starts, sizes
}

func hashedLine(i int, ts time.Time) string {
	stamp := ts.Format("2006-01-02 15:04:05.000")
	if i%3 == 2 {
		return fmt.Sprintf("%s#+00#ERROR#com.sap.it.rt.adapter.http.HttpAdapter##anonymous#worker-%d#Message %d failed: Connection refused\n"+
			"java.net.ConnectException: Connection refused\n\tat java.base/sun.nio.ch.Net.connect0(Native Method)\n"+
			"\tat org.apache.camel.component.http.HttpProducer.process(HttpProducer.java:178)\nCaused by: java.io.IOException: peer closed\n\t... %d more\n", stamp, i%4, i, i%40)
	}
	return fmt.Sprintf("%s#+00#INFO#com.sap.it.op.agent.deploy##anonymous#worker-%d#Order #%d processed\n", stamp, i%4, i)
}

func TestFiveHundredMeasuredEntriesAreFiveHundredRecords(t *testing.T) {
	in, starts, sizes := traceFile(500, hashedLine)
	got, off, n := readAll(t, NewReader(KindTrace, strings.NewReader(in), 0, 0), true)
	require.Len(t, got, 500)
	assert.Equal(t, int64(len(in)), off)
	assert.Equal(t, len(linesOf(in)), n)
	assert.Equal(t, linesOf(in), recordLines(got), "lines in = lines out, none lost or doubled")
	for i, e := range got {
		assert.Equal(t, starts[i], e.Line, "record %d", i)
		assert.Len(t, strings.Split(e.Text, "\n"), sizes[i], "record %d holds its whole entry", i)
		assert.True(t, e.Parsed)
		assert.Equal(t, at.Add(time.Duration(i)*1500*time.Millisecond), e.Time)
		assert.NotContains(t, e.Text, "…[", "no entry comes near the size limit")
		if i%3 == 2 {
			assert.Equal(t, "ERROR", e.Level)
			assert.True(t, strings.HasPrefix(e.Message, fmt.Sprintf("Message %d failed: Connection refused\njava.net.ConnectException", i)), e.Message)
			assert.True(t, strings.HasSuffix(e.Message, fmt.Sprintf("\n\t... %d more", i%40)), e.Message)
		} else {
			assert.Equal(t, fmt.Sprintf("Order #%d processed", i), e.Message)
		}
	}
}

func TestAGrowingFileHoldsBackOnlyItsLastEntry(t *testing.T) {
	in, starts, _ := traceFile(500, hashedLine)
	got, off, n := readAll(t, NewReader(KindTrace, strings.NewReader(in), 0, 0), false)
	require.Len(t, got, 499, "the last entry may still get a stack trace")
	for _, e := range got {
		require.True(t, e.Parsed, "line %d", e.Line)
	}
	assert.Equal(t, starts[499]-1, n)
	assert.Equal(t, int64(strings.Index(in, at.Add(499*1500*time.Millisecond).Format("2006-01-02 15:04:05.000"))), off)

	tail, _, _ := readAll(t, NewReader(KindTrace, strings.NewReader(in[off:]), off, n), true)
	require.Len(t, tail, 1)
	assert.Equal(t, starts[499], tail[0].Line)
	assert.Equal(t, linesOf(in), recordLines(append(got, tail...)))
}

func mixedLine(i int, ts time.Time) string {
	var s string
	switch i % 4 {
	case 0:
		s = fmt.Sprintf("#2.0#%s:%03d#+0000#Error#com.sap.it.Foo#IFLMAP#Thread-%d#Order_In#Failed: boom#\njava.lang.RuntimeException: boom\n\tat a.b(C.java:1)\n",
			ts.Format("2006 01 02 15:04:05"), ts.Nanosecond()/1e6, i%16)
	case 1:
		s = hashedLine(2, ts)
	case 2:
		s = fmt.Sprintf("%s ERROR [worker-1] com.sap.it.Bar - failed\ncom.sap.it.BarException: x\n\tat c.d(E.java:2)\n", ts.Format("2006-01-02T15:04:05.000Z07:00"))
	default:
		s = fmt.Sprintf("%s [main] INFO  com.sap.it.Baz - ok\n", ts.Format("2006-01-02 15:04:05,000"))
	}
	if i%25 == 24 {
		s += "Heap dump written to /var/log/java_pid4711.hprof\n"
	}
	return s
}

func TestAMixedFileIsEveryEntryAndEveryStrayLineOnce(t *testing.T) {
	in, starts, _ := traceFile(500, mixedLine)
	got, off, _ := readAll(t, NewReader(KindTrace, strings.NewReader(in), 0, 0), true)
	assert.Equal(t, int64(len(in)), off)
	require.Len(t, got, 500+20, "500 entries and 20 stray lines")
	assert.Equal(t, linesOf(in), recordLines(got), "lines in = lines out, none lost or doubled")
	k := 0
	for i := range 500 {
		e := got[k]
		k++
		assert.Equal(t, starts[i], e.Line)
		assert.True(t, e.Parsed, "entry %d: %q", i, e.Text)
		if i%4 != 3 {
			assert.Equal(t, "ERROR", e.Level, "entry %d", i)
			assert.Contains(t, e.Message, "\tat ", "entry %d keeps its stack trace", i)
		}
		if i%25 == 24 {
			assert.Equal(t, Entry{Line: got[k-1].Line + len(strings.Split(got[k-1].Text, "\n")), Text: "Heap dump written to /var/log/java_pid4711.hprof"}, got[k])
			k++
		}
	}
}

func TestAConfiguredStartPatternReplacesTheTimestampRule(t *testing.T) {
	re, err := CompileLineStart(`^\[\d{4}-\d{2}-\d{2} `)
	require.NoError(t, err)
	in := "[2026-12-01 20:31:01] ERROR boom\n" +
		"java.net.ConnectException: refused\n" +
		"\tat a.b(C.java:1)\n" +
		"2026-12-01 20:31:02.000#+00#INFO#L#t#not a start under this pattern\n" +
		"[2026-12-01 20:31:03] INFO done\n"
	got, _, _ := readAll(t, NewReader(KindTrace, strings.NewReader(in), 0, 0, Options{LineStart: re}), true)
	require.Len(t, got, 3)
	assert.Equal(t, Entry{Line: 1, Text: "[2026-12-01 20:31:01] ERROR boom\njava.net.ConnectException: refused\n\tat a.b(C.java:1)"}, got[0],
		"a start in no known format: kept whole, raw")
	assert.Equal(t, Entry{Line: 4, Text: "2026-12-01 20:31:02.000#+00#INFO#L#t#not a start under this pattern"}, got[1], "a record of its own, raw")
	assert.Equal(t, 5, got[2].Line)

	// A matching line in a known format is parsed.
	re = regexp.MustCompile(`^\d{4}-`)
	got, _, _ = readAll(t, NewReader(KindTrace, strings.NewReader("2026-12-01 20:31:01.726#+00#WARN#L#worker-1#slow\n\tat a.b\n"), 0, 0, Options{LineStart: re}), true)
	require.Len(t, got, 1)
	assert.Equal(t, "WARN", got[0].Level)
	assert.Equal(t, "slow\n\tat a.b", got[0].Message)
}

func TestCompileLineStartSaysWhatIsWrong(t *testing.T) {
	re, err := CompileLineStart("")
	require.NoError(t, err)
	assert.Nil(t, re, "empty: the built-in rules")
	_, err = CompileLineStart(`^(\d{4}`)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a valid regular expression: ")
	assert.Contains(t, err.Error(), "missing closing )")
}
