package push

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
)

// pushError is a decoding error that says what is wrong and where, and unwraps to its class
// (ErrMalformed, ErrUnsupported, ErrTooLarge). It never holds payload text.
type pushError struct {
	msg   string
	class error
}

func (e *pushError) Error() string { return e.msg }
func (e *pushError) Unwrap() error { return e.class }

func malformed(format string, a ...any) error {
	return &pushError{msg: fmt.Sprintf(format, a...), class: ErrMalformed}
}

// inEvent says which event of a batch an error belongs to; n counts from 1, as a user would.
func inEvent(what string, n int, err error) error {
	return malformed("%s %d of the batch: %v", what, n, err)
}

// jsonError describes a JSON syntax error by position only: encoding/json quotes the offending input.
func jsonError(err error) error {
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		return malformed("invalid JSON at byte %d", syn.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return malformed("JSON cut off")
	}
	return malformed("invalid JSON")
}

// decodeObject parses one JSON value that must be an object; numbers stay exact (json.Number).
func decodeObject(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, malformed("more than one JSON value where one object was expected")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, malformed("not a JSON object")
	}
	return obj, nil
}

// compact is the Raw form of an event: its JSON without insignificant space.
func compact(b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return append([]byte(nil), b...)
	}
	return buf.Bytes()
}

// event maps one pushed object to an Event. hint is the kind the transport named, if any; at its
// timestamp. An empty object is no event (ok false).
func (d *Decoder) event(obj map[string]any, hint Kind, raw []byte, at time.Time) (Event, bool, error) {
	if len(obj) == 0 {
		return Event{}, false, nil
	}
	b := builder{d: d, ev: Event{Kind: hint, Time: at, Raw: raw}}
	if b.ev.Kind == "" {
		b.ev.Kind = declaredKind(obj)
	}
	if b.ev.Kind == "" {
		b.ev.Kind = shapeKind(obj)
	}
	for _, k := range sortedKeys(obj) {
		v := obj[k]
		if ignored(k, v) {
			continue
		}
		nk := norm(k)
		if isDiscriminator(nk) {
			if _, named := kindNamed(v); named {
				continue
			}
		}
		var handled bool
		var err error
		switch b.ev.Kind {
		case KindRun:
			handled, err = b.runField(k, nk, v)
		case KindCustomHeader:
			handled, err = b.headerEventField(k, nk, v)
		case KindAdapterAttribute:
			handled, err = b.adapterEventField(k, nk, v)
		}
		if err != nil {
			return Event{}, false, err
		}
		if !handled {
			b.ev.unknown(k, v)
		}
	}
	if err := b.finish(); err != nil {
		return Event{}, false, err
	}
	return b.ev, true, nil
}

// builder gathers one event; the Name/Value (and adapter) keys of a stand-alone sub-value event make
// one entry, which finish puts first.
type builder struct {
	d          *Decoder
	ev         Event
	header     cpi.CustomHeaderProperty
	hasHeader  bool
	adapter    AdapterAttribute
	hasAdapter bool
}

// finish checks what every kind needs and fills the derived fields.
func (b *builder) finish() error {
	ev := &b.ev
	switch ev.Kind {
	case KindRun:
		ev.MessageGuid = ev.MPL.MessageGuid
		if ev.MPL.LogEnd.IsZero() && !ev.Time.IsZero() {
			ev.MPL.LogEnd = cpi.Time{Time: ev.Time.UTC()}
		}
		ev.MPL.CustomHeaderProperties = ev.CustomHeaders
	case KindCustomHeader:
		if b.hasHeader {
			ev.CustomHeaders = append([]cpi.CustomHeaderProperty{b.header}, ev.CustomHeaders...)
		}
		if len(ev.CustomHeaders) == 0 {
			return malformed("CustomHeader event without Name")
		}
	case KindAdapterAttribute:
		if b.hasAdapter {
			ev.AdapterAttributes = append([]AdapterAttribute{b.adapter}, ev.AdapterAttributes...)
		}
		if len(ev.AdapterAttributes) == 0 {
			return malformed("AdapterAttribute event without AdapterId or Name")
		}
	}
	if ev.MessageGuid == "" {
		return malformed("%s event without MessageGuid", ev.Kind)
	}
	return nil
}

