package sapcpireceiver

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"

	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/fakepush"
)

// BenchmarkPushEndpoint posts the simulated tenant's states as SAP's targets send them (gzip; OTEL and
// Splunk 100 events a request, JSON one event a request or arrays of 100; custom headers and adapter
// attributes as extra events after their Run) to the push endpoint over loopback, from 4 connections at
// once, into a fresh receiver each round: decompress, decode the envelope and the MPL in each body,
// de-duplicate, map, consume, commit to an in-memory storage client. It reports pushed MPL states and
// requests per second; the bodies are rendered before the clock runs.
func BenchmarkPushEndpoint(b *testing.B) {
	targets := []struct {
		name   string
		target fakepush.Target
		path   func(PushConfig) string
		opts   func(*fakepush.Options)
	}{
		{"OTEL", fakepush.TargetOTEL, func(c PushConfig) string { return c.OTLPPath }, func(*fakepush.Options) {}},
		{"Splunk", fakepush.TargetSplunk, func(c PushConfig) string { return c.SplunkPath }, func(*fakepush.Options) {}},
		{"JSON single", fakepush.TargetJSON, func(c PushConfig) string { return c.JSONPath }, func(o *fakepush.Options) { o.JSONBatchType = "single" }},
		{"JSON array", fakepush.TargetJSON, func(c PushConfig) string { return c.JSONPath }, func(o *fakepush.Options) { o.JSONBatchType = "array" }},
	}
	for _, tg := range targets {
		b.Run(tg.name, func(b *testing.B) { benchmarkPush(b, tg.target, tg.path, tg.opts) })
	}
}

func benchmarkPush(b *testing.B, target fakepush.Target, path func(PushConfig) string, mutate func(*fakepush.Options)) {
	const backlog, posters = 10000, 4
	tt := newTestTenant(b, fakecpi.Options{Backlog: backlog, BacklogSpan: 50 * time.Minute, Seed: 9})
	opts := fakepush.Defaults(target, "http://unused/v1/logs")
	opts.TenantURL = tt.srv.URL
	mutate(&opts)
	pu, err := fakepush.New(tt.sim, opts)
	require.NoError(b, err)
	bodies, runs, err := pu.Render()
	require.NoError(b, err)
	size := 0
	for _, body := range bodies {
		size += len(body)
	}
	b.Logf("%d requests, %d MPL states, %.1f KiB gzipped per request", len(bodies), runs, float64(size)/float64(len(bodies))/1024)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: posters}}
	contentType := "application/json"

	for b.Loop() {
		b.StopTimer()
		cfg := pushConfig()
		cfg.Messages.Enabled = false // push alone: the pull would compete for the cores
		sink := &countingSink{}
		st := storagetest.NewInMemoryClient(component.KindReceiver, component.MustNewID("file_storage"), "")
		pt := tt.pushed(b, cfg, sink, st)
		url := pt.base + path(cfg.Push)
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, posters)
		b.StartTimer()
		for range posters {
			wg.Go(func() {
				for i := int(next.Add(1)) - 1; i < len(bodies); i = int(next.Add(1)) - 1 {
					req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(bodies[i]))
					req.Header.Set("Content-Type", contentType)
					req.Header.Set("Content-Encoding", "gzip")
					resp, err := client.Do(req)
					if err != nil {
						errs <- err
						return
					}
					_ = resp.Body.Close()
					if resp.StatusCode/100 != 2 {
						errs <- fmt.Errorf("push endpoint answered %s", resp.Status)
						return
					}
				}
			})
		}
		wg.Wait()
		b.StopTimer()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		if sink.n < runs {
			b.Fatalf("delivered %d records for %d pushed states", sink.n, runs)
		}
		require.NoError(b, pt.srv.shutdown(b.Context()))
		b.StartTimer()
	}
	b.ReportMetric(float64(runs*b.N)/b.Elapsed().Seconds(), "MPLs/s")
	b.ReportMetric(float64(len(bodies)*b.N)/b.Elapsed().Seconds(), "requests/s")
	b.ReportMetric(0, "ns/op")
}
