package push

import (
	"bytes"
	"encoding/json"
	"mime"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
)

// DecodeOTLP decodes a body of the OTEL target: an OTLP/HTTP ExportLogsServiceRequest as JSON
// (application/json, what SAP sends) or protobuf (application/x-protobuf). An empty Content-Type is
// told by the first byte. Each log record is one event; its body is the event's JSON as a string
// (what SAP documents) or as a kvlist map. Resource, scope and record attributes are not read: SAP
// documents none beyond service.name and the scope's name and version. The connection test's {}
// decodes to no events.
func (d *Decoder) DecodeOTLP(body []byte, contentType string) ([]Event, error) {
	req := plogotlp.NewExportRequest()
	format, err := otlpFormat(body, contentType)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	// pdata's errors quote the body, so they are replaced by one that names the format only.
	if format == "json" {
		if req.UnmarshalJSON(body) != nil {
			return nil, malformed("OTLP JSON body is not an ExportLogsServiceRequest")
		}
	} else if req.UnmarshalProto(body) != nil {
		return nil, malformed("OTLP protobuf body is not an ExportLogsServiceRequest")
	}
	var events []Event
	n := 0
	rls := req.Logs().ResourceLogs()
	for i := range rls.Len() {
		sls := rls.At(i).ScopeLogs()
		for j := range sls.Len() {
			lrs := sls.At(j).LogRecords()
			for k := range lrs.Len() {
				n++
				ev, ok, err := d.otlpRecord(lrs.At(k))
				if err != nil {
					return nil, inEvent("log record", n, err)
				}
				if ok {
					events = append(events, ev)
				}
			}
		}
	}
	return events, nil
}

func otlpFormat(body []byte, contentType string) (string, error) {
	if strings.TrimSpace(contentType) == "" {
		if i := skipSpace(body, 0); i < len(body) && body[i] == '{' {
			return "json", nil
		}
		return "proto", nil
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", &pushError{msg: "OTLP: unreadable Content-Type", class: ErrUnsupported}
	}
	switch mt {
	case "application/json":
		return "json", nil
	case "application/x-protobuf", "application/protobuf":
		return "proto", nil
	}
	return "", &pushError{msg: "OTLP: Content-Type must be application/json or application/x-protobuf", class: ErrUnsupported}
}

func (d *Decoder) otlpRecord(lr plog.LogRecord) (Event, bool, error) {
	var obj map[string]any
	var raw []byte
	body := lr.Body()
	switch body.Type() {
	case pcommon.ValueTypeStr:
		raw = []byte(body.Str())
	case pcommon.ValueTypeBytes:
		raw = body.Bytes().AsRaw()
	case pcommon.ValueTypeMap:
		obj = body.Map().AsRaw()
		var err error
		if raw, err = json.Marshal(obj); err != nil {
			return Event{}, false, malformed("body map cannot be written as JSON")
		}
	case pcommon.ValueTypeEmpty:
		return Event{}, false, malformed("no body")
	default:
		return Event{}, false, malformed("body must be the MPL as a JSON string or a map, got %s", body.Type())
	}
	if obj == nil {
		var err error
		if obj, err = decodeObject(raw); err != nil {
			return Event{}, false, malformed("body: %v", err)
		}
		raw = compact(raw)
	}
	var at time.Time
	if ts := lr.Timestamp(); ts != 0 {
		at = ts.AsTime().UTC()
	}
	return d.event(obj, "", raw, at)
}