func (ev *Event) unknown(k string, v any) {
	if ev.Unknown == nil {
		ev.Unknown = map[string]any{}
	}
	ev.Unknown[k] = plain(v)
}

// runField maps one key of a Run event; handled is false for a key it does not know.
func (b *builder) runField(k, nk string, v any) (handled bool, err error) {
	ev, d := &b.ev, b.d
	m := &ev.MPL
	a := &m.IntegrationArtifact
	switch nk {
	case "messageguid", "mplid":
		return true, setString(&m.MessageGuid, "MessageGuid", v)
	case "correlationid":
		return true, setString(&m.CorrelationId, "CorrelationId", v)
	case "applicationmessageid":
		return true, setString(&m.ApplicationMessageId, "ApplicationMessageId", v)
	case "applicationmessagetype":
		return true, setString(&m.ApplicationMessageType, "ApplicationMessageType", v)
	case "logstart":
		return true, d.setTime(&m.LogStart, "LogStart", v)
	case "logend":
		return true, d.setTime(&m.LogEnd, "LogEnd", v)
	case "sender":
		return true, setString(&m.Sender, "Sender", v)
	case "receiver":
		return true, setString(&m.Receiver, "Receiver", v)
	case "integrationflowname":
		return true, setString(&m.IntegrationFlowName, "IntegrationFlowName", v)
	case "status":
		err := setString(&m.Status, "Status", v)
		// The pull API spells statuses in upper case; de-duplication with it compares them.
		m.Status = strings.ToUpper(m.Status)
		return true, err
	case "customstatus":
		return true, setString(&m.CustomStatus, "CustomStatus", v)
	case "loglevel":
		return true, setString(&m.LogLevel, "LogLevel", v)
	case "alternateweblink":
		return true, setString(&m.AlternateWebLink, "AlternateWebLink", v)
	case "archivingstatus":
		return true, setString(&m.ArchivingStatus, "ArchivingStatus", v)
	case "archivingsenderchannelmessages":
		return true, setBool(&m.ArchivingSenderChannelMessages, "ArchivingSenderChannelMessages", v)
	case "archivingreceiverchannelmessages":
		return true, setBool(&m.ArchivingReceiverChannelMessages, "ArchivingReceiverChannelMessages", v)
	case "archivinglogattachments":
		return true, setBool(&m.ArchivingLogAttachments, "ArchivingLogAttachments", v)
	case "archivingpersistedmessages":
		return true, setBool(&m.ArchivingPersistedMessages, "ArchivingPersistedMessages", v)
	case "transactionid":
		return true, setString(&m.TransactionId, "TransactionId", v)
	case "previouscomponentname":
		return true, setString(&m.PreviousComponentName, "PreviousComponentName", v)
	case "localcomponentname":
		return true, setString(&m.LocalComponentName, "LocalComponentName", v)
	case "origincomponentname":
		return true, setString(&m.OriginComponentName, "OriginComponentName", v)
	case "integrationartifactid":
		return true, setString(&a.Id, "IntegrationArtifact.Id", v)
	case "integrationartifactname":
		return true, setString(&a.Name, "IntegrationArtifact.Name", v)
	case "integrationartifacttype":
		return true, setString(&a.Type, "IntegrationArtifact.Type", v)
	case "integrationartifactpackageid":
		return true, setString(&a.PackageId, "IntegrationArtifact.PackageId", v)
	case "integrationartifactpackagename":
		return true, setString(&a.PackageName, "IntegrationArtifact.PackageName", v)
	case "integrationartifact":
		return true, b.artifact(k, v)
	case "customheaderproperties", "customheaders":
		hs, err := headerList(ev, k, v)
		ev.CustomHeaders = append(ev.CustomHeaders, hs...)
		return true, err
	case "adapterattributes":
		as, err := adapterList(ev, k, v)
		ev.AdapterAttributes = append(ev.AdapterAttributes, as...)
		return true, err
	}
	return false, nil
}

