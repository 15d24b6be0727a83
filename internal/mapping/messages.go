// Package mapping turns CPI entities into OpenTelemetry data. It knows pdata and the entity types of
// internal/cpi, and nothing about HTTP or scheduling. Every OpenTelemetry name the receiver emits for a
// CPI field is written here, once; metadata.yaml declares them and a test keeps the two in step.
package mapping

import (
	"crypto/sha256"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
)

// Resource attribute names.
const (
	AttrTenantURL  = "sap.cpi.tenant.url"
	AttrTenantName = "sap.cpi.tenant.name"
)

// EventMessage is the event.name of an MPL record.
const EventMessage = "sap.cpi.message"

// Attribute names of sap.cpi.message records.
const (
	AttrIFlowID                = "sap.cpi.iflow.id"
	AttrIFlowName              = "sap.cpi.iflow.name"
	AttrIFlowType              = "sap.cpi.iflow.type"
	AttrPackageID              = "sap.cpi.package.id"
	AttrPackageName            = "sap.cpi.package.name"
	AttrMessageID              = "sap.cpi.message.id"
	AttrMessageStatus          = "sap.cpi.message.status"
	AttrMessageCustomStatus    = "sap.cpi.message.custom_status"
	AttrMessageStart           = "sap.cpi.message.start"
	AttrMessageEnd             = "sap.cpi.message.end"
	AttrMessageDurationMs      = "sap.cpi.message.duration_ms"
	AttrMessageCorrelationID   = "sap.cpi.message.correlation_id"
	AttrMessageApplicationID   = "sap.cpi.message.application_id"
	AttrMessageApplicationType = "sap.cpi.message.application_type"
	AttrMessageSender          = "sap.cpi.message.sender"
	AttrMessageReceiver        = "sap.cpi.message.receiver"
	AttrMessageLogLevel        = "sap.cpi.message.log_level"
	AttrMessageTransactionID   = "sap.cpi.message.transaction_id"
	AttrMessageWebLink         = "sap.cpi.message.web_link"
	AttrMessageArchivingStatus = "sap.cpi.message.archiving_status"
	AttrMessageLocalComponent  = "sap.cpi.message.local_component"
	AttrMessageOriginComponent = "sap.cpi.message.origin_component"
	AttrMessagePrevComponent   = "sap.cpi.message.previous_component"
	AttrMessageErrorText       = "sap.cpi.message.error_text"
	AttrMessageErrorTruncated  = "sap.cpi.message.error_text_truncated"
	AttrMessageCustomHeaders   = "sap.cpi.message.custom_headers"
)

// MessageAttributes lists every attribute a sap.cpi.message record can carry (metadata.yaml must agree).
var MessageAttributes = []string{
	AttrIFlowID, AttrIFlowName, AttrIFlowType, AttrPackageID, AttrPackageName,
	AttrMessageID, AttrMessageStatus, AttrMessageCustomStatus, AttrMessageStart, AttrMessageEnd,
	AttrMessageDurationMs, AttrMessageCorrelationID, AttrMessageApplicationID, AttrMessageApplicationType,
	AttrMessageSender, AttrMessageReceiver, AttrMessageLogLevel, AttrMessageTransactionID, AttrMessageWebLink,
	AttrMessageArchivingStatus, AttrMessageLocalComponent, AttrMessageOriginComponent, AttrMessagePrevComponent,
	AttrMessageErrorText, AttrMessageErrorTruncated, AttrMessageCustomHeaders,
}

// Tenant identifies the tenant on every resource.
type Tenant struct {
	URL  string
	Name string
}

// Scope is the instrumentation scope written on every batch.
type Scope struct {
	Name, Version string
}

// ErrorDetail is the error text fetched for one MPL, if any.
type ErrorDetail struct {
	Text      string
	Truncated bool
}

// Mapper builds log records for one tenant. The zero switches emit everything.
type Mapper struct {
	Tenant Tenant
	Scope  Scope
	// CustomHeader reports whether a custom header property may be emitted; nil emits none.
	CustomHeader func(name string) bool

	events   map[string]bool
	resource map[string]resourceSwitch
	// filtered: some resource attribute has an events_include or events_exclude filter.
	filtered bool
}

// NewMapper returns a mapper for the tenant that honours the user's event and resource-attribute switches.
func NewMapper(t Tenant, s Scope, sw Switches) *Mapper {
	m := &Mapper{Tenant: t, Scope: s}
	m.events, m.resource = sw.tables()
	for _, r := range m.resource {
		m.filtered = m.filtered || r.include != nil || r.exclude != nil
	}
	return m
}

