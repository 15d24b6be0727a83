// Package cpi is the client of the SAP Cloud Integration OData V2 API (`<tenant>/api/v1`).
//
// It knows HTTP, OData V2 JSON and the tenant's quirks, and nothing about OpenTelemetry:
// authentication, paging, decoding, retries, rate limits and error classification live here.
package cpi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
)

// Time is an OData V2 Edm.DateTime or Edm.DateTimeOffset value.
//
// On the wire it is "/Date(<epoch-ms>)/", optionally with an offset ("/Date(1700000000000+0000)/").
// Hand-written SAP examples also use zone-less ISO strings, which CPI means as UTC; null is the zero Time.
type Time struct{ time.Time }

// UnmarshalJSON accepts "/Date(ms)/", "/Date(ms±hhmm)/", ISO-8601 (zone-less is UTC) and null.
func (t *Time) UnmarshalJSON(b []byte) error {
	if len(b) == 4 && string(b) == "null" {
		t.Time = time.Time{}
		return nil
	}
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("odata: date must be a string, got %.40s", b)
	}
	inner := b[1 : len(b)-1]
	if len(inner) == 0 {
		t.Time = time.Time{}
		return nil
	}
	// The common case, "/Date(<ms>)/", is parsed in place: two of these per MPL, a thousand MPLs a page.
	if ms, ok := plainEpochDate(inner); ok {
		t.Time = time.UnixMilli(ms).UTC()
		return nil
	}
	parsed, err := ParseTime(string(inner))
	if err != nil {
		return err
	}
	t.Time = parsed
	return nil
}

// plainEpochDate reads "/Date(<digits>)/" without allocating.
func plainEpochDate(b []byte) (int64, bool) {
	const head, tail = "/Date(", ")/"
	if len(b) <= len(head)+len(tail) || string(b[:len(head)]) != head || string(b[len(b)-len(tail):]) != tail {
		return 0, false
	}
	digits := b[len(head) : len(b)-len(tail)]
	if len(digits) > 18 {
		return 0, false
	}
	var ms int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		ms = ms*10 + int64(c-'0')
	}
	return ms, true
}

// MarshalJSON writes the OData V2 form, so the simulated tenant and the client share one encoding.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"/Date(` + strconv.FormatInt(t.UnixMilli(), 10) + `)/"`), nil
}

// ParseTime parses the textual forms a CPI tenant uses for instants; the result is always UTC.
func ParseTime(s string) (time.Time, error) {
	if strings.HasPrefix(s, "/Date(") && strings.HasSuffix(s, ")/") {
		inner := s[len("/Date(") : len(s)-len(")/")]
		// The epoch milliseconds are UTC already; an offset only names the producer's zone, so it is
		// validated and dropped. The epoch may be negative, hence the search after the first character.
		if i := strings.IndexAny(inner[min(1, len(inner)):], "+-"); i >= 0 {
			off := inner[i+1:]
			inner = inner[:i+1]
			if len(off) != 5 || strings.Trim(off[1:], "0123456789") != "" {
				return time.Time{}, fmt.Errorf("odata: bad offset in date %q", s)
			}
		}
		ms, err := strconv.ParseInt(inner, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("odata: bad date %q", s)
		}
		return time.UnixMilli(ms).UTC(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05"} {
		if parsed, err := time.Parse(layout, s); err == nil {
			return parsed.UTC(), nil
		}
	}
	// Some Edm.String "dates" (package CreationDate, artifact CreatedAt) hold bare epoch milliseconds.
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("odata: unrecognised date %q", s)
}

// FilterTime formats t as an OData V2 datetime literal. CPI reads these literals as UTC and does not
// understand a zone suffix, so the instant is converted to UTC and written without one.
func FilterTime(t time.Time) string {
	return "datetime'" + t.UTC().Format("2006-01-02T15:04:05.000") + "'"
}

// Int64 is an Edm.Int64, which OData V2 JSON carries as a string ("26"); numbers are accepted too.
type Int64 int64

// UnmarshalJSON accepts "123", 123 and null.
func (n *Int64) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	if s == "null" || s == "" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("odata: bad Int64 %.40s", b)
	}
	*n = Int64(v)
	return nil
}

// MarshalJSON writes the OData V2 string form.
func (n Int64) MarshalJSON() ([]byte, error) {
	return []byte(`"` + strconv.FormatInt(int64(n), 10) + `"`), nil
}

// Bool is an Edm.Boolean; sandbox examples send "false" strings, so both forms are accepted.
type Bool bool