// artifact maps the nested IntegrationArtifact; a bare string is taken as its Id.
func (b *builder) artifact(k string, v any) error {
	ev := &b.ev
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		ev.MPL.IntegrationArtifact.Id = x
		return nil
	case map[string]any:
		for _, sk := range sortedKeys(x) {
			sv := x[sk]
			if ignored(sk, sv) || norm(sk) == "" {
				continue
			}
			handled, err := b.runField(k+"."+sk, "integrationartifact"+norm(sk), sv)
			if err != nil {
				return err
			}
			if !handled {
				ev.unknown(k+"."+sk, sv)
			}
		}
		return nil
	}
	return malformed("IntegrationArtifact: want an object, got %s", typeName(v))
}

// headerEventField maps one key of a stand-alone CustomHeader event.
func (b *builder) headerEventField(k, nk string, v any) (bool, error) {
	ev := &b.ev
	switch nk {
	case "messageguid", "mplid":
		return true, setString(&ev.MessageGuid, "MessageGuid", v)
	case "name":
		b.hasHeader = true
		return true, setString(&b.header.Name, "Name", v)
	case "value":
		b.hasHeader = true
		return true, setString(&b.header.Value, "Value", v)
	case "customheaderproperties", "customheaders":
		hs, err := headerList(ev, k, v)
		ev.CustomHeaders = append(ev.CustomHeaders, hs...)
		return true, err
	case "id":
		return true, nil
	}
	return false, nil
}

// adapterEventField maps one key of a stand-alone AdapterAttribute event.
func (b *builder) adapterEventField(k, nk string, v any) (bool, error) {
	ev := &b.ev
	switch nk {
	case "messageguid", "mplid":
		return true, setString(&ev.MessageGuid, "MessageGuid", v)
	case "adapterid", "adaptermessageid", "name", "value":
		b.hasAdapter = true
		return true, adapterField(&b.adapter, nk, v)
	case "adapterattributes":
		as, err := adapterList(ev, k, v)
		ev.AdapterAttributes = append(ev.AdapterAttributes, as...)
		return true, err
	case "id":
		return true, nil
	}
	return false, nil
}

func adapterField(a *AdapterAttribute, nk string, v any) error {
	switch nk {
	case "adapterid":
		return setString(&a.AdapterId, "AdapterId", v)
	case "adaptermessageid":
		return setString(&a.AdapterMessageId, "AdapterMessageId", v)
	case "name":
		return setString(&a.Name, "Name", v)
	case "value":
		return setString(&a.Value, "Value", v)
	}
	return nil
}

// headerList reads inline custom headers: [{Name, Value}], {"results": […]}, or an object of
// name → value (a list value repeats the name, as CPI allows).
func headerList(ev *Event, k string, v any) ([]cpi.CustomHeaderProperty, error) {
	elems, isMap, err := navigation(k, v)
	if err != nil {
		return nil, err
	}
	var out []cpi.CustomHeaderProperty
	if isMap {
		m := v.(map[string]any)
		for _, name := range sortedKeys(m) {
			vals, ok := m[name].([]any)
			if !ok {
				vals = []any{m[name]}
			}
			for _, val := range vals {
				s, ok := asString(val)
				if !ok {
					return nil, malformed("%s: a header value must be text, got %s", k, typeName(val))
				}
				out = append(out, cpi.CustomHeaderProperty{Name: name, Value: s})
			}
		}
		return out, nil
	}
	for i, e := range elems {
		obj, ok := e.(map[string]any)
		if !ok {
			return nil, malformed("%s[%d]: want an object with Name and Value, got %s", k, i, typeName(e))
		}
		var h cpi.CustomHeaderProperty
		for _, ek := range sortedKeys(obj) {
			ev2 := obj[ek]
			if ignored(ek, ev2) {
				continue
			}
			var err error
			switch norm(ek) {
			case "name":
				err = setString(&h.Name, k+".Name", ev2)
			case "value":
				err = setString(&h.Value, k+".Value", ev2)
			case "id", "log":
			default:
				ev.unknown(fmt.Sprintf("%s[%d].%s", k, i, ek), ev2)
			}
			if err != nil {
				return nil, err
			}
		}
		out = append(out, h)
	}
	return out, nil
}