// Messages maps MPLs (with the error details at the same index, or nil) to one resource's log records.
// observed is the ObservedTimestamp of every record.
func (m *Mapper) Messages(mpls []cpi.MessageProcessingLog, details []ErrorDetail, observed time.Time) plog.Logs {
	logs := plog.NewLogs()
	if !m.Enabled(EventMessage) {
		return logs
	}
	sl, ok := m.appendScope(logs)
	if !ok {
		return logs
	}
	records := sl.LogRecords()
	records.EnsureCapacity(len(mpls))
	obs := pcommon.NewTimestampFromTime(observed)
	for i := range mpls {
		var d ErrorDetail
		if i < len(details) {
			d = details[i]
		}
		m.message(records.AppendEmpty(), &mpls[i], d, obs)
	}
	return logs
}

// appendScope appends a resource that names the tenant and, inside it, this receiver's scope: every log
// record the mapper emits sits under such a pair. extra adds attributes that identify an object (the
// inventory's). It reports false, and appends nothing, when the resource filters exclude the resource.
func (m *Mapper) appendScope(logs plog.Logs, extra ...Field) (plog.ScopeLogs, bool) {
	res := pcommon.NewResource()
	attrs := res.Attributes()
	attrs.EnsureCapacity(2 + len(extra))
	m.putResource(attrs, AttrTenantURL, m.Tenant.URL)
	m.putResource(attrs, AttrTenantName, m.Tenant.Name)
	for _, f := range extra {
		m.putResourceField(attrs, f)
	}
	if !m.resourceAllowed(res) {
		return plog.ScopeLogs{}, false
	}
	rl := logs.ResourceLogs().AppendEmpty()
	res.MoveTo(rl.Resource())
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName(m.Scope.Name)
	sl.Scope().SetVersion(m.Scope.Version)
	return sl, true
}

func (m *Mapper) message(lr plog.LogRecord, mpl *cpi.MessageProcessingLog, d ErrorDetail, observed pcommon.Timestamp) {
	lr.SetEventName(EventMessage)
	lr.SetTimestamp(pcommon.NewTimestampFromTime(mpl.LogEnd.Time))
	lr.SetObservedTimestamp(observed)
	sev, sevText := MessageSeverity(mpl.Status)
	lr.SetSeverityNumber(sev)
	lr.SetSeverityText(sevText)
	lr.SetTraceID(TraceID(mpl.CorrelationId, mpl.MessageGuid))
	lr.SetSpanID(SpanID(mpl.MessageGuid))

	art := &mpl.IntegrationArtifact
	iflowID := art.Id
	if iflowID == "" {
		// IntegrationFlowName is deprecated but still filled by tenants whose artifact is not resolvable.
		iflowID = mpl.IntegrationFlowName
	}
	duration := messageDuration(mpl)

	attrs := lr.Attributes()
	attrs.EnsureCapacity(26)
	putStr(attrs, AttrMessageID, mpl.MessageGuid)
	putStr(attrs, AttrMessageStatus, mpl.Status)
	putStr(attrs, AttrMessageCustomStatus, mpl.CustomStatus)
	putStr(attrs, AttrIFlowID, iflowID)
	putStr(attrs, AttrIFlowName, art.Name)
	putStr(attrs, AttrIFlowType, art.Type)
	putStr(attrs, AttrPackageID, art.PackageId)
	putStr(attrs, AttrPackageName, art.PackageName)
	putTime(attrs, AttrMessageStart, mpl.LogStart.Time)
	putTime(attrs, AttrMessageEnd, mpl.LogEnd.Time)
	if duration >= 0 {
		attrs.PutInt(AttrMessageDurationMs, duration.Milliseconds())
	}
	putStr(attrs, AttrMessageCorrelationID, mpl.CorrelationId)
	putStr(attrs, AttrMessageApplicationID, mpl.ApplicationMessageId)
	putStr(attrs, AttrMessageApplicationType, mpl.ApplicationMessageType)
	putStr(attrs, AttrMessageSender, mpl.Sender)
	putStr(attrs, AttrMessageReceiver, mpl.Receiver)
	putStr(attrs, AttrMessageLogLevel, mpl.LogLevel)
	putStr(attrs, AttrMessageTransactionID, mpl.TransactionId)
	putStr(attrs, AttrMessageWebLink, mpl.AlternateWebLink)
	putStr(attrs, AttrMessageArchivingStatus, mpl.ArchivingStatus)
	putStr(attrs, AttrMessageLocalComponent, mpl.LocalComponentName)
	putStr(attrs, AttrMessageOriginComponent, mpl.OriginComponentName)
	putStr(attrs, AttrMessagePrevComponent, mpl.PreviousComponentName)
	if d.Text != "" {
		attrs.PutStr(AttrMessageErrorText, d.Text)
		attrs.PutBool(AttrMessageErrorTruncated, d.Truncated)
	}
	if m.CustomHeader != nil && len(mpl.CustomHeaderProperties) > 0 {
		putCustomHeaders(attrs, mpl.CustomHeaderProperties, m.CustomHeader)
	}
	lr.Body().SetStr(messageBody(mpl, iflowID, duration, d.Text))
}

