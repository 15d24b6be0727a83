package mapping

import (
	"slices"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/push"
)

// Attributes only a pushed MPL state carries; everything else is named as for a pulled one.
const (
	AttrMessageAdapterAttributes = "sap.cpi.message.adapter_attributes"
	AttrPushFormat               = "sap.cpi.push.format"
	AttrPushUnknownFields        = "sap.cpi.push.unknown_fields"
	AttrPushRaw                  = "sap.cpi.push.raw"
)

// PushedAttributes are the attributes of sap.cpi.message records that only the push path writes.
var PushedAttributes = []string{AttrMessageAdapterAttributes, AttrPushFormat, AttrPushUnknownFields, AttrPushRaw}

// EventMessageSubValues is the event.name of the sub-values SAP pushed apart from their message.
const EventMessageSubValues = "sap.cpi.message.sub_values"

// SubValuesAttributes are the attributes of sap.cpi.message.sub_values records.
var SubValuesAttributes = []string{AttrMessageID, AttrMessageCustomHeaders, AttrMessageAdapterAttributes, AttrPushFormat}

// PushedSubValues are the custom headers and adapter attributes of one stand-alone sub-value event
// whose Run event came in another request.
type PushedSubValues struct {
	MessageGuid       string
	Format            string
	CustomHeaders     cpi.CustomHeaderProperties
	AdapterAttributes []push.AdapterAttribute
	// Time is the transport's timestamp; zero when it has none.
	Time time.Time
}

// PushedSubValues maps sub-value events to sap.cpi.message.sub_values records, one per event. Custom
// headers pass the same allow-list as a message's; an event left with nothing to say gives no record.
func (m *Mapper) PushedSubValues(subs []PushedSubValues, observed time.Time) plog.Logs {
	logs, sl, ok := m.eventScope(EventMessageSubValues, len(subs))
	if !ok {
		return logs
	}
	obs := pcommon.NewTimestampFromTime(observed)
	for i := range subs {
		sv := &subs[i]
		headers := m.CustomHeader != nil && slices.ContainsFunc(sv.CustomHeaders, func(h cpi.CustomHeaderProperty) bool { return m.CustomHeader(h.Name) })
		if !headers && len(sv.AdapterAttributes) == 0 {
			continue
		}
		lr := sl.LogRecords().AppendEmpty()
		lr.SetEventName(EventMessageSubValues)
		lr.SetObservedTimestamp(obs)
		if !sv.Time.IsZero() {
			lr.SetTimestamp(pcommon.NewTimestampFromTime(sv.Time))
		} else {
			lr.SetTimestamp(obs)
		}
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.SetSeverityText("INFO")
		attrs := lr.Attributes()
		attrs.PutStr(AttrMessageID, sv.MessageGuid)
		attrs.PutStr(AttrPushFormat, sv.Format)
		if headers {
			putCustomHeaders(attrs, sv.CustomHeaders, m.CustomHeader)
		}
		putAdapterAttributes(attrs, sv.AdapterAttributes)
	}
	return logs
}

// putAdapterAttributes writes adapter attributes as a map keyed <AdapterId>.<Name> (the name alone
// without an adapter id).
func putAdapterAttributes(attrs pcommon.Map, list []push.AdapterAttribute) {
	if len(list) == 0 {
		return
	}
	aa := attrs.PutEmptyMap(AttrMessageAdapterAttributes)
	for _, a := range list {
		key := a.Name
		if a.AdapterId != "" {
			key = a.AdapterId + "." + a.Name
		}
		aa.PutStr(key, a.Value)
	}
}

// PushedMessage is an MPL state SAP pushed, with what the pull path does not have.
type PushedMessage struct {
	MPL    cpi.MessageProcessingLog
	Detail ErrorDetail
	// Format is the push target that sent it: otlp, json or splunk_hec.
	Format            string
	AdapterAttributes []push.AdapterAttribute
	// Unknown are the keys the receiver did not recognise, as configured to keep them (nil: none).
	Unknown map[string]any
	// Raw is the event's own JSON, when configured to keep it.
	Raw []byte
}

// Pushed maps pushed MPL states to sap.cpi.message records with exactly the attributes of a pulled
// state, plus the push format, the adapter attributes and, as configured, the unrecognised keys and the
// raw event.
func (m *Mapper) Pushed(msgs []PushedMessage, observed time.Time) plog.Logs {
	logs, sl, ok := m.eventScope(EventMessage, len(msgs))
	if !ok {
		return logs
	}
	records := sl.LogRecords()
	records.EnsureCapacity(len(msgs))
	obs := pcommon.NewTimestampFromTime(observed)
	for i := range msgs {
		p := &msgs[i]
		lr := records.AppendEmpty()
		m.message(lr, &p.MPL, p.Detail, obs, textsOf(&p.MPL, p.Detail))
		attrs := lr.Attributes()
		attrs.PutStr(AttrPushFormat, p.Format)
		putAdapterAttributes(attrs, p.AdapterAttributes)
		if len(p.Unknown) > 0 {
			_ = attrs.PutEmptyMap(AttrPushUnknownFields).FromRaw(p.Unknown)
		}
		if len(p.Raw) > 0 {
			attrs.PutStr(AttrPushRaw, string(p.Raw))
		}
	}
	return logs
}
