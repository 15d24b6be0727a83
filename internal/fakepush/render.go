package fakepush

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/push"
)

// event is one thing to push: a Run event or one of its sub-values.
type event struct {
	kind  push.Kind
	key   StateKey
	state *fakecpi.PushState
	obj   any
}

// runObject is the pushed MPL. SAP publishes no schema; this follows the OData entity's names, the
// assumption internal/push documents.
type runObject struct {
	MessageGuid                      string                     `json:"MessageGuid"`
	CorrelationId                    string                     `json:"CorrelationId,omitempty"`
	ApplicationMessageId             string                     `json:"ApplicationMessageId,omitempty"`
	ApplicationMessageType           string                     `json:"ApplicationMessageType,omitempty"`
	LogStart                         string                     `json:"LogStart,omitempty"`
	LogEnd                           string                     `json:"LogEnd,omitempty"`
	Sender                           string                     `json:"Sender,omitempty"`
	Receiver                         string                     `json:"Receiver,omitempty"`
	IntegrationFlowName              string                     `json:"IntegrationFlowName,omitempty"`
	Status                           string                     `json:"Status"`
	CustomStatus                     string                     `json:"CustomStatus,omitempty"`
	LogLevel                         string                     `json:"LogLevel,omitempty"`
	AlternateWebLink                 string                     `json:"AlternateWebLink,omitempty"`
	IntegrationArtifact              cpi.IntegrationArtifact    `json:"IntegrationArtifact"`
	ArchivingStatus                  string                     `json:"ArchivingStatus,omitempty"`
	ArchivingSenderChannelMessages   bool                       `json:"ArchivingSenderChannelMessages"`
	ArchivingReceiverChannelMessages bool                       `json:"ArchivingReceiverChannelMessages"`
	ArchivingLogAttachments          bool                       `json:"ArchivingLogAttachments"`
	ArchivingPersistedMessages       bool                       `json:"ArchivingPersistedMessages"`
	TransactionId                    string                     `json:"TransactionId,omitempty"`
	PreviousComponentName            string                     `json:"PreviousComponentName,omitempty"`
	LocalComponentName               string                     `json:"LocalComponentName,omitempty"`
	OriginComponentName              string                     `json:"OriginComponentName,omitempty"`
	CustomHeaderProperties           []cpi.CustomHeaderProperty `json:"CustomHeaderProperties,omitempty"`
	AdapterAttributes                []fakecpi.AdapterAttribute `json:"AdapterAttributes,omitempty"`
}

type headerObject struct {
	MessageGuid string `json:"MessageGuid"`
	Name        string `json:"Name"`
	Value       string `json:"Value"`
}

type adapterObject struct {
	MessageGuid string `json:"MessageGuid"`
	fakecpi.AdapterAttribute
}

// events turns a window's states into the events SAP would send: each Run event, followed by its
// sub-values when SubValuesExtra is on.
func (p *Pusher) events(states []fakecpi.PushState) ([]event, error) {
	var out []event
	for i := range states {
		st := &states[i]
		var m cpi.MessageProcessingLog
		if err := json.Unmarshal(st.Entity, &m); err != nil {
			return nil, fmt.Errorf("fakepush: the simulator's entry for %s: %w", st.MessageGuid, err)
		}
		key := StateKey{MessageGuid: st.MessageGuid, Status: st.Status, LogEnd: st.LogEnd}
		run := &runObject{
			MessageGuid: m.MessageGuid, CorrelationId: m.CorrelationId,
			ApplicationMessageId: m.ApplicationMessageId, ApplicationMessageType: m.ApplicationMessageType,
			LogStart: p.date(m.LogStart), LogEnd: p.date(m.LogEnd), Sender: m.Sender, Receiver: m.Receiver,
			IntegrationFlowName: m.IntegrationFlowName, Status: m.Status, CustomStatus: m.CustomStatus,
			LogLevel: m.LogLevel, AlternateWebLink: m.AlternateWebLink, IntegrationArtifact: m.IntegrationArtifact,
			ArchivingStatus:                  m.ArchivingStatus,
			ArchivingSenderChannelMessages:   bool(m.ArchivingSenderChannelMessages),
			ArchivingReceiverChannelMessages: bool(m.ArchivingReceiverChannelMessages),
			ArchivingLogAttachments:          bool(m.ArchivingLogAttachments),
			ArchivingPersistedMessages:       bool(m.ArchivingPersistedMessages),
			TransactionId:                    m.TransactionId, PreviousComponentName: m.PreviousComponentName,
			LocalComponentName: m.LocalComponentName, OriginComponentName: m.OriginComponentName,
		}
		if p.opts.SubValuesInline {
			run.CustomHeaderProperties = m.CustomHeaderProperties
			run.AdapterAttributes = st.AdapterAttributes
		}
		out = append(out, event{kind: push.KindRun, key: key, state: st, obj: run})
		if !p.opts.SubValuesExtra {
			continue
		}
		for _, h := range m.CustomHeaderProperties {
			out = append(out, event{kind: push.KindCustomHeader, key: key, state: st,
				obj: headerObject{MessageGuid: m.MessageGuid, Name: h.Name, Value: h.Value}})
		}
		for _, a := range st.AdapterAttributes {
			out = append(out, event{kind: push.KindAdapterAttribute, key: key, state: st,
				obj: adapterObject{MessageGuid: m.MessageGuid, AdapterAttribute: a}})
		}
	}
	return out, nil
}

