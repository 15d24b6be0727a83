package mapping

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sapcpi-otel/sapcpireceiver/internal/logfile"
)

// EventLogFile is the event.name of a log file line.
const EventLogFile = "sap.cpi.log_file"

// Attribute names of sap.cpi.log_file records; HTTP fields follow the OpenTelemetry semantic conventions.
const (
	AttrLogFileName        = "sap.cpi.log_file.name"
	AttrLogFileType        = "sap.cpi.log_file.type"
	AttrLogFileApplication = "sap.cpi.log_file.application"
	AttrLogFileLine        = "sap.cpi.log_file.line"
	AttrLogFileParsed      = "sap.cpi.log_file.parsed"
	AttrHTTPMethod         = "http.request.method"
	AttrURLPath            = "url.path"
	AttrHTTPStatus         = "http.response.status_code"
	AttrHTTPBodySize       = "http.response.body.size"
	AttrClientAddress      = "client.address"
	AttrNetworkProtocol    = "network.protocol.version"
	AttrUserName           = "user.name"
	AttrLogFileDurationMs  = "sap.cpi.log_file.duration_ms"
	AttrLogger             = "sap.cpi.log_file.logger"
	AttrThread             = "thread.name"
	AttrTraceApplication   = "sap.cpi.log_file.component"
)

// LogFileAttributes lists every attribute a sap.cpi.log_file record can carry (metadata.yaml must agree).
var LogFileAttributes = []string{AttrLogFileName, AttrLogFileType, AttrLogFileApplication, AttrLogFileLine, AttrLogFileParsed,
	AttrHTTPMethod, AttrURLPath, AttrHTTPStatus, AttrHTTPBodySize, AttrClientAddress, AttrNetworkProtocol, AttrUserName,
	AttrLogFileDurationMs, AttrLogger, AttrThread, AttrTraceApplication}

// LogFile names the file entries come from.
type LogFile struct {
	Name, Application, Type string
}

// LogFileEntries maps entries of one file to records. An unparsed entry keeps its raw text as the body.
func (m *Mapper) LogFileEntries(f LogFile, entries []logfile.Entry, observed time.Time) plog.Logs {
	logs, sl, ok := m.eventScope(EventLogFile, len(entries))
	if !ok {
		return logs
	}
	obs := pcommon.NewTimestampFromTime(observed)
	lrs := sl.LogRecords()
	lrs.EnsureCapacity(len(entries))
	for _, e := range entries {
		lr := lrs.AppendEmpty()
		lr.SetEventName(EventLogFile)
		lr.SetObservedTimestamp(obs)
		if !e.Time.IsZero() {
			lr.SetTimestamp(pcommon.NewTimestampFromTime(e.Time))
		}
		a := lr.Attributes()
		a.PutStr(AttrLogFileName, f.Name)
		a.PutStr(AttrLogFileType, f.Type)
		putStr(a, AttrLogFileApplication, f.Application)
		a.PutInt(AttrLogFileLine, int64(e.Line))
		a.PutBool(AttrLogFileParsed, e.Parsed)
		switch {
		case !e.Parsed:
			lr.Body().SetStr(e.Text)
		case f.Type == logfile.KindHTTP:
			putStr(a, AttrHTTPMethod, e.Method)
			putStr(a, AttrURLPath, e.Path)
			a.PutInt(AttrHTTPStatus, int64(e.Status))
			a.PutInt(AttrHTTPBodySize, e.Bytes)
			putStr(a, AttrClientAddress, e.Client)
			putStr(a, AttrNetworkProtocol, e.Protocol)
			putStr(a, AttrUserName, e.User)
			if e.DurationMs > 0 {
				a.PutInt(AttrLogFileDurationMs, e.DurationMs)
			}
			sev := plog.SeverityNumberInfo
			switch {
			case e.Status >= 500:
				sev = plog.SeverityNumberError
			case e.Status >= 400:
				sev = plog.SeverityNumberWarn
			}
			lr.SetSeverityNumber(sev)
			lr.SetSeverityText(severityText(sev))
			lr.Body().SetStr(e.Text)
		default:
			putStr(a, AttrLogger, e.Logger)
			putStr(a, AttrThread, e.Thread)
			putStr(a, AttrTraceApplication, e.Application)
			sev, text := traceSeverity(e.Level)
			lr.SetSeverityNumber(sev)
			lr.SetSeverityText(text)
			lr.Body().SetStr(e.Message)
		}
	}
	return logs
}

func traceSeverity(level string) (plog.SeverityNumber, string) {
	switch level {
	case "FATAL":
		return plog.SeverityNumberFatal, "FATAL"
	case "ERROR":
		return plog.SeverityNumberError, "ERROR"
	case "WARNING", "WARN":
		return plog.SeverityNumberWarn, "WARN"
	case "DEBUG", "PATH":
		return plog.SeverityNumberDebug, "DEBUG"
	case "ALL", "TRACE":
		return plog.SeverityNumberTrace, "TRACE"
	case "INFO", "":
		return plog.SeverityNumberInfo, "INFO"
	}
	// A level we cannot place keeps its text; its number stays unspecified rather than guessed.
	return plog.SeverityNumberUnspecified, level
}