// adapterList reads inline adapter attributes: [{AdapterId, AdapterMessageId, Name, Value}] or {"results": […]}.
func adapterList(ev *Event, k string, v any) ([]AdapterAttribute, error) {
	elems, isMap, err := navigation(k, v)
	if err != nil {
		return nil, err
	}
	if isMap {
		return nil, malformed("%s: want a list of objects", k)
	}
	var out []AdapterAttribute
	for i, e := range elems {
		obj, ok := e.(map[string]any)
		if !ok {
			return nil, malformed("%s[%d]: want an object, got %s", k, i, typeName(e))
		}
		var a AdapterAttribute
		for _, ek := range sortedKeys(obj) {
			ev2 := obj[ek]
			if ignored(ek, ev2) {
				continue
			}
			switch nk := norm(ek); nk {
			case "adapterid", "adaptermessageid", "name", "value":
				if err := adapterField(&a, nk, ev2); err != nil {
					return nil, fmt.Errorf("%s: %w", k, err)
				}
			case "id", "messageprocessinglog", "messageguid":
			default:
				ev.unknown(fmt.Sprintf("%s[%d].%s", k, i, ek), ev2)
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// navigation unpacks a to-many navigation: a list, {"results": list}, or (isMap) some other object.
func navigation(k string, v any) (elems []any, isMap bool, err error) {
	switch x := v.(type) {
	case nil:
		return nil, false, nil
	case []any:
		return x, false, nil
	case map[string]any:
		if r, ok := x["results"]; ok && len(x) <= 2 {
			if list, ok := r.([]any); ok {
				return list, false, nil
			}
			return nil, false, malformed("%s: results must be a list", k)
		}
		if isDeferred(x) {
			return nil, false, nil
		}
		return nil, true, nil
	}
	return nil, false, malformed("%s: want a list, got %s", k, typeName(v))
}

// declaredKind reads an explicit kind key (EventType, EventKind, Kind, Type), if it names a kind.
func declaredKind(obj map[string]any) Kind {
	for _, k := range sortedKeys(obj) {
		if isDiscriminator(norm(k)) {
			if kind, ok := kindNamed(obj[k]); ok {
				return kind
			}
		}
	}
	return ""
}

func isDiscriminator(nk string) bool {
	switch nk {
	case "eventtype", "eventkind", "kind", "type":
		return true
	}
	return false
}

func kindNamed(v any) (Kind, bool) {
	s, ok := v.(string)
	if !ok {
		return "", false
	}
	switch norm(s) {
	case "run", "mpl", "messageprocessinglog":
		return KindRun, true
	case "customheader", "customheaderproperty", "customheaderproperties":
		return KindCustomHeader, true
	case "adapterattribute", "adapterattributes":
		return KindAdapterAttribute, true
	}
	return "", false
}

// sourceTypeKind reads a HEC sourcetype written with DynamicSourceType: the kind, maybe after a
// SourceTypePrefix ("CustomRun").
func sourceTypeKind(st string) Kind {
	s := norm(st)
	switch {
	case strings.HasSuffix(s, "adapterattribute"):
		return KindAdapterAttribute
	case strings.HasSuffix(s, "customheader"):
		return KindCustomHeader
	case strings.HasSuffix(s, "run"):
		return KindRun
	}
	return ""
}

// shapeKind guesses the kind from the keys: any MPL field besides MessageGuid makes a Run.
func shapeKind(obj map[string]any) Kind {
	var adapter, header bool
	for k, v := range obj {
		if ignored(k, v) {
			continue
		}
		switch nk := norm(k); nk {
		case "messageguid", "mplid", "id":
		case "adapterid", "adaptermessageid", "adapterattributes":
			adapter = true
		case "name", "value", "customheaderproperties", "customheaders":
			header = true
		default:
			if runKeys[nk] || strings.HasPrefix(nk, "integrationartifact") {
				return KindRun
			}
		}
	}
	switch {
	case adapter:
		return KindAdapterAttribute
	case header:
		return KindCustomHeader
	}
	return KindRun
}

var runKeys = map[string]bool{
	"correlationid": true, "applicationmessageid": true, "applicationmessagetype": true, "logstart": true,
	"logend": true, "sender": true, "receiver": true, "integrationflowname": true, "status": true,
	"customstatus": true, "loglevel": true, "alternateweblink": true, "archivingstatus": true,
	"archivingsenderchannelmessages": true, "archivingreceiverchannelmessages": true,
	"archivinglogattachments": true, "archivingpersistedmessages": true, "transactionid": true,
	"previouscomponentname": true, "localcomponentname": true, "origincomponentname": true,
}

// norm folds a key for matching: lower case, letters and digits only (messageGuid, Message_Guid,
// IntegrationArtifact.Id and IntegrationArtifact/Id all match their EDMX name).
func norm(k string) string {
	b := make([]byte, 0, len(k))
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b = append(b, c)
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		}
	}
	return string(b)
}

// ignored drops OData bookkeeping: __metadata and unexpanded navigation stubs.
func ignored(k string, v any) bool {
	if k == "__metadata" {
		return true
	}
	m, ok := v.(map[string]any)
	return ok && isDeferred(m)
}

func isDeferred(m map[string]any) bool {
	_, ok := m["__deferred"]
	return ok && len(m) == 1
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// asString reads a scalar as text; numbers and booleans are accepted for tolerance.
func asString(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case []byte:
		return string(x), true
	}
	return "", false
}

func setString(dst *string, name string, v any) error {
	s, ok := asString(v)
	if !ok {
		return malformed("%s: want text, got %s", name, typeName(v))
	}
	*dst = s
	return nil
}

func setBool(dst *cpi.Bool, name string, v any) error {
	switch x := v.(type) {
	case nil:
		*dst = false
		return nil
	case bool:
		*dst = cpi.Bool(x)
		return nil
	}
	s, _ := asString(v)
	switch strings.ToLower(s) {
	case "true", "1":
		*dst = true
		return nil
	case "false", "0", "":
		*dst = false
		return nil
	}
	return malformed("%s: want a boolean, got %s", name, typeName(v))
}

func (d *Decoder) setTime(dst *cpi.Time, name string, v any) error {
	t, err := d.parseTime(v)
	if err != nil {
		return malformed("%s: %v", name, err)
	}
	dst.Time = t
	return nil
}

// parseTime reads the date forms a push may carry; see the package comment.
func (d *Decoder) parseTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case nil:
		return time.Time{}, nil
	case json.Number:
		if ms, err := x.Int64(); err == nil {
			return time.UnixMilli(ms).UTC(), nil
		}
		f, err := x.Float64()
		if err != nil {
			return time.Time{}, errors.New("epoch milliseconds out of range")
		}
		return millisFloat(f)
	case int64:
		return time.UnixMilli(x).UTC(), nil
	case float64:
		return millisFloat(x)
	case string:
		return d.parseTimeText(x)
	}
	return time.Time{}, fmt.Errorf("want a date, got %s", typeName(v))
}

