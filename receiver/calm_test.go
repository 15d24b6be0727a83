package sapcpireceiver

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sapcpi-otel/sapcpireceiver/internal/calm"
	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecalm"
	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
)

type almTest struct {
	sim    *fakecalm.Server
	client *calm.Client
	clock  *clock
	logs   *observer.ObservedLogs
}

func newALMTest(t *testing.T, opts fakecalm.Options) *almTest {
	t.Helper()
	clk := newClock(t0)
	opts.Now = clk.Now
	sim := fakecalm.New(opts)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	id, secret := sim.Credentials()
	rt, ref := httpapi.NewOAuth2Transport(http.DefaultTransport, srv.Client(), httpapi.OAuth2Credentials{ClientID: id, ClientSecret: secret, TokenURL: srv.URL + "/oauth/token"})
	client, err := calm.NewClient(srv.URL+"/api", httpapi.Settings{
		HTTPClient: &http.Client{Transport: rt}, Refresher: ref,
		Retry: httpapi.RetryPolicy{MaxRetries: 1, InitialInterval: time.Millisecond, MaxInterval: time.Millisecond, MaxRetryAfter: time.Millisecond},
	})
	require.NoError(t, err)
	return &almTest{sim: sim, client: client, clock: clk}
}

func testALMConfig() CloudALMConfig {
	c := defaultCloudALMConfig()
	c.Enabled = true
	c.InitialLookback = 6 * time.Hour
	c.BucketsPerRequest = 4
	return c
}

func (a *almTest) source(t *testing.T, provider string, cfg CloudALMConfig, next consumer.Metrics, st storage.Client) *windowed[calm.Point] {
	t.Helper()
	core, logs := observer.New(zapcore.InfoLevel)
	a.logs = logs
	res, err := calm.ParseResolution(cfg.Resolution)
	require.NoError(t, err)
	e := testEnv(t, envOptions{metrics: next, storage: st, now: a.clock.Now})
	e.set.Logger = zap.New(core)
	src := newALMSource(provider, cfg, res, a.client, e)
	require.NoError(t, src.load(t.Context()))
	return src
}

// bucketPoint is one delivered sapcpi.alm.executions point.
type bucketPoint struct {
	flow, status string
	start, end   time.Time
}

func executions(all []pmetric.Metrics) map[bucketPoint][]int64 {
	out := map[bucketPoint][]int64{}
	for _, md := range all {
		rms := md.ResourceMetrics()
		for i := 0; i < rms.Len(); i++ {
			ms := rms.At(i).ScopeMetrics().At(0).Metrics()
			for j := 0; j < ms.Len(); j++ {
				if ms.At(j).Name() != "sapcpi.alm.executions" {
					continue
				}
				dps := ms.At(j).Sum().DataPoints()
				for k := 0; k < dps.Len(); k++ {
					dp := dps.At(k)
					flow, _ := dp.Attributes().Get("sap.cpi.iflow.name")
					st, _ := dp.Attributes().Get("sap.cpi.message.status")
					key := bucketPoint{flow.Str(), st.Str(), dp.StartTimestamp().AsTime(), dp.Timestamp().AsTime()}
					out[key] = append(out[key], dp.IntValue())
				}
			}
		}
	}
	return out
}

// checkBuckets asserts every closed bucket in [from, to) arrived exactly once with its final value.
func checkBuckets(t *testing.T, a *almTest, got map[bucketPoint][]int64, from, to time.Time) {
	t.Helper()
	n := 0
	for b := from; b.Before(to); b = b.Add(time.Hour) {
		for _, flow := range fakecalm.Flows {
			for _, status := range []string{"COMPLETED", "FAILED", "RETRY"} {
				key := bucketPoint{flow, status, b, b.Add(time.Hour)}
				vals := got[key]
				if assert.Len(t, vals, 1, "bucket %v", key) {
					assert.Equal(t, a.sim.Executions(flow, status, b, time.Hour, b.Add(24*time.Hour)), vals[0], "final value of %v", key)
				}
				n++
			}
		}
	}
	assert.Equal(t, n, len(got), "no bucket outside the expected range")
}

func TestCloudALMBucketsArriveOnceClosedAndAcrossRestart(t *testing.T) {
	a := newALMTest(t, fakecalm.Options{Seed: 3})
	st := storagetest.NewInMemoryClient(component.KindReceiver, component.MustNewID("file_storage"), "")
	sink := &consumertest.MetricsSink{}
	cfg := testALMConfig()
	src := a.source(t, calm.ProviderCPIMessages, cfg, sink, st)
	for i := range 4 * 10 { // ten hours of 15-minute polls
		require.NoError(t, src.poll(t.Context()))
		if i == 17 {
			src = a.source(t, calm.ProviderCPIMessages, cfg, sink, st) // restart on the stored checkpoint
		}
		a.clock.Advance(15 * time.Minute)
	}
	// The last poll ran at t0+9h45m: buckets ending by then − close_delay (30m) are closed.
	lastClosedEnd := t0.Add(9*time.Hour + 45*time.Minute - cfg.CloseDelay).Truncate(time.Hour)
	checkBuckets(t, a, executions(sink.AllMetrics()), t0.Add(-6*time.Hour), lastClosedEnd)
}

