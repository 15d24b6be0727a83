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
	logs, sl, ok := m.eventScope(EventMessage, len(mpls))
	if !ok {
		return logs
	}
	records := sl.LogRecords()
	records.EnsureCapacity(len(mpls))
	obs := pcommon.NewTimestampFromTime(observed)
	texts := messageTexts(mpls, details)
	for i := range mpls {
		var d ErrorDetail
		if i < len(details) {
			d = details[i]
		}
		m.message(records.AppendEmpty(), &mpls[i], d, obs, texts.of(i))
	}
	return logs
}

// pageTexts are the strings the mapping writes itself (the two instants and the body) for a whole page,
// in one block: a thousand records a page would otherwise cost three small allocations each.
type pageTexts struct {
	all  string
	ends []int32 // per record: end of start, end of end, end of body
}

type recordTexts struct{ start, end, body string }

func messageTexts(mpls []cpi.MessageProcessingLog, details []ErrorDetail) pageTexts {
	size := 0
	for i := range mpls {
		// Two instants, the body's fixed parts and its name, status and at most 200 bytes of error text.
		size += 2*24 + 32 + max(len(mpls[i].IntegrationArtifact.Name), len(mpls[i].IntegrationFlowName)) + len(mpls[i].Status)
		if i < len(details) {
			size += min(len(details[i].Text), 210)
		}
	}
	buf := make([]byte, 0, size)
	ends := make([]int32, 0, 3*len(mpls))
	for i := range mpls {
		mpl := &mpls[i]
		var errText string
		if i < len(details) {
			errText = details[i].Text
		}
		buf = appendInstant(buf, mpl.LogStart.Time)
		ends = append(ends, int32(len(buf)))
		buf = appendInstant(buf, mpl.LogEnd.Time)
		ends = append(ends, int32(len(buf)))
		buf = appendMessageBody(buf, mpl, iflowID(mpl), messageDuration(mpl), errText)
		ends = append(ends, int32(len(buf)))
	}
	return pageTexts{all: string(buf), ends: ends}
}

// textsOf writes the texts of a single record, for the paths that map one message at a time (spans,
// pushed messages).
func textsOf(mpl *cpi.MessageProcessingLog, d ErrorDetail) recordTexts {
	return messageTexts([]cpi.MessageProcessingLog{*mpl}, []ErrorDetail{d}).of(0)
}

func (p pageTexts) of(i int) recordTexts {
	from := int32(0)
	if i > 0 {
		from = p.ends[3*i-1]
	}
	e := p.ends[3*i : 3*i+3]
	return recordTexts{start: p.all[from:e[0]], end: p.all[e[0]:e[1]], body: p.all[e[1]:e[2]]}
}

// eventScope starts the records of one event kind: new logs and, when the event is switched on and
// there are n > 0 things to map, the tenant's resource and this receiver's scope in them (ok false
// otherwise, with the logs empty).
func (m *Mapper) eventScope(event string, n int) (plog.Logs, plog.ScopeLogs, bool) {
	logs := plog.NewLogs()
	if n == 0 || !m.Enabled(event) {
		return logs, plog.ScopeLogs{}, false
	}
	sl, ok := m.appendScope(logs)
	return logs, sl, ok
}

