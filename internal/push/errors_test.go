package push

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// secret stands for payload content: no error may repeat it.
const secret = "S3CRET-payload-4711"

func TestMalformedBatchesSayWhatAndWhereWithoutEchoingThePayload(t *testing.T) {
	okRun := `{"MessageGuid":"AGa","Status":"COMPLETED","LogEnd":"2026-05-04 09:15:03.872"}`
	cases := []struct {
		name, body string
		decode     decodeFunc
		want       string
	}{
		{"bad date", okRun + "\n" + okRun + "\n" + `{"MessageGuid":"AGb","LogEnd":"` + secret + `"}`, jsonBatch,
			`event 3 of the batch: LogEnd: unrecognised date (want DateFormat "yyyy-MM-dd HH:mm:ss.SSS", ISO-8601, epoch milliseconds or /Date(ms)/)`},
		{"cut off array", `[` + okRun + `,{"MessageGuid":"` + secret, jsonBatch, "event 2 of the batch: JSON cut off"},
		{"syntax error", okRun + "\n" + `{"MessageGuid": ` + secret + `}`, jsonBatch, "event 2 of the batch: invalid JSON at byte"},
		{"not an object", `"` + secret + `"`, jsonBatch, "byte 0: want a JSON object or array"},
		{"array of scalars", `["` + secret + `"]`, jsonBatch, "event 1 of the batch: not a JSON object"},
		{"no guid", `{"Status":"FAILED","Sender":"` + secret + `"}`, jsonBatch, "event 1 of the batch: Run event without MessageGuid"},
		{"wrong type", `{"MessageGuid":"AGa","Status":{"x":"` + secret + `"}}`, jsonBatch, "event 1 of the batch: Status: want text, got an object"},
		{"bad boolean", `{"MessageGuid":"AGa","ArchivingLogAttachments":"` + secret + `"}`, jsonBatch, "ArchivingLogAttachments: want a boolean, got text"},
		{"bad headers", `{"MessageGuid":"AGa","Status":"FAILED","CustomHeaderProperties":"` + secret + `"}`, jsonBatch, "CustomHeaderProperties: want a list, got text"},
		{"header without name", `{"MessageGuid":"AGa","EventType":"CustomHeader","Note":"` + secret + `"}`, jsonBatch, "event 1 of the batch: CustomHeader event without Name"},
		{"hec without event", `{"time":1,"host":"` + secret + `"}`, hecBatch, "event 1 of the batch: HEC envelope without event"},
		{"hec event text", `{"event":{"MessageGuid":"AGa","Status":"FAILED"}}` + "\n" + `{"event":"` + secret + `"}`, hecBatch,
			"event 2 of the batch: HEC event: want an MPL object or a JSON string holding one"},
		{"hec bad time", `{"time":"` + secret + `","event":{"MessageGuid":"AGa"}}`, hecBatch, "event 1 of the batch: HEC time: want epoch seconds"},
		{"otlp not otlp", `{"resourceLogs":` + secret, otlpJSON, "OTLP JSON body is not an ExportLogsServiceRequest"},
		{"otlp body not json", otlpBody(`{"stringValue":"` + secret + `"}`), otlpJSON, "log record 1 of the batch: body: invalid JSON at byte"},
		{"otlp no body", otlpBody(`{}`), otlpJSON, "log record 1 of the batch: no body"},
		{"otlp bad field", otlpBody(`{"kvlistValue":{"values":[{"key":"MessageGuid","value":{"stringValue":"AGa"}},{"key":"LogStart","value":{"boolValue":true}}]}}`), otlpJSON,
			"log record 1 of the batch: LogStart: want a date, got a boolean"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			events, err := c.decode(defaultDecoder, []byte(c.body))
			require.Error(t, err)
			assert.Nil(t, events, "a malformed batch is refused whole")
			assert.ErrorIs(t, err, ErrMalformed)
			assert.Contains(t, err.Error(), c.want)
			assert.NotContains(t, err.Error(), secret)
		})
	}
}

func otlpBody(body string) string {
	return `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"1777886103872000000","body":` + body + `}]}]}]}`
}

func TestOTLPRefusesOtherContentTypes(t *testing.T) {
	_, err := DecodeOTLP([]byte(`{}`), "text/plain")
	assert.ErrorIs(t, err, ErrUnsupported)
	_, err = DecodeOTLP([]byte(`{}`), "application/json; charset=utf-8")
	assert.NoError(t, err)
}

func TestEmptyBodiesAreNoEvents(t *testing.T) {
	for name, decode := range map[string]decodeFunc{"otlp": otlpJSON, "json": jsonBatch, "hec": hecBatch} {
		for _, body := range []string{"", " \r\n", "{}", "{}\n{}"} {
			events, err := decode(defaultDecoder, []byte(body))
			assert.NoError(t, err, "%s %q", name, body)
			assert.Empty(t, events, "%s %q", name, body)
		}
	}
}

