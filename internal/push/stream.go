package push

import (
	"bytes"
	"encoding/json"
)

// eachValue walks a body of stacked JSON values, as the JSON target's batch types and HEC send them:
// one object (single), an array of objects (array), or objects one after another, separated by
// "\n", "\r", "\r\n" or nothing (sequence, HEC). Which it is shows at the first byte of each value,
// so a body is read as a stream rather than split on delimiters, which pretty formatting puts inside
// objects too. fn gets each object's bytes and its position in the batch, from 1; what names a value
// in errors ("event").
func eachValue(body []byte, what string, fn func(n int, raw []byte) error) error {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark is not JSON
	dec := json.NewDecoder(bytes.NewReader(body))
	n := 0
	next := func() error {
		var raw json.RawMessage
		n++
		if err := dec.Decode(&raw); err != nil {
			return inEvent(what, n, jsonError(err))
		}
		return fn(n, raw)
	}
	for {
		off := skipSpace(body, int(dec.InputOffset()))
		if off == len(body) {
			return nil
		}
		switch body[off] {
		case '{':
			if err := next(); err != nil {
				return err
			}
		case '[':
			if _, err := dec.Token(); err != nil {
				return jsonError(err)
			}
			for dec.More() {
				if err := next(); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil {
				return jsonError(err)
			}
		default:
			return malformed("byte %d: want a JSON object or array", off)
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}
