package sapcpireceiver

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"

	"github.com/sapcpi-otel/sapcpireceiver/internal/checkpoint"
	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/mapping"
	"github.com/sapcpi-otel/sapcpireceiver/internal/metadata"
)

// clock is a settable time shared by the simulated tenant and the receiver under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)

// testTenant is a simulated tenant on loopback and an OAuth2 client for it.
type testTenant struct {
	sim    *fakecpi.Server
	srv    *httptest.Server
	client *cpi.Client
	clock  *clock
	tel    *telemetry
}

func newTestTenant(t testing.TB, opts fakecpi.Options) *testTenant {
	t.Helper()
	clk := newClock(t0)
	opts.Now = clk.Now
	if opts.Start.IsZero() {
		opts.Start = t0
	}
	if opts.SlowDelay == 0 {
		opts.SlowDelay = 300 * time.Millisecond
	}
	sim := fakecpi.New(opts)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	id, secret := sim.Credentials()
	tokenClient := &http.Client{Timeout: 5 * time.Second}
	rt, refresher := httpapi.NewOAuth2Transport(http.DefaultTransport, tokenClient, httpapi.OAuth2Credentials{ClientID: id, ClientSecret: secret, TokenURL: srv.URL + "/oauth/token"})
	tel := newTelemetry()
	client, err := cpi.NewClient(cpi.Settings{ServiceRoot: srv.URL, Settings: httpapi.Settings{
		HTTPClient: &http.Client{Transport: rt, Timeout: 10 * time.Second}, // generous: the race detector on a busy machine is slow
		Refresher:  refresher,
		Retry:      httpapi.RetryPolicy{MaxRetries: 3, InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond, MaxRetryAfter: 5 * time.Millisecond},
		Observer:   tel,
	}})
	require.NoError(t, err)
	return &testTenant{sim: sim, srv: srv, client: client, clock: clk, tel: tel}
}

func testMessagesConfig() MessagesConfig {
	cfg := createDefaultConfig().(*Config).Messages
	cfg.SettleDelay = 2 * time.Second
	cfg.Overlap = 20 * time.Second
	cfg.InitialLookback = 2 * time.Hour
	return cfg
}

// envOptions say what a test source is built with; zero fields get test defaults.
type envOptions struct {
	cfg     *Config
	client  *cpi.Client
	logs    consumer.Logs
	metrics consumer.Metrics
	traces  consumer.Traces
	storage storage.Client
	tel     *telemetry
	now     func() time.Time
}

// testEnv is the environment a source is built from in the tenant, with consumers, storage and clock of
// the test's choosing.
func testEnv(t testing.TB, o envOptions) *sourceEnv {
	t.Helper()
	set := receivertest.NewNopSettings(metadata.Type)
	obs, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{ReceiverID: set.ID, ReceiverCreateSettings: set})
	require.NoError(t, err)
	if o.cfg == nil {
		o.cfg = createDefaultConfig().(*Config)
	}
	if o.storage == nil {
		o.storage = storage.NewNopClient()
	}
	if o.tel == nil {
		o.tel = newTelemetry()
	}
	if o.now == nil {
		o.now = time.Now
	}
	url := "https://acme.example/api/v1"
	if o.client != nil {
		url = o.client.Root()
	}
	mapper := mapping.NewMapper(mapping.Tenant{URL: url, Name: "test"}, mapping.Scope{Name: metadata.ScopeName},
		mapping.Switches{Events: o.cfg.Events, ResourceAttributes: o.cfg.ResourceAttributes})
	mapper.CustomHeader = o.cfg.Messages.customHeaderFilter()
	return &sourceEnv{
		ctx: t.Context(), cfg: o.cfg, set: set, host: componenttest.NewNopHost(), client: o.client, mapper: mapper,
		out:   &output{logs: o.logs, metrics: o.metrics, traces: o.traces, obs: obs},
		store: checkpoint.NewStore(o.storage), tel: o.tel, inventory: &inventoryCache{}, now: o.now,
	}
}

func (tt *testTenant) env(t testing.TB, next consumer.Logs, st storage.Client) *sourceEnv {
	return testEnv(t, envOptions{client: tt.client, logs: next, storage: st, tel: tt.tel, now: tt.clock.Now})
}

func (tt *testTenant) source(t testing.TB, cfg MessagesConfig, next consumer.Logs, st storage.Client) *messageSource {
	t.Helper()
	e := tt.env(t, next, st)
	src := newMessageSource(cfg, tt.client, e.mapper, e.out, e.store, e.tel, zap.NewNop(), e.now)
	require.NoError(t, src.load(t.Context()))
	return src
}

// flakySink refuses every n-th batch of log records (none when every is 0) and keeps the rest.
type flakySink struct {
	consumertest.LogsSink
	mu    sync.Mutex
	calls int
	every int
}

var errRefused = errors.New("downstream queue is full")

func (f *flakySink) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	f.mu.Lock()
	f.calls++
	refuse := f.every > 0 && f.calls%f.every == 0
	f.mu.Unlock()
	if refuse {
		return errRefused
	}
	return f.LogsSink.ConsumeLogs(ctx, ld)
}

// stateKey is (MessageGuid, Status, LogEnd) of a delivered record.
type stateKey struct {
	guid, status string
	logEnd       time.Time
}

// delivered lists every record in the sink by its state key, in delivery order.
func delivered(logs []plog.Logs) []stateKey {
	var out []stateKey
	for _, ld := range logs {
		rls := ld.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			sls := rls.At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					lr := lrs.At(k)
					id, _ := lr.Attributes().Get(mapping.AttrMessageID)
					st, _ := lr.Attributes().Get(mapping.AttrMessageStatus)
					out = append(out, stateKey{id.Str(), st.Str(), lr.Timestamp().AsTime()})
				}
			}
		}
	}
	return out
}

// checkExactlyOnce asserts that no state arrived twice and that every message whose final state was
// written before `until` arrived in that final state.
func checkExactlyOnce(t *testing.T, truth []fakecpi.Truth, got []stateKey, until time.Time) {
	t.Helper()
	seen := map[stateKey]int{}
	for _, k := range got {
		seen[k]++
	}
	for k, n := range seen {
		if n > 1 {
			t.Errorf("state %v delivered %d times", k, n)
		}
	}
	finals := 0
	for _, m := range truth {
		f := m.Final()
		if !f.LogEnd.Before(until) {
			continue
		}
		finals++
		if seen[stateKey{m.MessageGUID, f.Status, f.LogEnd.UTC()}] != 1 {
			t.Errorf("final state %s of %s (%s, LogEnd %s) missing", f.Status, m.MessageGUID, m.IFlowID, f.LogEnd)
		}
	}
	require.Positive(t, finals, "the scenario produced no final states to check")
}

// messageCount is the newest cumulative total of sapcpi.messages across the emitted metrics.
func messageCount(all []pmetric.Metrics) int64 {
	var newest int64
	for _, md := range all {
		rms := md.ResourceMetrics()
		for i := 0; i < rms.Len(); i++ {
			sms := rms.At(i).ScopeMetrics()
			for j := 0; j < sms.Len(); j++ {
				ms := sms.At(j).Metrics()
				for k := 0; k < ms.Len(); k++ {
					if ms.At(k).Name() != "sapcpi.messages" {
						continue
					}
					var total int64
					dps := ms.At(k).Sum().DataPoints()
					for d := 0; d < dps.Len(); d++ {
						total += dps.At(d).IntValue()
					}
					newest = total
				}
			}
		}
	}
	return newest
}
