// Package logfile reads the lines of CPI system log files (LogFiles $value) into entries: HTTP access
// lines into their fields, trace lines into time, level, logger, thread and message with multi-line
// stack traces joined to the entry they belong to. A line that fits no format is kept raw, never dropped.
package logfile

import (
	"bufio"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Kinds of log file, as LogFileType spells them.
const (
	KindHTTP  = "http"
	KindTrace = "trace"
)

// Entry is one log record's worth of text.
type Entry struct {
	// Line is the 1-based line number of the entry's first line in the file.
	Line int
	// Text is the raw text, continuation lines included (joined with \n).
	Text   string
	Parsed bool
	Time   time.Time
	// HTTP access fields.
	Client, User, Method, Path, Protocol string
	Status                               int
	Bytes, DurationMs                    int64
	// Trace fields.
	Level, Logger, Thread, Application, Message string
}

// accessLine is the NCSA common log format the tenant's HTTP access log uses, with the response time in
// milliseconds appended: 10.0.0.1 - user [23/Nov/2026:10:00:00 +0000] "GET /path HTTP/1.1" 200 512 35
var accessLine = regexp.MustCompile(`^(\S+) \S+ (\S+) \[([^\]]+)\] "(\S+) (\S+) ?([^"]*)" (\d{3}) (\d+|-)(?: (\d+))?`)

// ParseAccess parses one HTTP access line; a line that does not fit is returned raw (Parsed false).
func ParseAccess(line string, n int) Entry {
	e := Entry{Line: n, Text: line}
	m := accessLine.FindStringSubmatch(line)
	if m == nil {
		return e
	}
	t, err := time.Parse("02/Jan/2006:15:04:05 -0700", m[3])
	if err != nil {
		return e
	}
	status, _ := strconv.Atoi(m[7])
	e.Parsed, e.Time = true, t.UTC()
	e.Client, e.Method, e.Path, e.Protocol, e.Status = m[1], m[4], m[5], strings.TrimSpace(m[6]), status
	if m[2] != "-" {
		e.User = m[2]
	}
	if m[8] != "-" {
		e.Bytes, _ = strconv.ParseInt(m[8], 10, 64)
	}
	if m[9] != "" {
		e.DurationMs, _ = strconv.ParseInt(m[9], 10, 64)
	}
	return e
}

// traceStart marks the first line of an entry in SAP's "#2.0#" Java trace format:
// #2.0#2026 11 23 10:00:00:123#+0000#Error#com.sap.it.Foo#component#Thread-12#application#message
const traceStart = "#2.0#"

// ParseTrace parses one trace entry (its first line, continuation lines appended by the Reader).
func ParseTrace(text string, n int) Entry {
	e := Entry{Line: n, Text: text}
	first, rest, _ := strings.Cut(text, "\n")
	if !strings.HasPrefix(first, traceStart) {
		return e
	}
	f := strings.SplitN(first[len(traceStart):], "#", 8)
	if len(f) < 8 {
		return e
	}
	// The milliseconds follow a colon ("10:00:01:250"), which Go's layouts cannot express.
	stamp := f[0]
	if i := strings.LastIndexByte(stamp, ':'); i > 0 && strings.Count(stamp, ":") == 3 {
		stamp = stamp[:i] + "." + stamp[i+1:]
	}
	t, err := time.Parse("2006 01 02 15:04:05.000 -0700", stamp+" "+f[1])
	if err != nil {
		return e
	}
	e.Parsed, e.Time = true, t.UTC()
	e.Level, e.Logger, e.Thread, e.Application = strings.ToUpper(f[2]), f[3], f[5], f[6]
	e.Message = strings.TrimSuffix(f[7], "#")
	if rest != "" {
		e.Message += "\n" + rest
	}
	return e
}

// Reader yields the entries of a log file stream. For trace files, lines that do not start a new entry
// (stack trace frames, "Caused by:") belong to the entry before them; an entry is complete when the
// next one starts, or at the end of a file that no longer grows.
type Reader struct {
	kind    string
	r       *bufio.Reader
	line    int
	offset  int64
	pending *pendingEntry
	// MaxEntry caps one entry's text; longer text is cut and ends with a marker.
	MaxEntry int
}

type pendingEntry struct {
	line     int
	lastLine int
	text     strings.Builder
	end      int64 // file offset after the entry's last complete line
}

// NewReader reads from r, which is positioned at byte offset of the file, line lines in.
func NewReader(kind string, r io.Reader, offset int64, line int) *Reader {
	return &Reader{kind: kind, r: bufio.NewReaderSize(r, 64<<10), offset: offset, line: line, MaxEntry: 64 << 10}
}

// ErrNoEntry is returned by Next when no complete entry remains.
var ErrNoEntry = errors.New("no complete entry")

// Next returns the next complete entry and the file offset and line count right after it. final says
// the file no longer grows, so a pending trace entry and a last line without newline are complete.
func (rd *Reader) Next(final bool) (Entry, int64, int, error) {
	for {
		raw, err := rd.r.ReadString('\n')
		complete := strings.HasSuffix(raw, "\n")
		if raw != "" && (complete || final) {
			rd.line++
			rd.offset += int64(len(raw))
			text := strings.TrimRight(raw, "\r\n")
			if rd.kind != KindTrace {
				return ParseAccess(text, rd.line), rd.offset, rd.line, nil
			}
			if strings.HasPrefix(text, traceStart) || rd.pending == nil {
				prev := rd.pending
				rd.pending = &pendingEntry{line: rd.line, lastLine: rd.line}
				rd.pending.text.WriteString(text)
				rd.pending.end = rd.offset
				if prev != nil {
					return rd.finish(prev), prev.end, prev.lastLine, nil
				}
				continue
			}
			if rd.pending.text.Len() < rd.MaxEntry {
				rd.pending.text.WriteByte('\n')
				rd.pending.text.WriteString(text)
			}
			rd.pending.end, rd.pending.lastLine = rd.offset, rd.line
			continue
		}
		if err != nil && err != io.EOF {
			return Entry{}, 0, 0, err
		}
		// End of what the file holds now; a partial last line is left for the next read.
		if final && rd.pending != nil {
			p := rd.pending
			rd.pending = nil
			return rd.finish(p), p.end, p.lastLine, nil
		}
		return Entry{}, 0, 0, ErrNoEntry
	}
}

func (rd *Reader) finish(p *pendingEntry) Entry {
	text := p.text.String()
	if len(text) >= rd.MaxEntry {
		text = text[:rd.MaxEntry] + "\n…[truncated]"
	}
	return ParseTrace(text, p.line)
}