func TestCloudALMOutageLosesNothingAndCatchesUpInSteps(t *testing.T) {
	a := newALMTest(t, fakecalm.Options{Seed: 4})
	sink := &consumertest.MetricsSink{}
	cfg := testALMConfig()
	cfg.InitialLookback = time.Hour
	src := a.source(t, calm.ProviderCPIMessages, cfg, sink, nil)
	require.NoError(t, src.poll(t.Context()))
	a.sim.SetOutage(true)
	failed := 0
	for range 4 * 8 {
		a.clock.Advance(15 * time.Minute)
		// A poll with no newly closed bucket does not call Cloud ALM; the others fail.
		if err := src.poll(t.Context()); err != nil {
			assert.Equal(t, httpapi.KindServer, httpapi.KindOf(err))
			failed++
		}
	}
	assert.Positive(t, failed)
	a.sim.SetOutage(false)
	before := a.sim.Requests()
	require.NoError(t, src.poll(t.Context()))
	assert.Equal(t, 2, a.sim.Requests()-before, "eight hours caught up four buckets per request")
	lastClosedEnd := a.clock.Now().Add(-cfg.CloseDelay).Truncate(time.Hour)
	checkBuckets(t, a, executions(sink.AllMetrics()), t0.Add(-time.Hour), lastClosedEnd)
}

func TestCloudALMRefusedBucketsAreDeliveredLaterOnce(t *testing.T) {
	a := newALMTest(t, fakecalm.Options{Seed: 5})
	cfg := testALMConfig()
	src := a.source(t, calm.ProviderCPIMessages, cfg, consumertest.NewErr(errRefused), nil)
	require.ErrorIs(t, src.poll(t.Context()), errRefused)
	assert.True(t, src.window.Watermark.IsZero(), "the watermark did not move past the refused buckets")
	sink := &consumertest.MetricsSink{}
	src.deliver = newALMSource(calm.ProviderCPIMessages, cfg, calm.Hourly, a.client, testEnv(t, envOptions{metrics: sink, now: a.clock.Now})).deliver
	require.NoError(t, src.poll(t.Context()))
	checkBuckets(t, a, executions(sink.AllMetrics()), t0.Add(-6*time.Hour), t0.Add(-cfg.CloseDelay).Truncate(time.Hour))
}

func TestCloudALMLateDataAfterTheCloseDelayIsNotReEmitted(t *testing.T) {
	// close_delay shorter than Cloud ALM's late data: the bucket goes out before the late execution and
	// is not emitted again — the documented rule, which the README tells users to size close_delay by.
	a := newALMTest(t, fakecalm.Options{Seed: 6, LateBy: 40 * time.Minute})
	sink := &consumertest.MetricsSink{}
	cfg := testALMConfig()
	cfg.InitialLookback = 2 * time.Hour
	src := a.source(t, calm.ProviderCPIMessages, cfg, sink, nil)
	for range 8 {
		require.NoError(t, src.poll(t.Context()))
		a.clock.Advance(15 * time.Minute)
	}
	for key, vals := range executions(sink.AllMetrics()) {
		assert.Len(t, vals, 1, "bucket %v emitted once", key)
	}
}

func TestCloudALMWarningsAreLoggedOnce(t *testing.T) {
	a := newALMTest(t, fakecalm.Options{Warning: "Data collection for service CloudIntegration-ACME-PROD is delayed"})
	src := a.source(t, calm.ProviderCPIMessages, testALMConfig(), &consumertest.MetricsSink{}, nil)
	for range 3 {
		require.NoError(t, src.poll(t.Context()))
		a.clock.Advance(time.Hour)
	}
	assert.Equal(t, 1, a.logs.FilterMessage("Cloud ALM sent a message with its answer").Len())
}

func TestCloudALMHealthFiguresBecomeGauges(t *testing.T) {
	a := newALMTest(t, fakecalm.Options{})
	sink := &consumertest.MetricsSink{}
	cfg := testALMConfig()
	cfg.InitialLookback = 3 * time.Hour
	src := a.source(t, calm.ProviderHealth, cfg, sink, nil)
	require.NoError(t, src.poll(t.Context()))
	names := map[string]int{}
	for _, md := range sink.AllMetrics() {
		rms := md.ResourceMetrics()
		for i := 0; i < rms.Len(); i++ {
			ms := rms.At(i).ScopeMetrics().At(0).Metrics()
			for j := 0; j < ms.Len(); j++ {
				names[ms.At(j).Name()] += ms.At(j).Gauge().DataPoints().Len()
			}
		}
	}
	// Two buckets are closed (t0−3h … t0−1h; the next one closes at t0+30m), two health metrics each.
	assert.Equal(t, map[string]int{"sapcpi.alm.health.value": 4, "sapcpi.alm.health.limit": 4, "sapcpi.alm.health.usage": 4}, names)
}
