package push

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
)

// DecodeHEC decodes a body of the Splunk target: HTTP Event Collector envelopes
// {"time":…,"host":…,"source":…,"sourcetype":…,"index":…,"event":…}, several stacked in one body
// (concatenated or newline-separated), where event is the MPL object or a JSON string holding it.
// A sourcetype ending in Run, CustomHeader or AdapterAttribute (DynamicSourceType, perhaps after a
// SourceTypePrefix) names the event's kind; time becomes Event.Time. host, source, index and fields
// describe the Splunk side and are not kept.
func (d *Decoder) DecodeHEC(body []byte) ([]Event, error) {
	var events []Event
	err := eachValue(body, "event", func(n int, raw []byte) error {
		ev, ok, err := d.hecEvent(raw)
		if err != nil {
			return inEvent("event", n, err)
		}
		if ok {
			events = append(events, ev)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return events, nil
}

func (d *Decoder) hecEvent(raw []byte) (Event, bool, error) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(raw, &env); err != nil {
		return Event{}, false, malformed("a HEC envelope must be a JSON object")
	}
	if len(env) == 0 {
		return Event{}, false, nil
	}
	member := func(name string) (json.RawMessage, bool) {
		for k, v := range env {
			if strings.EqualFold(k, name) {
				return v, true
			}
		}
		return nil, false
	}
	payload, ok := member("event")
	if !ok {
		return Event{}, false, malformed("HEC envelope without event")
	}
	var hint Kind
	if st, ok := member("sourcetype"); ok {
		var s string
		if json.Unmarshal(st, &s) == nil {
			hint = sourceTypeKind(s)
		}
	}
	var at time.Time
	if t, ok := member("time"); ok {
		var err error
		if at, err = hecTime(t); err != nil {
			return Event{}, false, err
		}
	}
	payload = bytes.TrimSpace(payload)
	if len(payload) > 0 && payload[0] == '"' {
		var s string
		if err := json.Unmarshal(payload, &s); err != nil {
			return Event{}, false, malformed("HEC event: invalid JSON string")
		}
		payload = []byte(s)
	}
	if len(payload) == 0 || payload[0] != '{' {
		return Event{}, false, malformed("HEC event: want an MPL object or a JSON string holding one")
	}
	obj, err := decodeObject(payload)
	if err != nil {
		return Event{}, false, malformed("HEC event: %v", err)
	}
	return d.event(obj, hint, compact(payload), at)
}

// hecTime reads HEC's time, epoch seconds with an optional decimal fraction, as a number or a string.
// It is read as a decimal rather than a float so milliseconds survive exactly.
func hecTime(raw json.RawMessage) (time.Time, error) {
	s := strings.Trim(string(bytes.TrimSpace(raw)), `"`)
	if s == "" || s == "null" {
		return time.Time{}, nil
	}
	whole, frac, _ := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || len(frac) > 9 || strings.Trim(frac, "0123456789") != "" || sec < -1e11 || sec > 1e11 {
		return time.Time{}, malformed("HEC time: want epoch seconds")
	}
	var nanos int64
	if frac != "" {
		nanos, _ = strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
	}
	if strings.HasPrefix(whole, "-") {
		nanos = -nanos
	}
	return time.Unix(sec, nanos).UTC(), nil
}

// IsHECProbe tells a body of HEC envelopes whose events are plain text — the test event SAP's Splunk
// activation posts — from a broken push: such a body carries no MPL, and answering it with an error
// would fail the activation.
func IsHECProbe(body []byte) bool {
	probe := false
	err := eachValue(body, "event", func(_ int, raw []byte) error {
		var env map[string]json.RawMessage
		if err := json.Unmarshal(raw, &env); err != nil {
			return err
		}
		for k, v := range env {
			if !strings.EqualFold(k, "event") {
				continue
			}
			var text string
			v = bytes.TrimSpace(v)
			if json.Unmarshal(v, &text) != nil || strings.HasPrefix(strings.TrimSpace(text), "{") {
				return errNotProbe
			}
			probe = true
			return nil
		}
		return errNotProbe
	})
	return err == nil && probe
}

var errNotProbe = errors.New("not a probe")
