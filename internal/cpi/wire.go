package cpi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Double is an Edm.Double, or a figure of an API outside OData (resourceusage). Olingo-based tenants
// write Edm.Double as a JSON string ("0.25", "NaN", "INF"); other answers use bare numbers, and SAP
// documents neither for the resource-usage API. Both are accepted. Valid is false for null, "" and an
// absent member, so "no figure" is never mistaken for 0.
type Double struct {
	Value float64
	Valid bool
}

// UnmarshalJSON accepts 1.5, "1.5", "NaN", "INF", "-INF", "" and null.
func (d *Double) UnmarshalJSON(b []byte) error {
	*d = Double{}
	s := strings.TrimSpace(string(bytes.Trim(b, `"`)))
	if s == "null" || s == "" {
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("odata: bad Double %.40s", b)
	}
	*d = Double{Value: v, Valid: true}
	return nil
}

// MarshalJSON writes a bare number (the simulated tenant and checkpoints read it back), null when not valid.
func (d Double) MarshalJSON() ([]byte, error) {
	if !d.Valid || math.IsNaN(d.Value) || math.IsInf(d.Value, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, d.Value, 'g', -1, 64), nil
}

// Finite reports the value when it is valid and a real number: NaN and ±Inf are no figure to record.
func (d Double) Finite() (float64, bool) {
	if !d.Valid || math.IsNaN(d.Value) || math.IsInf(d.Value, 0) {
		return 0, false
	}
	return d.Value, true
}

// EpochMillis is an instant carried as Edm.Int64 epoch milliseconds (ExternalLoggingEvents.Timestamp,
// CertificateUserMappings.ValidUntil). Int64 arrives as a string ("1717236001877"); numbers and the
// "/Date(ms)/" form are accepted too. null, "" and 0 mean "not set" and give the zero time: no CPI
// instant is the epoch itself.
type EpochMillis struct{ time.Time }

// UnmarshalJSON accepts "ms", ms, "/Date(ms)/", "" and null.
func (t *EpochMillis) UnmarshalJSON(b []byte) error {
	t.Time = time.Time{}
	s := string(bytes.Trim(b, `"`))
	if s == "null" || s == "" {
		return nil
	}
	if strings.HasPrefix(s, "/Date(") {
		parsed, err := ParseTime(s)
		if err != nil {
			return err
		}
		t.Time = parsed
		return nil
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("odata: bad epoch milliseconds %.40s", b)
	}
	if ms != 0 {
		t.Time = time.UnixMilli(ms).UTC()
	}
	return nil
}

// MarshalJSON writes the Int64 wire form, null for the zero time.
func (t EpochMillis) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + strconv.FormatInt(t.UnixMilli(), 10) + `"`), nil
}

// rawText turns a JSON scalar into its text: a string unquoted, a number or boolean as written, null as "".
func rawText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return "", nil
	case raw[0] == '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case raw[0] == '{' || raw[0] == '[':
		return "", fmt.Errorf("odata: expected a scalar, got %.20s", raw)
	}
	return string(raw), nil
}