func putStr(attrs pcommon.Map, key, value string) {
	if value != "" {
		attrs.PutStr(key, value)
	}
}

func putTime(attrs pcommon.Map, key string, t time.Time) {
	if !t.IsZero() {
		var buf [32]byte
		attrs.PutStr(key, string(t.UTC().AppendFormat(buf[:0], "2006-01-02T15:04:05.000Z")))
	}
}

func putCustomHeaders(attrs pcommon.Map, props cpi.CustomHeaderProperties, allowed func(string) bool) {
	var headers pcommon.Map
	for _, p := range props {
		if !allowed(p.Name) {
			continue
		}
		if headers == (pcommon.Map{}) {
			headers = attrs.PutEmptyMap(AttrMessageCustomHeaders)
		}
		if prev, ok := headers.Get(p.Name); ok {
			prev.SetStr(prev.Str() + ", " + p.Value)
			continue
		}
		headers.PutStr(p.Name, p.Value)
	}
}

// messageDuration is LogEnd−LogStart, or −1 when either is missing or they are out of order.
func messageDuration(mpl *cpi.MessageProcessingLog) time.Duration {
	if mpl.LogStart.IsZero() || mpl.LogEnd.IsZero() || mpl.LogEnd.Before(mpl.LogStart.Time) {
		return -1
	}
	return mpl.LogEnd.Sub(mpl.LogStart.Time)
}

// MessageDuration exposes the duration rule for the metrics, so logs and metrics agree.
func MessageDuration(mpl *cpi.MessageProcessingLog) (time.Duration, bool) {
	d := messageDuration(mpl)
	return d, d >= 0
}

// messageBody is one human line: "Replicate Purchase Order: FAILED after 1.754s — Connection refused".
func messageBody(mpl *cpi.MessageProcessingLog, iflowID string, duration time.Duration, errText string) string {
	var b strings.Builder
	name := mpl.IntegrationArtifact.Name
	if name == "" {
		name = iflowID
	}
	if name == "" {
		name = "message " + mpl.MessageGuid
	}
	first := firstLine(errText)
	b.Grow(len(name) + len(mpl.Status) + len(first) + 32)
	b.WriteString(name)
	b.WriteString(": ")
	b.WriteString(mpl.Status)
	if duration >= 0 {
		var num [24]byte
		b.WriteString(" after ")
		b.Write(strconv.AppendFloat(num[:0], duration.Seconds(), 'f', 3, 64))
		b.WriteByte('s')
	}
	if first != "" {
		b.WriteString(" — ")
		b.WriteString(first)
	}
	return b.String()
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	const maxLen = 200
	if len(s) > maxLen {
		s = s[:maxLen] + "…"
	}
	return s
}

// MessageSeverity maps an MPL status to a log severity: failures are errors, states that need a look
// (retrying, abandoned, cancelled) are warnings, the rest information.
func MessageSeverity(status string) (plog.SeverityNumber, string) {
	switch status {
	case cpi.StatusFailed, cpi.StatusEscalated:
		return plog.SeverityNumberError, "ERROR"
	case cpi.StatusRetry, cpi.StatusAbandoned, cpi.StatusCancelled:
		return plog.SeverityNumberWarn, "WARN"
	case cpi.StatusCompleted, cpi.StatusProcessing, cpi.StatusDiscarded:
		return plog.SeverityNumberInfo, "INFO"
	}
	// An unknown status is surfaced rather than hidden: it may be a new failure state.
	return plog.SeverityNumberWarn, "WARN"
}

// TraceID derives a trace id from the correlation id (or the message id when there is none), so all
// messages of one correlation share a trace in any backend.
func TraceID(correlationID, messageGUID string) pcommon.TraceID {
	key := correlationID
	if key == "" {
		key = messageGUID
	}
	sum := hashWithPrefix("sap.cpi.correlation/", key)
	var id pcommon.TraceID
	copy(id[:], sum[:16])
	return id
}

// SpanID derives a span id from the message id: one span per message, whatever its state.
func SpanID(messageGUID string) pcommon.SpanID {
	sum := hashWithPrefix("sap.cpi.message/", messageGUID)
	var id pcommon.SpanID
	copy(id[:], sum[:8])
	return id
}

// hashWithPrefix hashes prefix+key without building the string on the heap (it runs twice per record).
func hashWithPrefix(prefix, key string) [sha256.Size]byte {
	var buf [96]byte
	return sha256.Sum256(append(append(buf[:0], prefix...), key...))
}