func millisFloat(f float64) (time.Time, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e15 {
		return time.Time{}, errors.New("epoch milliseconds out of range")
	}
	return time.UnixMicro(int64(math.Round(f * 1000))).UTC(), nil
}

// isoSpaced is ISO-8601 with a space instead of the T and a zone, which cpi.ParseTime does not take.
const isoSpaced = "2006-01-02 15:04:05Z07:00"

func (d *Decoder) parseTimeText(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), nil
	}
	if strings.HasPrefix(s, "/Date(") {
		if t, err := cpi.ParseTime(s); err == nil {
			return t, nil
		}
		return time.Time{}, errors.New("unrecognised /Date(ms)/ value")
	}
	if t, err := d.dates.Parse(s); err == nil {
		return t, nil
	}
	if d.dates.pattern != DefaultDateFormat {
		if t, err := (DateFormat{}).Parse(s); err == nil {
			return t, nil
		}
	}
	if t, err := cpi.ParseTime(s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(isoSpaced, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("unrecognised date (want DateFormat %q, ISO-8601, epoch milliseconds or /Date(ms)/)", d.dates.pattern)
}

func typeName(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case bool:
		return "a boolean"
	case json.Number, int64, float64:
		return "a number"
	case string:
		return "text"
	case nil:
		return "null"
	}
	return "an unexpected value"
}

// plain turns decoded JSON into the value types Unknown promises (json.Number becomes int64 or float64).
func plain(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
		return x.String()
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = plain(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	}
	return v
}