func (p *Pusher) date(t cpi.Time) string {
	if t.IsZero() {
		return ""
	}
	return p.dates.Format(t.Time)
}

// body renders one batch for the target, uncompressed.
func (p *Pusher) body(batch []event) ([]byte, error) {
	switch p.opts.Target {
	case TargetOTEL:
		return p.otlpBody(batch)
	case TargetSplunk:
		return p.hecBody(batch)
	}
	return p.jsonBody(batch)
}

// jsonBody follows JSONBatchType and JSONFormatting.
func (p *Pusher) jsonBody(batch []event) ([]byte, error) {
	objs := make([]any, len(batch))
	for i, ev := range batch {
		objs[i] = ev.obj
	}
	switch p.opts.JSONBatchType {
	case "array":
		return p.format(objs)
	case "sequence":
		var buf bytes.Buffer
		for i, o := range objs {
			b, err := p.format(o)
			if err != nil {
				return nil, err
			}
			if i > 0 {
				buf.WriteString(p.opts.JSONSequenceDelimiter)
			}
			buf.Write(b)
		}
		return buf.Bytes(), nil
	}
	return p.format(objs[0])
}

// format writes JSON as JSONFormatting says: pretty indents by two spaces; standard and compact are
// both one line here, since the encoder already escapes the newlines compact would strip.
func (p *Pusher) format(v any) ([]byte, error) {
	if p.opts.JSONFormatting == "pretty" {
		return marshal(v, "  ")
	}
	return marshal(v, "")
}

func marshal(v any, indent string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if indent != "" {
		enc.SetIndent("", indent)
	}
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

type hecEnvelope struct {
	Time       json.Number `json:"time"`
	Host       string      `json:"host,omitempty"`
	Source     string      `json:"source,omitempty"`
	SourceType string      `json:"sourcetype,omitempty"`
	Index      string      `json:"index,omitempty"`
	Event      any         `json:"event"`
}

// hecBody stacks one HEC envelope per event, as HEC's batch protocol allows.
func (p *Pusher) hecBody(batch []event) ([]byte, error) {
	var buf bytes.Buffer
	for _, ev := range batch {
		st := p.opts.SourceType
		if p.opts.DynamicSourceType {
			st = p.opts.SourceTypePrefix + string(ev.kind)
		}
		ms := ev.key.LogEnd.UnixMilli()
		env := hecEnvelope{
			Time: json.Number(strconv.FormatInt(ms/1000, 10) + "." + fmt.Sprintf("%03d", ms%1000)),
			Host: p.opts.Host, Source: p.opts.Source, SourceType: st, Index: p.opts.IndexName, Event: ev.obj,
		}
		b, err := marshal(env, "")
		if err != nil {
			return nil, err
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}

// otlpBody is one resourceLogs with SAP's resource and scope; every event is a record whose body is
// its JSON as a string, timed at the processing stop and observed when it became visible.
func (p *Pusher) otlpBody(batch []event) ([]byte, error) {
	logs := plog.NewLogs()
	rl := logs.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", p.opts.OTELServiceName)
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName(p.opts.OTELScopeName)
	sl.Scope().SetVersion(p.opts.OTELScopeVersion)
	records := sl.LogRecords()
	for _, ev := range batch {
		b, err := marshal(ev.obj, "")
		if err != nil {
			return nil, err
		}
		lr := records.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(ev.key.LogEnd))
		lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(ev.state.VisibleAt))
		lr.SetSeverityNumber(severity(ev.key.Status))
		lr.Body().SetStr(string(b))
	}
	return plogotlp.NewExportRequestFromLogs(logs).MarshalJSON()
}

// severity is what SAP documents: ERROR for failed, aborted, cancelled and escalated messages.
func severity(status string) plog.SeverityNumber {
	switch status {
	case cpi.StatusFailed, cpi.StatusAbandoned, cpi.StatusCancelled, cpi.StatusEscalated:
		return plog.SeverityNumberError
	}
	return plog.SeverityNumberInfo
}
