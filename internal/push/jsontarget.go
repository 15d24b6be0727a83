package push

import "time"

// DecodeJSON decodes a body of the JSON target: JSONBatchType single, array or sequence, in any
// JSONFormatting (standard, pretty, compact). Each object is one event.
func (d *Decoder) DecodeJSON(body []byte) ([]Event, error) {
	var events []Event
	err := eachValue(body, "event", func(n int, raw []byte) error {
		obj, err := decodeObject(raw)
		if err != nil {
			return inEvent("event", n, err)
		}
		ev, ok, err := d.event(obj, "", compact(raw), time.Time{})
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
