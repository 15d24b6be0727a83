package sapcpireceiver

import (
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
)

// BenchmarkTracesRequestCost reads a 10 000-MPL backlog of the simulated tenant (the share that ends
// FAILED is reported) with the message source in four setups and reports what the tenant sees: API
// requests per 1 000 MPL states. "logs" is
// the default logs pipeline (pages plus an error text per FAILED, ESCALATED and RETRY state); "traces"
// adds a traces pipeline with the default runs (FAILED and ESCALATED messages: their runs and each
// run's steps), the error text then taken from the failing step; "traces, error texts apart" reads
// ErrorInformation as well; "traces, every run" reads the runs of every final message.
func BenchmarkTracesRequestCost(b *testing.B) {
	const backlog = 10000
	cases := []struct {
		name   string
		traces bool
		setup  func(*MessagesConfig, *TracesConfig)
	}{
		{"logs", false, func(*MessagesConfig, *TracesConfig) {}},
		{"traces", true, func(*MessagesConfig, *TracesConfig) {}},
		{"traces, error texts apart", true, func(m *MessagesConfig, _ *TracesConfig) { m.ErrorDetails.FromRunSteps = false }},
		{"traces, every run", true, func(_ *MessagesConfig, tc *TracesConfig) { tc.Runs.Statuses = spanStatuses }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			requests, states, failed := 0, 0, 0
			for b.Loop() {
				b.StopTimer()
				tt := newTestTenant(b, fakecpi.Options{Backlog: backlog, BacklogSpan: time.Hour, Seed: 9})
				for _, m := range tt.sim.Truth() {
					states += len(m.States)
					if m.Final().Status == cpi.StatusFailed {
						failed++
					}
				}
				cfg, tc := testMessagesConfig(), testTracesConfig()
				c.setup(&cfg, &tc)
				var spans consumer.Traces
				if c.traces {
					spans = consumertest.NewNop()
				}
				src := tt.tracedSource(b, cfg, tc, consumertest.NewNop(), spans, nil, nil)
				before := tt.sim.Stats().APIRequests
				b.StartTimer()
				if err := src.poll(b.Context()); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				requests += tt.sim.Stats().APIRequests - before
				b.StartTimer()
			}
			b.ReportMetric(1000*float64(requests)/float64(states), "requests/1000MPL")
			b.ReportMetric(100*float64(failed)/float64(backlog*b.N), "%FAILED")
			b.ReportMetric(0, "ns/op") // the time is the test client's retries and the simulator's, not the receiver's
		})
	}
}
