package mapping

import (
	"encoding/base64"
	"fmt"
	"mime"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
)

// Payloads are opt-in: they can hold personal data. Each becomes one record that shares the message's
// trace and span ids, so a backend shows it next to the message's own record.

// EventMessagePayload is the event.name of a payload record.
const EventMessagePayload = "sap.cpi.message.payload"

// Attribute names of payload records.
const (
	AttrPayloadKind        = "sap.cpi.payload.kind"
	AttrPayloadEntryID     = "sap.cpi.payload.entry_id"
	AttrPayloadName        = "sap.cpi.payload.name"
	AttrPayloadContentType = "sap.cpi.payload.content_type"
	AttrPayloadSize        = "sap.cpi.payload.size"
	AttrPayloadTruncated   = "sap.cpi.payload.truncated"
	AttrPayloadEncoding    = "sap.cpi.payload.encoding"
)

// PayloadAttributes lists every attribute a sap.cpi.message.payload record can carry.
var PayloadAttributes = []string{AttrMessageID, AttrIFlowID, AttrPayloadKind, AttrPayloadEntryID, AttrPayloadName, AttrPayloadContentType,
	AttrPayloadSize, AttrPayloadTruncated, AttrPayloadEncoding}

// Values of sap.cpi.payload.kind.
const (
	PayloadMessageStore = "message_store"
	PayloadAttachment   = "attachment"
)

// Values of sap.cpi.payload.encoding.
const (
	EncodingText    = "text"
	EncodingBase64  = "base64"
	EncodingOmitted = "omitted"
)

// BinaryPayloads says what a record's body holds for binary content.
type BinaryPayloads int

const (
	// BinaryOmit leaves binary content out: the record still tells its name, type and size.
	BinaryOmit BinaryPayloads = iota
	// BinaryBase64 puts binary content into the body, base64-encoded.
	BinaryBase64
)

// Payload is one payload of a message with the value read from the tenant.
type Payload struct {
	// Message is the MPL the payload belongs to: its ids give the trace, span and message attributes.
	Message cpi.MessageProcessingLog
	Kind    string // PayloadMessageStore or PayloadAttachment
	EntryID string
	Name    string
	// Time is when the payload was written (TimeStamp); zero falls back to the message's LogEnd.
	Time time.Time
	// DeclaredType and DeclaredSize are what the listing said (an attachment's ContentType and
	// PayloadSize; DeclaredSize −1 when unknown). The $value answer's own type and size win when given.
	DeclaredType string
	DeclaredSize int64
	Value        cpi.MediaValue
}

// MessageStorePayload is a message-store entry's payload; its name is the Persist step's id.
func MessageStorePayload(mpl cpi.MessageProcessingLog, e cpi.MessageStoreEntry, v cpi.MediaValue) Payload {
	return Payload{Message: mpl, Kind: PayloadMessageStore, EntryID: e.Id, Name: e.MessageStoreId, Time: e.TimeStamp.Time, DeclaredSize: -1, Value: v}
}

// AttachmentPayload is an MPL attachment's payload.
func AttachmentPayload(mpl cpi.MessageProcessingLog, a cpi.MessageProcessingLogAttachment, v cpi.MediaValue) Payload {
	return Payload{Message: mpl, Kind: PayloadAttachment, EntryID: a.Id, Name: a.Name, Time: a.TimeStamp.Time,
		DeclaredType: a.ContentType, DeclaredSize: int64(a.PayloadSize), Value: v}
}

