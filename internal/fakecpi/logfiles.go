package fakecpi

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The simulated system log files: an HTTP access log (a line every 2 s) and a trace log (an entry every
// 5 s, every fourth an error with a stack trace) per LogRotate period of tenant time, starting two hours
// before Start. The newest file ends in a half-written line; the three newest files of each type are kept.

// TraceFormat is a line format of the simulated trace files (Options.TraceFormats).
type TraceFormat string

const (
	// TraceClassic is SAP's list log with its marker:
	// #2.0#2026 11 23 10:00:00:123#+0000#Info#com.sap.it.rt.scc.connectivity#IFLMAP#Thread-3#<flow>#message#
	// Every fourth entry is an ERROR followed by its stack trace.
	TraceClassic TraceFormat = "classic"
	// TraceHashed is the list log without the marker, as a tenant was measured writing it:
	// 2026-12-01 20:31:01.726#+00#WARN#com.sap.it.op.agent.deploy##anonymous#worker-1#message
	// Every fourth entry is an ERROR followed by its stack trace (exception header, frames, "Caused by:",
	// "... N more"); the INFO messages contain a "#".
	TraceHashed TraceFormat = "hashed"
	// TraceMixed writes its entries alternately in the TraceClassic and TraceHashed forms, and after
	// every 25th a line in no format ("Heap dump written to …") that stands for itself.
	TraceMixed TraceFormat = "mixed"
)

// ParseTraceFormats reads a comma list of trace formats, e.g. "classic,hashed,mixed".
func ParseTraceFormats(list string) ([]TraceFormat, error) {
	var out []TraceFormat
	for _, f := range strings.Split(list, ",") {
		switch tf := TraceFormat(strings.TrimSpace(f)); tf {
		case "":
		case TraceClassic, TraceHashed, TraceMixed:
			out = append(out, tf)
		default:
			return nil, fmt.Errorf("unknown trace format %q; use %s, %s or %s", f, TraceClassic, TraceHashed, TraceMixed)
		}
	}
	return out, nil
}

const (
	accessStep = 2 * time.Second
	traceStep  = 5 * time.Second
	keptFiles  = 3
)

type logFile struct {
	name, kind string
	format     TraceFormat // of a trace file
	from, to   time.Time
}

func (s *Server) logRotate() time.Duration {
	if s.opts.LogRotate > 0 {
		return s.opts.LogRotate
	}
	return time.Hour
}

func (s *Server) logFiles(now time.Time) []logFile {
	first := s.opts.Start.Add(-2 * time.Hour)
	rot := s.logRotate()
	formats := s.opts.TraceFormats
	if len(formats) == 0 {
		formats = []TraceFormat{TraceClassic}
	}
	var out []logFile
	for k, from := 0, first; !from.After(now); k, from = k+1, from.Add(rot) {
		stamp := from.UTC().Format("2006-01-02_15-04-05")
		out = append(out,
			logFile{name: "http_access_node0_" + stamp + ".log", kind: "http", from: from, to: from.Add(rot)},
			logFile{name: "ljs_trace_node0_" + stamp + ".log", kind: "trace", format: formats[k%len(formats)], from: from, to: from.Add(rot)})
	}
	if len(out) > 2*keptFiles {
		out = out[len(out)-2*keptFiles:]
	}
	return out
}

// content is the file's text at now, with a half-written last line while the file is current.
func (f logFile) content(now time.Time) []byte {
	var b bytes.Buffer
	step := accessStep
	if f.kind == "trace" {
		step = traceStep
	}
	i := 0
	var t time.Time
	for t = f.from; t.Before(f.to) && !t.After(now); t = t.Add(step) {
		b.WriteString(f.entry(t, i))
		i++
	}
	if now.Before(f.to) {
		next := f.entry(t, i)
		b.WriteString(next[:len(next)/2])
	}
	return b.Bytes()
}

// entry is the i-th line (with its stack trace, for a trace file) of the file, written at t.
func (f logFile) entry(t time.Time, i int) string {
	flow := landscape[i%len(landscape)]
	if f.kind == "http" {
		status := 200
		switch {
		case i%17 == 16:
			status = 500
		case i%11 == 10:
			status = 401
		}
		return fmt.Sprintf("10.20.%d.%d - %s [%s] \"POST /http/%s HTTP/1.1\" %d %d %d\n", i%5, i%200+1, "sb-client",
			t.UTC().Format("02/Jan/2006:15:04:05 -0700"), strings.ToLower(flow.id), status, 200+i%900, 5+i%300)
	}
	switch f.format {
	case TraceHashed:
		return hashedTrace(t, i, flow.id)
	case TraceMixed:
		s := classicTrace(t, i, flow.id)
		if i%2 == 1 {
			s = hashedTrace(t, i, flow.id)
		}
		if i%25 == 24 {
			s += fmt.Sprintf("Heap dump written to /usr/sap/ljs/heapdump_%d.hprof\n", i)
		}
		return s
	}
	return classicTrace(t, i, flow.id)
}

func classicTrace(t time.Time, i int, flow string) string {
	stamp := t.UTC().Format("2006 01 02 15:04:05") + fmt.Sprintf(":%03d", i%1000)
	if i%4 == 3 {
		return fmt.Sprintf("#2.0#%s#+0000#Error#com.sap.it.rt.adapter.http.HttpAdapter#IFLMAP#Thread-%d#%s#Message processing failed: Connection refused\n"+
			"java.net.ConnectException: Connection refused\n\tat java.base/sun.nio.ch.Net.connect0(Native Method)\n\tat org.apache.camel.component.http.HttpProducer.process(HttpProducer.java:178)\nCaused by: java.io.IOException: peer closed\n", stamp, i%16, flow)
	}
	return fmt.Sprintf("#2.0#%s#+0000#Info#com.sap.it.rt.scc.connectivity#IFLMAP#Thread-%d#%s#Route %s started processing#\n", stamp, i%16, flow, flow)
}

func hashedTrace(t time.Time, i int, flow string) string {
	stamp := t.UTC().Format("2006-01-02 15:04:05") + fmt.Sprintf(".%03d", i%1000)
	switch i % 4 {
	case 3:
		return fmt.Sprintf("%s#+00#ERROR#com.sap.it.rt.adapter.http.HttpAdapter##anonymous#worker-%d#Message processing failed for %s: Connection refused\n"+
			"java.net.ConnectException: Connection refused (Connection refused)\n\tat java.base/sun.nio.ch.Net.connect0(Native Method)\n"+
			"\tat org.apache.camel.component.http.HttpProducer.process(HttpProducer.java:178)\nCaused by: java.io.IOException: peer closed\n"+
			"\tat org.apache.http.impl.io.SessionInputBufferImpl.fillBuffer(SessionInputBufferImpl.java:161)\n\t... %d more\n", stamp, i%4, flow, 20+i%7)
	case 1:
		return fmt.Sprintf("%s#+00#WARN#com.sap.it.op.agent.deploy##anonymous#worker-%d#Deployment of %s took %d ms\n", stamp, i%4, flow, 900+i%500)
	}
	return fmt.Sprintf("%s#+00#INFO#com.sap.it.rt.scc.connectivity##anonymous#worker-%d#Route %s processed message #%d\n", stamp, i%4, flow, i)
}

func (s *Server) listLogFiles(base string, now time.Time) (int, []byte, string, bool) {
	var rows []map[string]any
	for _, f := range s.logFiles(now) {
		c := f.content(now)
		last := now
		if f.to.Before(now) {
			last = f.to
		}
		key := "Name='" + f.name + "',Application='iflmap'"
		rows = append(rows, map[string]any{
			"__metadata": map[string]any{"id": base + "LogFiles(" + key + ")", "uri": base + "LogFiles(" + key + ")", "type": "com.sap.hci.api.LogFile",
				"media_src": base + "LogFiles(" + key + ")/$value"},
			"Name": f.name, "Application": "iflmap", "LastModified": odataDate(last), "ContentType": "application/gzip",
			"LogFileType": f.kind, "NodeScope": "worker", "Size": fmt.Sprint(len(c)),
		})
	}
	return collection(rows)
}

// logFileValue serves LogFiles(Name='<name>',…)/$value; the caller has parsed the key predicate.
func (s *Server) logFileValue(name string, now time.Time) (int, []byte, string, bool) {
	for _, f := range s.logFiles(now) {
		if f.name != name {
			continue
		}
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write(f.content(now))
		_ = zw.Close()
		return http.StatusOK, b.Bytes(), "application/gzip", true
	}
	return http.StatusNotFound, odataError("Not Found", "Log file "+name+" not found"), "application/json", true
}

// LogFileText returns a simulated log file's content as the tenant serves it now ("" if unknown), for
// end-to-end checks.
func (s *Server) LogFileText(name string) string {
	s.mu.Lock()
	now := s.now()
	s.ensureStarted(now)
	s.mu.Unlock()
	for _, f := range s.logFiles(now) {
		if f.name == name {
			return string(f.content(now))
		}
	}
	return ""
}
