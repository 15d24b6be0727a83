package sapcpireceiver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/mapping"
	"github.com/sapcpi-otel/sapcpireceiver/internal/metadata"
)

// benchPage is a 1000-MPL page exactly as the receiver asks for it ($select of every mapped field),
// served by the simulated tenant.
func benchPage(b *testing.B) []byte {
	b.Helper()
	sim := fakecpi.New(fakecpi.Options{Backlog: 1000, Seed: 5})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	id, secret := sim.Credentials()
	tokenClient := &http.Client{}
	rt, _ := httpapi.NewOAuth2Transport(http.DefaultTransport, tokenClient, httpapi.OAuth2Credentials{ClientID: id, ClientSecret: secret, TokenURL: srv.URL + "/oauth/token"})
	q := cpi.MessageQuery{From: time.Unix(0, 0), Until: time.Now().Add(time.Hour), Top: 1000}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/MessageProcessingLogs?"+q.Query().Encode(), nil)
	req.Header.Set("Accept", "application/json")
	resp, err := (&http.Client{Transport: rt}).Do(req)
	require.NoError(b, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(b, err)
	return raw
}

func benchMapper() *mapping.Mapper {
	return &mapping.Mapper{Tenant: mapping.Tenant{URL: "https://acme.example/api/v1", Name: "bench"}, Scope: mapping.Scope{Name: metadata.ScopeName}}
}

// BenchmarkPage compares, per record of a 1000-MPL page: a bare encoding/json decode of the bytes (the
// yardstick), the generic streaming decode every other entity set uses, the client's MPL decoder, the
// mapping alone, and decode+map (what the receiver does per page).
func BenchmarkPage(b *testing.B) {
	raw := benchPage(b)
	const n = 1000
	perRecord := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
		b.SetBytes(int64(len(raw)))
	}
	b.Run("bare_json_unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var env struct {
				D struct {
					Results []cpi.MessageProcessingLog `json:"results"`
				} `json:"d"`
			}
			if err := json.Unmarshal(raw, &env); err != nil || len(env.D.Results) != n {
				b.Fatal(err)
			}
		}
		perRecord(b)
	})
	b.Run("generic_decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			page, err := cpi.DecodePage[cpi.MessageProcessingLog](bytes.NewReader(raw))
			if err != nil || len(page.Results) != n {
				b.Fatal(err)
			}
		}
		perRecord(b)
	})
	b.Run("client_decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			page, err := cpi.DecodeMessagePage(bytes.NewReader(raw))
			if err != nil || len(page.Results) != n {
				b.Fatal(err)
			}
		}
		perRecord(b)
	})
	page, err := cpi.DecodeMessagePage(bytes.NewReader(raw))
	require.NoError(b, err)
	m := benchMapper()
	now := time.Now()
	b.Run("map_only", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if logs := m.Messages(page.Results, nil, now); logs.LogRecordCount() != n {
				b.Fatal("short")
			}
		}
		perRecord(b)
	})
	b.Run("decode_and_map", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			page, err := cpi.DecodeMessagePage(bytes.NewReader(raw))
			if err != nil {
				b.Fatal(err)
			}
			if logs := m.Messages(page.Results, nil, now); logs.LogRecordCount() != n {
				b.Fatal("short")
			}
		}
		perRecord(b)
	})
}

// BenchmarkBackfillThroughput reads a 20 000-MPL backlog from the simulated tenant over loopback HTTP
// with OAuth2, through the message source (decode, de-duplicate, map, consume, commit), and reports
// records per second. Tenant and receiver share the machine's two cores.
func BenchmarkBackfillThroughput(b *testing.B) {
	const backlog = 20000
	for b.Loop() {
		b.StopTimer()
		tt := newTestTenant(b, fakecpi.Options{Backlog: backlog, BacklogSpan: time.Hour, Seed: 9})
		cfg := testMessagesConfig()
		cfg.ErrorDetails.Enabled = false
		sink := &countingSink{}
		src := tt.source(b, cfg, sink, nil)
		b.StartTimer()
		if err := src.poll(b.Context()); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if sink.n != backlog {
			b.Fatalf("delivered %d of %d", sink.n, backlog)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(backlog*b.N)/b.Elapsed().Seconds(), "records/s")
}

// countingSink counts records without keeping them, so the benchmark measures the receiver.
type countingSink struct{ n int }

func (c *countingSink) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (c *countingSink) ConsumeLogs(_ context.Context, ld plog.Logs) error {
	c.n += ld.LogRecordCount()
	return nil
}
