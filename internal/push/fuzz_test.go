package push

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The fuzz tests prove the decoders never panic, that what they accept is well-formed, and that their
// errors do not repeat payload text.

func FuzzDecodeJSON(f *testing.F) {
	seedFrom(f, ".json", ".ndjson")
	f.Add([]byte(`[{"MessageGuid":"AGa","LogEnd":"2026-05-04 09:15:03.872"},{"MessageGuid":"AGb","CustomHeaderProperties":{"k":["v",1]}}]`))
	f.Add([]byte("{\"MessageGuid\":\"AGa\",\"EventType\":\"AdapterAttribute\",\"AdapterId\":\"x\"}\r\n{}\r"))
	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := DecodeJSON(body)
		checkOutcome(t, body, events, err)
	})
}

func FuzzDecodeHEC(f *testing.F) {
	seedFrom(f, ".hec")
	f.Add([]byte(`{"time":"1777886103.872","sourcetype":"CustomAdapterAttribute","event":"{\"MessageGuid\":\"AGa\",\"Name\":\"n\"}"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := DecodeHEC(body)
		checkOutcome(t, body, events, err)
	})
}

func FuzzDecodeOTLP(f *testing.F) {
	seedFrom(f, "otlp-")
	f.Add([]byte("\x0a\x00"))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, ct := range []string{"application/json", "application/x-protobuf"} {
			events, err := DecodeOTLP(body, ct)
			checkOutcome(t, body, events, err)
		}
	})
}

func FuzzDecompress(f *testing.F) {
	f.Add([]byte(`{"MessageGuid":"AGa"}`))
	f.Add(gzippedSeed([]byte(`{"MessageGuid":"AGa"}`)))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := Decompress(bytes.NewReader(body), "", 4096)
		if err == nil && len(got) > 4096 {
			t.Fatalf("returned %d bytes over the limit", len(got))
		}
		if err != nil {
			checkNoEcho(t, body, err)
		}
	})
}

// seedFrom adds the golden inputs whose names end with (or, for "otlp-", start with) one of the patterns.
func seedFrom(f *testing.F, patterns ...string) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		for _, p := range patterns {
			if strings.HasSuffix(e.Name(), p) || strings.HasPrefix(e.Name(), p) {
				b, err := os.ReadFile(filepath.Join("testdata", e.Name()))
				if err != nil {
					f.Fatal(err)
				}
				f.Add(b)
			}
		}
	}
}

func gzippedSeed(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

func checkOutcome(t *testing.T, body []byte, events []Event, err error) {
	t.Helper()
	if err != nil {
		if events != nil {
			t.Fatalf("events returned with an error")
		}
		checkNoEcho(t, body, err)
		return
	}
	for i, ev := range events {
		switch ev.Kind {
		case KindRun, KindCustomHeader, KindAdapterAttribute:
		default:
			t.Fatalf("event %d: kind %q", i, ev.Kind)
		}
		if ev.MessageGuid == "" {
			t.Fatalf("event %d accepted without MessageGuid", i)
		}
		if !json.Valid(ev.Raw) {
			t.Fatalf("event %d: Raw is not JSON", i)
		}
		if _, err := json.Marshal(ev.Unknown); err != nil {
			t.Fatalf("event %d: Unknown cannot be written as JSON: %v", i, err)
		}
	}
}

// checkNoEcho fails when the error repeats a 10-byte stretch of the body. The names errors may rightly
// use (kinds, EDMX field names) are blanked out of the message first, and stretches of letters only
// are skipped: a fuzzed body may well contain "MessageGuid".
func checkNoEcho(t *testing.T, body []byte, err error) {
	t.Helper()
	if w, ok := echoed(body, err); ok {
		t.Fatalf("error %q repeats payload bytes %q", err.Error(), w)
	}
}

func echoed(body []byte, err error) (string, bool) {
	msg := err.Error()
	for _, name := range vocabulary {
		msg = strings.ReplaceAll(msg, name, "\x00")
	}
	const window = 10
	for i := 0; i+window <= len(body); i++ {
		w := body[i : i+window]
		if !lettersOnly(w) && strings.Contains(msg, string(w)) {
			return string(w), true
		}
	}
	return "", false
}

func TestTheEchoCheckCatchesPayloadButNotFieldNames(t *testing.T) {
	body := []byte(`{"MessageGuid":"AG-4711-secret","sourcetype":"x AdapterAttribute"}`)
	_, ok := echoed(body, errors.New("bad value AG-4711-secret"))
	assert.True(t, ok)
	_, ok = echoed(body, errors.New("event 1 of the batch: AdapterAttribute event without MessageGuid"))
	assert.False(t, ok)
}

// vocabulary are the words an error may name, longest first so none is left half blanked.
var vocabulary = []string{
	"ArchivingReceiverChannelMessages", "ArchivingSenderChannelMessages", "ArchivingPersistedMessages",
	"IntegrationArtifact.PackageName", "IntegrationArtifact.PackageId", "ArchivingLogAttachments",
	"IntegrationArtifact.Name", "IntegrationArtifact.Type", "IntegrationArtifact.Id", "ApplicationMessageType",
	"ApplicationMessageId", "CustomHeaderProperties", "PreviousComponentName", "OriginComponentName",
	"LocalComponentName", "IntegrationFlowName", "IntegrationArtifact", "AdapterMessageId", "AdapterAttributes",
	"AdapterAttribute", "AlternateWebLink", "ArchivingStatus", "CorrelationId", "TransactionId", "CustomHeaders",
	"CustomHeader", "CustomStatus", "MessageGuid", "AdapterId", "LogStart", "LogLevel", "Receiver", "LogEnd",
	"Sender", "Status", "Value", "Name", "Run",
}

func lettersOnly(b []byte) bool {
	for _, c := range b {
		if !isLetter(c) && c != '.' {
			return false
		}
	}
	return true
}
