// Package logfile reads the lines of CPI system log files (LogFiles $value) into entries: HTTP access
// lines into their fields, trace lines into time, level, logger, thread and message with multi-line
// stack traces joined to the entry they belong to. A line that fits no format is kept raw, never dropped.
package logfile

import (
	"bufio"
	"errors"
	"fmt"
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

// Options tune how a trace file is cut into entries. The zero value uses the built-in rules.
type Options struct {
	// LineStart, when set, replaces the built-in timestamp detection: a trace line it matches starts an
	// entry (parsed as far as one of the known formats fits). It may match anywhere in the line, so
	// anchor it with ^. Stack-trace lines still join the entry before them and any other line is still
	// a record of its own. Access logs ignore it.
	LineStart *regexp.Regexp
}

// CompileLineStart compiles the configured line start pattern; "" means the built-in rules (nil).
func CompileLineStart(pattern string) (*regexp.Regexp, error) {
	if pattern == "" {
		return nil, nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("not a valid regular expression: %w", err)
	}
	return re, nil
}

// Reader yields the entries of a log file stream. For trace files a line that starts an entry (a
// leading timestamp in a format ParseTrace knows, or Options.LineStart) begins a new record, a line
// shaped like part of a stack trace joins the record before it, and any other line is a record of its
// own. A record is complete when the next one begins, or at the end of a file that no longer grows.
//
// A record never grows past MaxEntry: the continuation line that would pass it begins the next record,
// and the cut record ends with a marker. So no line is ever dropped, and a file still being written
// holds back at most MaxEntry bytes of complete lines, however its entries are shaped. Where a record
// is cut depends only on the lines since the last record boundary, so reading a file in one go or
// resuming at a returned offset yields the same records.
type Reader struct {
	kind      string
	r         *bufio.Reader
	line      int
	offset    int64
	lineStart *regexp.Regexp
	pending   *pendingEntry
	// MaxEntry caps one record's text in bytes (0: no cap); see Reader.
	MaxEntry int
}

type pendingEntry struct {
	line     int
	lastLine int
	text     strings.Builder
	end      int64 // file offset after the record's last complete line
	start    bool  // it begins with an entry start; else it is a raw line and its continuations
	cut      bool  // the next line would have passed MaxEntry and begins the next record
}

// Markers of a record cut at MaxEntry.
const (
	cutMarker     = "\n…[entry cut at its size limit; it continues in the next record]"
	cutLineMarker = "…[line cut at the entry size limit]"
)

// NewReader reads from r, which is positioned at byte offset of the file, line lines in. opts, at
// most one, tune trace files.
func NewReader(kind string, r io.Reader, offset int64, line int, opts ...Options) *Reader {
	rd := &Reader{kind: kind, r: bufio.NewReaderSize(r, 64<<10), offset: offset, line: line, MaxEntry: 64 << 10}
	if len(opts) > 0 {
		rd.lineStart = opts[0].LineStart
	}
	return rd
}

// ErrNoEntry is returned by Next when no complete entry remains.
var ErrNoEntry = errors.New("no complete entry")

// Next returns the next complete entry and the file offset and line count right after it. final says
// the file no longer grows, so a pending trace entry and a last line without newline are complete.
func (rd *Reader) Next(final bool) (Entry, int64, int, error) {
	for {
		raw, err := rd.r.ReadString('\n')
		complete := strings.HasSuffix(raw, "\n")
		// Without its newline a line is whole only at the real end of a final file: a download cut
		// off mid-line (a reset, a truncated gzip stream) leaves it for the retry, from its offset.
		if raw != "" && (complete || (final && err == io.EOF)) {
			rd.line++
			rd.offset += int64(len(raw))
			text := strings.TrimRight(raw, "\r\n")
			if rd.kind != KindTrace {
				return ParseAccess(text, rd.line), rd.offset, rd.line, nil
			}
			if done := rd.add(text); done != nil {
				return rd.finish(done), done.end, done.lastLine, nil
			}
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

// add takes one trace line and returns the record it completes, if any.
func (rd *Reader) add(text string) *pendingEntry {
	var start bool
	if rd.lineStart != nil {
		start = rd.lineStart.MatchString(text)
	} else {
		start = startsTrace(text)
	}
	p := rd.pending
	if p != nil && !start && continuesEntry(text) {
		if rd.MaxEntry <= 0 || p.text.Len()+1+len(text) <= rd.MaxEntry {
			p.text.WriteByte('\n')
			p.text.WriteString(text)
			p.end, p.lastLine = rd.offset, rd.line
			return nil
		}
		p.cut = true
	}
	n := &pendingEntry{line: rd.line, lastLine: rd.line, end: rd.offset, start: start}
	if rd.MaxEntry > 0 && len(text) > rd.MaxEntry {
		// One line alone is longer than a record may be: it is the only place bytes are given up.
		text = cutText(text, rd.MaxEntry) + cutLineMarker
	}
	n.text.WriteString(text)
	rd.pending = n
	return p
}

func (rd *Reader) finish(p *pendingEntry) Entry {
	text := p.text.String()
	if p.cut {
		text += cutMarker
	}
	if !p.start {
		return Entry{Line: p.line, Text: text}
	}
	return ParseTrace(text, p.line)
}