func TestDecompressGunzipsByMagicAndRefusesBombs(t *testing.T) {
	doc := []byte(`{"MessageGuid":"AGa"}`)
	for _, c := range []struct {
		name, encoding string
		body           []byte
	}{
		{"plain", "", doc},
		{"gzip with header", "gzip", gzipped(t, doc)},
		{"gzip without header", "", gzipped(t, doc)},
		{"x-gzip", "x-gzip", gzipped(t, doc)},
		{"already gunzipped upstream", "gzip", doc},
		{"identity", "identity", doc},
	} {
		got, err := Decompress(bytes.NewReader(c.body), c.encoding, 1024)
		require.NoError(t, err, c.name)
		assert.Equal(t, doc, got, c.name)
	}

	bomb := gzipped(t, make([]byte, 8<<20))
	_, err := Decompress(bytes.NewReader(bomb), "gzip", 1<<20)
	assert.ErrorIs(t, err, ErrTooLarge)
	assert.EqualError(t, err, "the body is larger than 1048576 bytes once decompressed")

	_, err = Decompress(bytes.NewReader(make([]byte, 2000)), "", 1999)
	assert.ErrorIs(t, err, ErrTooLarge)
	got, err := Decompress(bytes.NewReader(make([]byte, 2000)), "", 2000)
	assert.NoError(t, err)
	assert.Len(t, got, 2000)

	full := gzipped(t, bytes.Repeat(doc, 100))
	_, err = Decompress(bytes.NewReader(full[:len(full)/2]), "", 1<<20)
	assert.ErrorIs(t, err, ErrMalformed)
	assert.EqualError(t, err, "the gzip body is corrupt or cut off")

	_, err = Decompress(bytes.NewReader(doc), "br", 1024)
	assert.ErrorIs(t, err, ErrUnsupported)

	capped := http.MaxBytesReader(httptest.NewRecorder(), io.NopCloser(bytes.NewReader(make([]byte, 2000))), 1000)
	_, err = Decompress(capped, "", 4096)
	assert.ErrorIs(t, err, ErrTooLarge, "the HTTP server's own limit cut the body off: too large, not a broken connection")

	broken := errors.New("connection reset")
	_, err = Decompress(io.MultiReader(bytes.NewReader(gzipped(t, doc)[:5]), failingReader{broken}), "gzip", 1024)
	assert.ErrorIs(t, err, broken, "a failing connection is not reported as a corrupt body")
}

type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }

func TestDateFormatConvertsTheJavaLetters(t *testing.T) {
	at := mustTime(t, "2026-05-04T09:15:03.872Z")
	for _, c := range []struct{ pattern, text string }{
		{"", "2026-05-04 09:15:03.872"},
		{DefaultDateFormat, "2026-05-04 09:15:03.872"},
		{"dd.MM.yyyy HH:mm:ss", "04.05.2026 09:15:03"},
		{"yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "2026-05-04T09:15:03.872Z"},
		{"yyyy-MM-dd'T'HH:mm:ss,SSSSSSZ", "2026-05-04T09:15:03,872000+0000"},
		{"yyyyMMddHHmmss", "20260504091503"},
		{"d MMM yy h:mm:ss a", "4 May 26 9:15:03 AM"},
		{"''yyyy-MM-dd'' 'at' HH:mm", "'2026-05-04' at 09:15"},
	} {
		f, err := ParseDateFormat(c.pattern)
		require.NoError(t, err, c.pattern)
		assert.Equal(t, c.text, f.Format(at), c.pattern)
		back, err := f.Parse(c.text)
		require.NoError(t, err, c.pattern)
		assert.Equal(t, at.Truncate(precision(c.pattern)), back, c.pattern)
	}
}

// precision is what a pattern keeps of a time.
func precision(pattern string) time.Duration {
	switch {
	case pattern == "" || strings.Contains(pattern, "S"):
		return time.Millisecond
	case strings.Contains(pattern, "s"):
		return time.Second
	}
	return time.Minute
}

func TestDateFormatReadsZonesAndTrimmedFractions(t *testing.T) {
	f, err := ParseDateFormat("yyyy-MM-dd HH:mm:ss.SSSXXX")
	require.NoError(t, err)
	got, err := f.Parse("2026-05-04 11:15:03.872+02:00")
	require.NoError(t, err)
	assert.Equal(t, mustTime(t, "2026-05-04T09:15:03.872Z"), got, "a zone in the text is honoured; the result is UTC")

	var def DateFormat
	for text, want := range map[string]string{
		"2026-05-04 09:15:03.8":   "2026-05-04T09:15:03.8Z",
		"2026-05-04 09:15:03":     "2026-05-04T09:15:03Z",
		"2026-05-04 09:15:03.872": "2026-05-04T09:15:03.872Z",
	} {
		got, err := def.Parse(text)
		require.NoError(t, err, text)
		assert.Equal(t, mustTime(t, want), got, text)
	}
	_, err = def.Parse("04.05.2026 " + secret)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), secret)
}

func TestDateFormatRefusesWhatItCannotRead(t *testing.T) {
	for pattern, want := range map[string]string{
		"EEE, dd MMM yyyy":  `pattern letter 'E' is not supported`,
		"HH:mm SSS":         "fractions of a second (S) must follow the seconds",
		"HH:mm.SSS":         "fractions of a second (S) must follow the seconds (ss)",
		"yyyy-MM-dd'T":      "unterminated quote",
		"'Monday' HH:mm":    `literal text "Mon" is not supported`,
		"yyyy-MM-dd '12' H": "literal digits are not supported",
	} {
		_, err := ParseDateFormat(pattern)
		if assert.Error(t, err, pattern) {
			assert.Contains(t, err.Error(), want, pattern)
		}
		_, err = NewDecoder(Options{DateFormat: pattern})
		assert.Error(t, err, "NewDecoder checks the pattern: %s", pattern)
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(t, err)
	return v.UTC()
}
