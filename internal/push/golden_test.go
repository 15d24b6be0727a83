package push

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/want")

type decodeFunc func(d *Decoder, body []byte) ([]Event, error)

var (
	otlpJSON  decodeFunc = func(d *Decoder, b []byte) ([]Event, error) { return d.DecodeOTLP(b, "application/json") }
	jsonBatch decodeFunc = (*Decoder).DecodeJSON
	hecBatch  decodeFunc = (*Decoder).DecodeHEC
)

// goldenCases are the recorded bodies of each target, batch type and formatting, and what they decode to.
var goldenCases = []struct {
	input  string
	decode decodeFunc
	opts   Options
}{
	{input: "otlp-string-body.json", decode: otlpJSON},
	{input: "otlp-kvlist-body.json", decode: otlpJSON},
	{input: "otlp-connection-test.json", decode: otlpJSON},
	{input: "json-single.json", decode: jsonBatch},
	{input: "json-array.json", decode: jsonBatch},
	{input: "json-array-pretty.json", decode: jsonBatch},
	{input: "json-sequence-lf.ndjson", decode: jsonBatch},
	{input: "json-sequence-cr.ndjson", decode: jsonBatch},
	{input: "json-sequence-crlf.ndjson", decode: jsonBatch},
	{input: "json-sequence-concatenated.json", decode: jsonBatch},
	{input: "json-sequence-pretty.ndjson", decode: jsonBatch},
	{input: "json-compact-extra-events.ndjson", decode: jsonBatch},
	{input: "json-dates.ndjson", decode: jsonBatch},
	{input: "json-dateformat-custom.ndjson", decode: jsonBatch, opts: Options{DateFormat: "dd.MM.yyyy'T'HH:mm:ss,SSSXXX"}},
	{input: "json-variants.ndjson", decode: jsonBatch},
	{input: "json-unknown-keys.json", decode: jsonBatch},
	{input: "hec-stacked.hec", decode: hecBatch},
	{input: "hec-newline.hec", decode: hecBatch},
	{input: "hec-event-string.hec", decode: hecBatch},
	{input: "hec-sourcetype-prefix.hec", decode: hecBatch},
}

func TestDecodersMatchTheGoldenEvents(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.input, func(t *testing.T) {
			d, err := NewDecoder(c.opts)
			require.NoError(t, err)
			body := readTestdata(t, c.input)
			events, err := c.decode(d, body)
			require.NoError(t, err)
			compareGolden(t, c.input, events)
		})
	}
}

// The same bodies arrive gzipped (CompressData, the default), with or without Content-Encoding.
func TestGzippedBodiesDecodeAlike(t *testing.T) {
	for _, c := range goldenCases {
		for _, header := range []string{"gzip", ""} {
			t.Run(c.input+"/"+header, func(t *testing.T) {
				d, err := NewDecoder(c.opts)
				require.NoError(t, err)
				plain := readTestdata(t, c.input)
				body, err := Decompress(bytes.NewReader(gzipped(t, plain)), header, 1<<20)
				require.NoError(t, err)
				assert.Equal(t, plain, body)
				events, err := c.decode(d, body)
				require.NoError(t, err)
				compareGolden(t, c.input, events)
			})
		}
	}
}

func TestOTLPProtobufDecodesLikeJSON(t *testing.T) {
	for _, input := range []string{"otlp-string-body.json", "otlp-kvlist-body.json", "otlp-connection-test.json"} {
		t.Run(input, func(t *testing.T) {
			req := plogotlp.NewExportRequest()
			require.NoError(t, req.UnmarshalJSON(readTestdata(t, input)))
			pb, err := req.MarshalProto()
			require.NoError(t, err)
			for _, ct := range []string{"application/x-protobuf", "application/protobuf; charset=binary", ""} {
				events, err := DecodeOTLP(pb, ct)
				require.NoError(t, err, ct)
				compareGolden(t, input, events)
			}
		})
	}
}

func TestRawIsTheEventsOwnCompactJSON(t *testing.T) {
	events, err := DecodeJSON(readTestdata(t, "json-array-pretty.json"))
	require.NoError(t, err)
	var want []json.RawMessage
	require.NoError(t, json.Unmarshal(readTestdata(t, "json-array.json"), &want))
	require.Len(t, events, len(want))
	for i := range events {
		assert.JSONEq(t, string(want[i]), string(events[i].Raw))
		assert.NotContains(t, string(events[i].Raw), "\n")
	}

	events, err = DecodeHEC(readTestdata(t, "hec-event-string.hec"))
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(events[0].Raw, []byte(`{"MessageGuid":`)), "the raw event of a HEC string event is the MPL, not the envelope")
}

func TestRunEventsCarryTheirInlineHeadersInTheMPL(t *testing.T) {
	events, err := DecodeJSON(readTestdata(t, "json-single.json"))
	require.NoError(t, err)
	require.Len(t, events, 1)
	assert.Equal(t, events[0].CustomHeaders, []cpi.CustomHeaderProperty(events[0].MPL.CustomHeaderProperties))
	assert.Len(t, events[0].CustomHeaders, 3, "repeated names are kept, as CPI allows")
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func compareGolden(t *testing.T, input string, events []Event) {
	t.Helper()
	got, err := json.MarshalIndent(goldenView(events), "", "  ")
	require.NoError(t, err)
	got = append(got, '\n')
	path := filepath.Join("testdata", "want", strings.TrimSuffix(input, filepath.Ext(input))+".json")
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got), "decoded events differ from %s (go test -update rewrites it)", path)
}

// goldenEvent is an Event as the golden files show it: only the fields that are set, times as text.
type goldenEvent struct {
	Kind              Kind                       `json:"kind"`
	MessageGuid       string                     `json:"messageGuid"`
	Time              string                     `json:"time,omitempty"`
	MPL               map[string]any             `json:"mpl,omitempty"`
	CustomHeaders     []cpi.CustomHeaderProperty `json:"customHeaders,omitempty"`
	AdapterAttributes []AdapterAttribute         `json:"adapterAttributes,omitempty"`
	Unknown           map[string]any             `json:"unknown,omitempty"`
}

func goldenView(events []Event) []goldenEvent {
	out := []goldenEvent{}
	for _, ev := range events {
		g := goldenEvent{
			Kind: ev.Kind, MessageGuid: ev.MessageGuid, CustomHeaders: ev.CustomHeaders,
			AdapterAttributes: ev.AdapterAttributes, Unknown: ev.Unknown,
		}
		if !ev.Time.IsZero() {
			g.Time = ev.Time.Format(time.RFC3339Nano)
		}
		if ev.Kind == KindRun {
			g.MPL = setFields(reflect.ValueOf(ev.MPL))
		}
		out = append(out, g)
	}
	return out
}

// setFields lists a struct's non-zero fields; CustomHeaderProperties is left out (it is CustomHeaders).
func setFields(v reflect.Value) map[string]any {
	out := map[string]any{}
	for i := range v.NumField() {
		name, f := v.Type().Field(i).Name, v.Field(i)
		if f.IsZero() || name == "CustomHeaderProperties" {
			continue
		}
		switch x := f.Interface().(type) {
		case cpi.Time:
			out[name] = x.UTC().Format(time.RFC3339Nano)
		case cpi.IntegrationArtifact:
			out[name] = setFields(f)
		default:
			out[name] = x
		}
	}
	return out
}