// appendEvent begins a record of event in sl, at ts and observed at obs.
func appendEvent(sl plog.ScopeLogs, event string, ts, obs pcommon.Timestamp) plog.LogRecord {
	lr := sl.LogRecords().AppendEmpty()
	lr.SetEventName(event)
	lr.SetTimestamp(ts)
	lr.SetObservedTimestamp(obs)
	return lr
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

func (m *Mapper) message(lr plog.LogRecord, mpl *cpi.MessageProcessingLog, d ErrorDetail, observed pcommon.Timestamp, texts recordTexts) {
	lr.SetEventName(EventMessage)
	lr.SetTimestamp(pcommon.NewTimestampFromTime(mpl.LogEnd.Time))
	lr.SetObservedTimestamp(observed)
	sev, sevText := MessageSeverity(mpl.Status)
	lr.SetSeverityNumber(sev)
	lr.SetSeverityText(sevText)
	lr.SetTraceID(TraceID(mpl.CorrelationId, mpl.MessageGuid))
	lr.SetSpanID(SpanID(mpl.MessageGuid))

	art := &mpl.IntegrationArtifact
	flow := iflowID(mpl)
	duration := messageDuration(mpl)

	// The attribute slice is sized once, to what this record carries.
	n := countSet(mpl.MessageGuid, mpl.Status, mpl.CustomStatus, flow, art.Name, art.Type, art.PackageId,
		art.PackageName, texts.start, texts.end, mpl.CorrelationId, mpl.ApplicationMessageId,
		mpl.ApplicationMessageType, mpl.Sender, mpl.Receiver, mpl.LogLevel, mpl.TransactionId,
		mpl.AlternateWebLink, mpl.ArchivingStatus, mpl.LocalComponentName, mpl.OriginComponentName,
		mpl.PreviousComponentName)
	if duration >= 0 {
		n++
	}
	if d.Text != "" {
		n += 2
	}
	headers := m.CustomHeader != nil && len(mpl.CustomHeaderProperties) > 0
	if headers {
		n++
	}
	attrs := lr.Attributes()
	attrs.EnsureCapacity(n)
	putStr(attrs, AttrMessageID, mpl.MessageGuid)
	putStr(attrs, AttrMessageStatus, mpl.Status)
	putStr(attrs, AttrMessageCustomStatus, mpl.CustomStatus)
	putStr(attrs, AttrIFlowID, flow)
	putStr(attrs, AttrIFlowName, art.Name)
	putStr(attrs, AttrIFlowType, art.Type)
	putStr(attrs, AttrPackageID, art.PackageId)
	putStr(attrs, AttrPackageName, art.PackageName)
	putStr(attrs, AttrMessageStart, texts.start)
	putStr(attrs, AttrMessageEnd, texts.end)
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
	if headers {
		putCustomHeaders(attrs, mpl.CustomHeaderProperties, m.CustomHeader)
	}
	lr.Body().SetStr(texts.body)
}

// iflowID is the artifact id; IntegrationFlowName is deprecated but still filled by tenants whose
// artifact is not resolvable.
func iflowID(mpl *cpi.MessageProcessingLog) string {
	if mpl.IntegrationArtifact.Id != "" {
		return mpl.IntegrationArtifact.Id
	}
	return mpl.IntegrationFlowName
}

func countSet(values ...string) int {
	n := 0
	for _, v := range values {
		if v != "" {
			n++
		}
	}
	return n
}

func putStr(attrs pcommon.Map, key, value string) {
	if value != "" {
		attrs.PutStr(key, value)
	}
}

func putTime(attrs pcommon.Map, key string, t time.Time) {
	if !t.IsZero() {
		var buf [32]byte
		attrs.PutStr(key, string(appendInstant(buf[:0], t)))
	}
}

// appendInstant writes t in UTC as 2006-01-02T15:04:05.000Z (milliseconds cut, not rounded, as
// time.Format does), nothing for the zero time. It is written out by hand: the layout interpreter of
// time.AppendFormat cost more than the rest of a record's attributes together.
func appendInstant(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return dst
	}
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, "2006-01-02T15:04:05.000Z")
	}
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	return append(dst,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-', byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':', byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
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

// appendMessageBody writes one human line: "Replicate Purchase Order: FAILED after 1.754s — Connection refused".
func appendMessageBody(b []byte, mpl *cpi.MessageProcessingLog, iflowID string, duration time.Duration, errText string) []byte {
	switch {
	case mpl.IntegrationArtifact.Name != "":
		b = append(b, mpl.IntegrationArtifact.Name...)
	case iflowID != "":
		b = append(b, iflowID...)
	default:
		b = append(append(b, "message "...), mpl.MessageGuid...)
	}
	b = append(b, ": "...)
	b = append(b, mpl.Status...)
	if duration >= 0 {
		b = append(b, " after "...)
		b = strconv.AppendFloat(b, duration.Seconds(), 'f', 3, 64)
		b = append(b, 's')
	}
	if first := firstLine(errText); first != "" {
		b = append(b, " — "...)
		b = append(b, first...)
	}
	return b
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
