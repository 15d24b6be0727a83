package logfile

import (
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// SAP documents the LogFiles entity (names, types, gzip downloads) but not the lines inside a trace
// file. What follows is what tenants have been seen to write, and what we assume where nobody says:
//
//   - SAP's list-log format with its version marker, every field in place:
//     #2.0#2026 11 23 10:00:00:123#+0000#Error#com.sap.it.Foo#IFLMAP#Thread-12#Order_In#message
//     (time with the milliseconds after a colon, zone, level, logger, component, thread, application,
//     message).
//   - The same list-log fields without the marker, as a tenant was measured writing them:
//     2026-12-01 20:31:01.726#+00#WARN#com.sap.it.op.agent.deploy##anonymous#worker-1#message
//     (time, zone, level, logger, then fields whose number varies between tenants and that we do not
//     interpret, then the thread or node and the message). Older samples date it "2026 12 01 20:31:01".
//   - Plain timestamped lines as ISO-8601 or logback/log4j write them:
//     2026-12-01T20:31:01.726Z …, 2026-12-01 20:31:01,726 ERROR [worker-1] com.sap.Foo - message.
//
// A line that begins with one of these timestamps starts an entry. Stack-trace lines after it join it;
// any other line is a record of its own. A timestamp without a zone is taken as UTC, the zone CPI's
// runtime writes ("+00", "+0000") everywhere we have seen one.

// traceStart marks the first line of an entry in the list-log format with its version marker.
const traceStart = "#2.0#"

// knownLevels are the levels the mapping turns into a severity, written in upper case. Tenants write
// SAP's own (Info, Warning, Error, Fatal, Debug, Path, All) in any case; logback and log4j write theirs
// (TRACE … ERROR) in upper case. A level outside this list is kept as written.
var knownLevels = map[string]bool{"FATAL": true, "ERROR": true, "WARN": true, "WARNING": true, "INFO": true,
	"DEBUG": true, "PATH": true, "TRACE": true, "ALL": true}

func normLevel(s string) string {
	s = strings.TrimSpace(s)
	if u := strings.ToUpper(s); knownLevels[u] {
		return u
	}
	return s
}

// ParseTrace parses one trace entry: its first line in one of the formats above, continuation lines
// (stack traces) appended by the Reader. An entry whose first line fits no format is returned raw
// (Parsed false).
func ParseTrace(text string, n int) Entry {
	e := Entry{Line: n, Text: text}
	first, rest, multi := strings.Cut(text, "\n")
	var ok bool
	if strings.HasPrefix(first, traceStart) {
		ok = parseListLog(&e, first[len(traceStart):])
	} else {
		ok = parseTimestamped(&e, first)
	}
	if !ok {
		return Entry{Line: n, Text: text}
	}
	e.Parsed = true
	// Neo-era list logs close a multi-line entry with a line holding only "|"; it stays in Text but is
	// no part of the message.
	if rest = strings.TrimSuffix(rest, "\n|"); multi && rest != "|" {
		e.Message += "\n" + rest
	}
	return e
}

// parseListLog reads the fields after "#2.0#".
func parseListLog(e *Entry, s string) bool {
	f := strings.SplitN(s, "#", 8)
	if len(f) < 8 {
		return false
	}
	t, n, ok := leadingTimestamp(f[0])
	if !ok || n != len(f[0]) {
		return false
	}
	off, ok := parseZone(f[1])
	if !ok {
		return false
	}
	e.Time = t.Add(-off)
	e.Level, e.Logger, e.Thread, e.Application = normLevel(f[2]), f[3], f[5], f[6]
	e.Message = strings.TrimSuffix(f[7], "#")
	return true
}

// startsTrace reports whether a line begins a trace entry by the built-in rule: the list-log marker,
// or a timestamp in one of the formats above at the very start of the line.
func startsTrace(line string) bool {
	if strings.HasPrefix(line, traceStart) {
		return true
	}
	_, _, ok := splitTimestamp(line)
	return ok
}

// parseTimestamped reads a line that begins with a timestamp: the "#"-separated list-log fields if a
// "#" follows it, else the words of an ISO-8601 or logback/log4j line.
func parseTimestamped(e *Entry, line string) bool {
	t, rest, ok := splitTimestamp(line)
	if !ok {
		return false
	}
	e.Time = t
	if strings.HasPrefix(rest, "#") {
		parseHashFields(e, rest[1:])
	} else {
		parseWords(e, rest)
	}
	return true
}

// splitTimestamp reads the timestamp a line begins with and the zone that may follow it (attached, as
// in ISO-8601, or after one space), and returns the time in UTC and the rest of the line. What follows
// must be the end, a blank or a "#": "2026-12-01 20:31:01abc" is no timestamp.
func splitTimestamp(line string) (time.Time, string, bool) {
	t, n, ok := leadingTimestamp(line)
	if !ok {
		return time.Time{}, "", false
	}
	rest := line[n:]
	if off, m := attachedZone(rest); m > 0 {
		t, rest = t.Add(-off), rest[m:]
	} else if strings.HasPrefix(rest, " ") {
		tok, _, _ := strings.Cut(rest[1:], " ")
		if off, ok := parseZone(tok); ok {
			t, rest = t.Add(-off), rest[1+len(tok):]
		}
	}
	if rest != "" && rest[0] != ' ' && rest[0] != '\t' && rest[0] != '#' {
		return time.Time{}, "", false
	}
	return t, rest, true
}

// leadingTimestamp reads "2026-12-01 20:31:01", "2026-12-01T20:31:01" or "2026 12 01 20:31:01" with an
// optional fraction of up to nine digits after ".", "," or ":" (SAP's list log uses the colon), and
// returns the time (UTC, no zone applied) and the bytes read.
func leadingTimestamp(s string) (time.Time, int, bool) {
	if len(s) < 19 || s[13] != ':' || s[16] != ':' {
		return time.Time{}, 0, false
	}
	switch {
	case s[4] == '-' && s[7] == '-' && (s[10] == ' ' || s[10] == 'T'):
	case s[4] == ' ' && s[7] == ' ' && s[10] == ' ':
	default:
		return time.Time{}, 0, false
	}
	var v [6]int
	for i, at := range [6]int{0, 5, 8, 11, 14, 17} {
		w := 2
		if i == 0 {
			w = 4
		}
		x, ok := digits(s[at : at+w])
		if !ok {
			return time.Time{}, 0, false
		}
		v[i] = x
	}
	n, nsec := 19, 0
	if n+1 < len(s) && strings.IndexByte(".,:", s[n]) >= 0 && isDigit(s[n+1]) {
		j := n + 1
		for j < len(s) && j-n-1 < 9 && isDigit(s[j]) {
			j++
		}
		frac, _ := digits(s[n+1 : j])
		for range 9 - (j - n - 1) {
			frac *= 10
		}
		n, nsec = j, frac
	}
	if n < len(s) && isDigit(s[n]) {
		return time.Time{}, 0, false
	}
	t := time.Date(v[0], time.Month(v[1]), v[2], v[3], v[4], v[5], nsec, time.UTC)
	// time.Date normalises 2026-02-30 into March; such a line is no timestamp.
	if t.Year() != v[0] || int(t.Month()) != v[1] || t.Day() != v[2] || t.Hour() != v[3] || t.Minute() != v[4] || t.Second() != v[5] {
		return time.Time{}, 0, false
	}
	return t, n, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func digits(s string) (int, bool) {
	x := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		x = x*10 + int(s[i]-'0')
	}
	return x, s != ""
}

// parseZone reads a zone field: "Z", "UTC", "GMT", "+00", "+0000" or "+00:00" (either sign), and returns
// its offset east of UTC.
func parseZone(s string) (time.Duration, bool) {
	switch s {
	case "Z", "UTC", "GMT":
		return 0, true
	}
	if len(s) < 3 || (s[0] != '+' && s[0] != '-') {
		return 0, false
	}
	h, ok := digits(s[1:3])
	if !ok || h > 23 {
		return 0, false
	}
	m := 0
	switch rest := s[3:]; {
	case rest == "":
	case len(rest) == 2, len(rest) == 3 && rest[0] == ':':
		if m, ok = digits(rest[len(rest)-2:]); !ok || m > 59 {
			return 0, false
		}
	default:
		return 0, false
	}
	off := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute
	if s[0] == '-' {
		off = -off
	}
	return off, true
}

// attachedZone reads a zone written right after the time, ISO-8601 style ("Z", "+01:00", "+0100",
// "+01"), and returns its offset and length (0 if there is none).
func attachedZone(s string) (time.Duration, int) {
	if s == "" {
		return 0, 0
	}
	if s[0] == 'Z' {
		return 0, 1
	}
	if s[0] != '+' && s[0] != '-' {
		return 0, 0
	}
	for _, n := range []int{6, 5, 3} {
		if len(s) < n || (len(s) > n && isDigit(s[n])) {
			continue
		}
		if off, ok := parseZone(s[:n]); ok {
			return off, n
		}
	}
	return 0, 0
}

// parseHashFields reads what follows "<time>#": zone, level, logger, fields we do not interpret,
// thread, message. Without the marker the number of fields is not fixed, and a message may itself
// contain "#" ("Order #12 failed"), so the message is taken to begin at the first field after the
// logger (and one field for the thread) that contains a blank, or else to be the last field. That
// keeps a "#" in a message; it misplaces the thread when an uninterpreted field holds a blank or the
// message holds a "#" but no blank before it.
func parseHashFields(e *Entry, s string) {
	// A list log may close its fields with "#", as the #2.0# form does.
	f := strings.Split(strings.TrimSuffix(s, "#"), "#")
	i := 0
	if off, ok := parseZone(f[0]); ok {
		e.Time, i = e.Time.Add(-off), 1
	} else if f[0] == "" {
		i = 1 // an empty zone field: UTC, as assumed above
	}
	if i < len(f) {
		e.Level = normLevel(f[i])
	}
	if i+1 < len(f) {
		e.Logger = f[i+1]
	}
	rem := f[min(i+2, len(f)):]
	switch len(rem) {
	case 0:
	case 1:
		e.Message = rem[0]
	default:
		m := len(rem) - 1
		for j := 1; j < len(rem)-1; j++ {
			if strings.ContainsAny(rem[j], " \t") {
				m = j
				break
			}
		}
		// "na" is what the list log writes for a value it does not have.
		if th := rem[m-1]; th != "na" {
			e.Thread = th
		}
		e.Message = strings.Join(rem[m:], "#")
	}
}

// loggerThenMessage is "com.sap.Foo - message" (logback's and log4j's default layouts), "c.s.Foo   :
// message" (Spring Boot) or "com.sap.Foo: message".
var loggerThenMessage = regexp.MustCompile(`^(?:([A-Za-z_$][\w$.]*(?:\[[^\]]*\])?)[ \t]+[-:]|([A-Za-z_$][\w$]*(?:\.[\w$]+)+):)(?:[ \t]|$)`)

// parseWords reads an ISO-8601 or logback/log4j line after its timestamp: a level and a "[thread]" in
// either order (log4j writes "ERROR [worker-1]", logback "[worker-1] ERROR"; Spring Boot adds its process
// id and "---"), then a logger ahead of " - " or " : ", then the message. Only an upper-case known level
// is taken as one, so that a message that begins "Error connecting …" stays whole; and a logger is only
// looked for after a level or thread, where the layout makes one likely.
func parseWords(e *Entry, s string) {
	rest := strings.TrimLeft(s, " \t")
	structured := false
	for range 6 {
		if strings.HasPrefix(rest, "[") {
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				break
			}
			in := strings.TrimSpace(rest[1:end])
			if e.Level == "" && knownLevels[in] {
				e.Level = in
			} else {
				e.Thread = in // the last bracket before the logger: Spring Boot writes "[app] [thread]"
			}
			rest, structured = strings.TrimLeft(rest[end+1:], " \t"), true
			continue
		}
		word, after, _ := strings.Cut(rest, " ")
		if e.Level == "" && knownLevels[word] {
			e.Level, rest, structured = word, strings.TrimLeft(after, " \t"), true
			continue
		}
		if _, isPid := digits(word); isPid && e.Level != "" && strings.HasPrefix(strings.TrimLeft(after, " "), "--- ") {
			rest = strings.TrimLeft(strings.TrimLeft(after, " ")[4:], " \t")
			continue
		}
		break
	}
	if structured {
		if m := loggerThenMessage.FindStringSubmatchIndex(rest); m != nil {
			if m[2] >= 0 {
				e.Logger = rest[m[2]:m[3]]
			} else {
				e.Logger = rest[m[4]:m[5]]
			}
			rest = strings.TrimLeft(rest[m[1]:], " \t")
		}
	}
	e.Message = rest
}

// continuesEntry reports whether a trace line belongs to the record before it by its shape: indented
// (stack frames "\tat …", "\t... 3 more", wrapped message lines), blank, a frame or chain line written
// without indent ("at …", "Caused by:", "Suppressed:", "... 3 more"), the "|" that closes a Neo-era
// list-log entry, or an exception header ("java.net.ConnectException: refused", a dotted class name
// ending in Exception, Error or Throwable, then ":" or the end of the line) as a logger prints it right
// after the entry's message.
func continuesEntry(line string) bool {
	if line == "" || line[0] == ' ' || line[0] == '\t' || line == "|" {
		return true
	}
	for _, p := range []string{"at ", "Caused by:", "Suppressed:"} {
		if strings.HasPrefix(line, p) {
			return true
		}
	}
	return framesOmitted.MatchString(line) || exceptionHeader.MatchString(line)
}

var (
	framesOmitted   = regexp.MustCompile(`^\.\.\. \d+ (?:more|common frames omitted)`)
	exceptionHeader = regexp.MustCompile(`^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*\.[\w$]*(?:Exception|Error|Throwable)(?::|$)`)
)

// cutText shortens s to at most n bytes without splitting a UTF-8 sequence.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