// Payloads maps payloads to sap.cpi.message.payload records. Text content (a text content type whose
// bytes are UTF-8) is the body as it is; binary content is base64 or left out, as binary says.
func (m *Mapper) Payloads(payloads []Payload, binary BinaryPayloads, observed time.Time) plog.Logs {
	logs, sl, ok := m.eventScope(EventMessagePayload, len(payloads))
	if !ok {
		return logs
	}
	obs := pcommon.NewTimestampFromTime(observed)
	for i := range payloads {
		p := &payloads[i]
		mpl := &p.Message
		lr := sl.LogRecords().AppendEmpty()
		lr.SetEventName(EventMessagePayload)
		at := p.Time
		if at.IsZero() {
			at = mpl.LogEnd.Time
		}
		lr.SetTimestamp(pcommon.NewTimestampFromTime(at))
		lr.SetObservedTimestamp(obs)
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.SetSeverityText("INFO")
		lr.SetTraceID(TraceID(mpl.CorrelationId, mpl.MessageGuid))
		lr.SetSpanID(SpanID(mpl.MessageGuid))

		ctype := p.Value.ContentType
		if ctype == "" {
			ctype = p.DeclaredType
		}
		size := p.Value.Size
		if size < 0 || (p.Value.Truncated && p.DeclaredSize > size) {
			size = p.DeclaredSize
		}
		iflow := mpl.IntegrationArtifact.Id
		if iflow == "" {
			iflow = mpl.IntegrationFlowName
		}
		attrs := lr.Attributes()
		putStr(attrs, AttrMessageID, mpl.MessageGuid)
		putStr(attrs, AttrIFlowID, iflow)
		attrs.PutStr(AttrPayloadKind, p.Kind)
		putStr(attrs, AttrPayloadEntryID, p.EntryID)
		putStr(attrs, AttrPayloadName, p.Name)
		putStr(attrs, AttrPayloadContentType, ctype)
		if size >= 0 {
			attrs.PutInt(AttrPayloadSize, size)
		}
		attrs.PutBool(AttrPayloadTruncated, p.Value.Truncated)

		data := p.Value.Data
		switch text, ok := payloadText(ctype, data, p.Value.Truncated); {
		case ok:
			attrs.PutStr(AttrPayloadEncoding, EncodingText)
			lr.Body().SetStr(text)
		case binary == BinaryBase64:
			attrs.PutStr(AttrPayloadEncoding, EncodingBase64)
			lr.Body().SetStr(base64.StdEncoding.EncodeToString(data))
		default:
			attrs.PutStr(AttrPayloadEncoding, EncodingOmitted)
			lr.Body().SetStr(fmt.Sprintf("%s %q of message %s: %s, %s (content left out)", p.Kind, p.Name, mpl.MessageGuid, orType(ctype), sizeText(size)))
		}
	}
	return logs
}

func orType(ctype string) string {
	if ctype == "" {
		return "no content type"
	}
	return ctype
}

func sizeText(n int64) string {
	if n < 0 {
		return "size unknown"
	}
	return fmt.Sprintf("%d bytes", n)
}

// payloadText returns the content as text when its type is textual (or, without a type, when it reads
// as text) and it is UTF-8. A cap can cut a multi-byte character in two; that tail is dropped first.
func payloadText(ctype string, data []byte, truncated bool) (string, bool) {
	if ctype == "" {
		if !looksLikeText(data) {
			return "", false
		}
	} else if !IsTextContentType(ctype) {
		return "", false
	}
	if truncated {
		data = trimPartialRune(data)
	}
	if !utf8.Valid(data) {
		// Another charset (ISO-8859-1, Windows-1252): not valid as an OTLP string, so it counts as binary.
		return "", false
	}
	return string(data), true
}

// IsTextContentType tells whether a content type is text: text/*, JSON, XML (and +json, +xml types),
// form data, JavaScript, YAML, CSV and the EDI types.
func IsTextContentType(ctype string) bool {
	mt, _, err := mime.ParseMediaType(ctype)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(strings.SplitN(ctype, ";", 2)[0]))
	}
	if strings.HasPrefix(mt, "text/") || strings.HasSuffix(mt, "+json") || strings.HasSuffix(mt, "+xml") {
		return true
	}
	switch mt {
	case "application/json", "application/xml", "application/x-www-form-urlencoded", "application/javascript",
		"application/yaml", "application/x-yaml", "application/csv", "application/x-ndjson",
		"application/edifact", "application/edi-x12", "application/edi-consent":
		return true
	}
	return false
}

// looksLikeText is the guess for content without a type: UTF-8 with no control characters but tab,
// newline and carriage return.
func looksLikeText(data []byte) bool {
	if !utf8.Valid(trimPartialRune(data)) {
		return false
	}
	for _, b := range data {
		if b < 0x20 && b != '\t' && b != '\n' && b != '\r' {
			return false
		}
	}
	return true
}

// trimPartialRune drops an incomplete UTF-8 sequence at the end.
func trimPartialRune(data []byte) []byte {
	for i := 1; i <= utf8.UTFMax && i <= len(data); i++ {
		c := data[len(data)-i]
		if c < 0x80 {
			return data // ASCII: complete
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(data[len(data)-i:]) {
				return data[:len(data)-i]
			}
			return data
		}
	}
	return data
}
