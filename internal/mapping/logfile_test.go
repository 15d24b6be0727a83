package mapping

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sapcpi-otel/sapcpireceiver/internal/logfile"
)

func TestLogFileEntriesMapToTheGoldenRecords(t *testing.T) {
	access := []logfile.Entry{
		logfile.ParseAccess(`10.20.1.2 - sb-client [23/Nov/2026:10:00:00 +0000] "POST /http/orders HTTP/1.1" 500 1234 87`, 1),
		logfile.ParseAccess(`not an access line`, 2),
	}
	trace := []logfile.Entry{
		logfile.ParseTrace("#2.0#2026 11 23 10:00:01:250#+0000#Error#com.sap.it.Foo#IFLMAP#Thread-3#Order_In#Failed: boom\njava.lang.RuntimeException: boom\n\tat a.b(C.java:1)", 10),
	}
	m := testMapper(nil)
	got := m.LogFileEntries(LogFile{Name: "http_access_node0_2026-11-23.log", Application: "iflmap", Type: logfile.KindHTTP}, access, observed)
	m.LogFileEntries(LogFile{Name: "ljs_trace_node0_2026-11-23.log", Application: "iflmap", Type: logfile.KindTrace}, trace, observed).
		ResourceLogs().MoveAndAppendTo(got.ResourceLogs())
	compareGolden(t, "log-files.yaml", got)
}

func TestAnUnknownTraceLevelKeepsItsText(t *testing.T) {
	e := logfile.ParseTrace("2026-12-01 20:31:01.726#+00#Notice#com.sap.it.Foo#worker-1#hello", 1)
	lr := testMapper(nil).LogFileEntries(LogFile{Name: "ljs_trace_node0.log", Type: logfile.KindTrace}, []logfile.Entry{e}, observed).
		ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	assert.Equal(t, "Notice", lr.SeverityText())
	assert.Equal(t, plog.SeverityNumberUnspecified, lr.SeverityNumber())
	assert.Equal(t, "hello", lr.Body().Str())
}
