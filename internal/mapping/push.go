package mapping

import (
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
	logs := plog.NewLogs()
	if !m.Enabled(EventMessage) || len(msgs) == 0 {
		return logs
	}
	sl, ok := m.appendScope(logs)
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
		if len(p.AdapterAttributes) > 0 {
			aa := attrs.PutEmptyMap(AttrMessageAdapterAttributes)
			for _, a := range p.AdapterAttributes {
				key := a.Name
				if a.AdapterId != "" {
					key = a.AdapterId + "." + a.Name
				}
				aa.PutStr(key, a.Value)
			}
		}
		if len(p.Unknown) > 0 {
			_ = attrs.PutEmptyMap(AttrPushUnknownFields).FromRaw(p.Unknown)
		}
		if len(p.Raw) > 0 {
			attrs.PutStr(AttrPushRaw, string(p.Raw))
		}
	}
	return logs
}