// UnmarshalJSON accepts true, "true", false, "false" and null.
func (v *Bool) UnmarshalJSON(b []byte) error {
	switch string(bytes.Trim(b, `"`)) {
	case "true", "1":
		*v = true
	case "false", "0", "null", "":
		*v = false
	default:
		return fmt.Errorf("odata: bad Boolean %.40s", b)
	}
	return nil
}

// Page is one server response of an OData V2 collection.
type Page[T any] struct {
	Results []T
	// Next is the server's next link (absolute or relative), empty on the last page.
	Next string
	// Count is d.__count, present only when $inlinecount=allpages was asked for.
	Count    int64
	HasCount bool
}

// ErrNotOData means a 2xx body was not an OData V2 JSON document; it is an httpapi.ErrMalformed.
var ErrNotOData = fmt.Errorf("%w: not an OData V2 JSON document", httpapi.ErrMalformed)

// DecodePage decodes one OData V2 collection document, as the client does with a response body.
func DecodePage[T any](r io.Reader) (Page[T], error) {
	var page Page[T]
	err := decodeCollection(r, &page)
	return page, err
}

// decodeCollection reads {"d":{"results":[...],"__next":"…","__count":"…"}} as a stream, decoding
// one entry at a time; the OData V1-style {"d":[...]} is accepted too. Unknown keys are skipped.
func decodeCollection[T any](r io.Reader, page *Page[T]) error {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	foundD := false
	for dec.More() {
		key, err := nextKey(dec)
		if err != nil {
			return err
		}
		if key != "d" {
			if err := skipValue(dec); err != nil {
				return err
			}
			continue
		}
		foundD = true
		tok, err := dec.Token()
		if err != nil {
			return wrapJSON(err)
		}
		switch tok {
		case json.Delim('['):
			if err := decodeResults(dec, page); err != nil {
				return err
			}
		case json.Delim('{'):
			if err := decodeCollectionBody(dec, page); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: \"d\" is neither an object nor an array", ErrNotOData)
		}
	}
	if !foundD {
		return fmt.Errorf("%w: no \"d\" member", ErrNotOData)
	}
	if _, err := dec.Token(); err != nil { // closing brace
		return wrapJSON(err)
	}
	return nil
}

func decodeCollectionBody[T any](dec *json.Decoder, page *Page[T]) error {
	for dec.More() {
		key, err := nextKey(dec)
		if err != nil {
			return err
		}
		switch key {
		case "results":
			if err := expectDelim(dec, '['); err != nil {
				return err
			}
			if err := decodeResults(dec, page); err != nil {
				return err
			}
		case "__next":
			if err := dec.Decode(&page.Next); err != nil {
				return wrapJSON(err)
			}
		case "__count":
			var n Int64
			if err := dec.Decode(&n); err != nil {
				return wrapJSON(err)
			}
			page.Count, page.HasCount = int64(n), true
		default:
			if err := skipValue(dec); err != nil {
				return err
			}
		}
	}
	_, err := dec.Token() // closing brace of d
	return wrapJSON(err)
}

// decodeResults decodes array elements until the closing bracket, which it consumes.
func decodeResults[T any](dec *json.Decoder, page *Page[T]) error {
	for dec.More() {
		var v T
		if err := dec.Decode(&v); err != nil {
			return wrapJSON(err)
		}
		page.Results = append(page.Results, v)
	}
	_, err := dec.Token()
	return wrapJSON(err)
}

// decodeEntity reads a single-entity document {"d":{...}}.
func decodeEntity(r io.Reader, v any) error {
	var env struct {
		D any `json:"d"`
	}
	env.D = v
	if err := json.NewDecoder(r).Decode(&env); err != nil {
		return wrapJSON(err)
	}
	return nil
}

func nextKey(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", wrapJSON(err)
	}
	key, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("%w: expected an object key", ErrNotOData)
	}
	return key, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return wrapJSON(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("%w: expected %q", ErrNotOData, want)
	}
	return nil
}

func skipValue(dec *json.Decoder) error {
	var raw json.RawMessage
	return wrapJSON(dec.Decode(&raw))
}

// ErrTruncated marks a body cut off mid-document; the call is retried.
var ErrTruncated = httpapi.ErrTruncated

func wrapJSON(err error) error {
	err = httpapi.WrapJSON(err)
	if errors.Is(err, httpapi.ErrMalformed) {
		return fmt.Errorf("%w: %w", ErrNotOData, err)
	}
	return err
}
