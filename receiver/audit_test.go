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
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sapcpi-otel/sapcpireceiver/internal/btpaudit"
	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/fakeaudit"
	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/mapping"
)

func auditIDs(all []plog.Logs) map[string]int {
	out := map[string]int{}
	for _, ld := range all {
		lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
		for i := 0; i < lrs.Len(); i++ {
			id, _ := lrs.At(i).Attributes().Get(mapping.AttrAuditID)
			out[id.Str()]++
		}
	}
	return out
}

func (tt *testTenant) auditSource(t *testing.T, next consumer.Logs, st storage.Client) *incremental[cpi.AuditLog] {
	cfg := defaultAuditLogsConfig()
	cfg.PageSize = 50
	src := newNeoAuditSource(cfg, tt.client, tt.env(t, next, st))
	require.NoError(t, src.load(t.Context()))
	return src
}

func TestNeoAuditEntriesArriveOnceAcrossPollsAndRestart(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{})
	st := storagetest.NewInMemoryClient(component.KindReceiver, component.MustNewID("file_storage"), "")
	sink := &consumertest.LogsSink{}
	src := tt.auditSource(t, sink, st)
	require.NoError(t, src.poll(t.Context()))
	first := sink.LogRecordCount()
	assert.Equal(t, int((2*time.Hour-time.Minute)/(45*time.Second))+1, first, "two hours before start, minus the settle delay, one entry every 45 s")
	for range 20 {
		tt.clock.Advance(time.Minute)
		src = tt.auditSource(t, sink, st) // a restart every minute
		require.NoError(t, src.poll(t.Context()))
	}
	ids := auditIDs(sink.AllLogs())
	for id, n := range ids {
		assert.Equal(t, 1, n, "entry %s", id)
	}
	assert.Greater(t, len(ids), first+20)
}

func TestNeoAuditConsumerRefusalHoldsTheWatermark(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{})
	src := tt.auditSource(t, consumertest.NewErr(errRefused), nil)
	require.ErrorIs(t, src.poll(t.Context()), errRefused)
	assert.True(t, src.window.Watermark.IsZero())
}

func TestAuditLogsOnACloudFoundryTenantIsNotFound(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{CloudFoundry: true})
	src := tt.auditSource(t, &consumertest.LogsSink{}, nil)
	err := src.poll(t.Context())
	require.Error(t, err)
	assert.Equal(t, httpapi.KindNotFound, httpapi.KindOf(err), "reported once by the poller, then checked every 15 minutes")
	assert.Contains(t, err.Error(), "not available on this tenant")
}

// btpAuditTest is a BTP audit source on the simulated retrieval API, restartable on its storage.
type btpAuditTest struct {
	client *btpaudit.Client
	cfg    BTPAuditConfig
	clock  *clock
}

func (b *btpAuditTest) start(t *testing.T, next consumer.Logs, st storage.Client) *windowed[btpaudit.Record] {
	t.Helper()
	src := newBTPAuditSource(b.cfg, b.client, testEnv(t, envOptions{logs: next, storage: st, now: b.clock.Now}))
	require.NoError(t, src.load(t.Context()))
	return src
}

func newBTPAuditTest(t *testing.T, lookback time.Duration) (*btpAuditTest, *fakeaudit.Server) {
	t.Helper()
	clk := newClock(t0)
	sim := fakeaudit.New(fakeaudit.Options{Start: t0.Add(-30 * time.Hour), Step: 10 * time.Second, Now: clk.Now})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	id, secret := sim.Credentials()
	rt, ref := httpapi.NewOAuth2Transport(http.DefaultTransport, srv.Client(), httpapi.OAuth2Credentials{ClientID: id, ClientSecret: secret, TokenURL: srv.URL + "/oauth/token"})
	client, err := btpaudit.NewClient(srv.URL, httpapi.Settings{HTTPClient: &http.Client{Transport: rt}, Refresher: ref})
	require.NoError(t, err)
	cfg := defaultBTPAuditConfig()
	cfg.Enabled = true
	cfg.InitialLookback = lookback
	return &btpAuditTest{client: client, cfg: cfg, clock: clk}, sim
}

func TestBTPAuditRecordsArriveOnceAcrossWindowsPagesAndRestart(t *testing.T) {
	st := storagetest.NewInMemoryClient(component.KindReceiver, component.MustNewID("file_storage"), "")
	sink := &consumertest.LogsSink{}
	bt, sim := newBTPAuditTest(t, 6*time.Hour)
	clk := bt.clock
	src := bt.start(t, sink, st)
	require.NoError(t, src.poll(t.Context())) // 6 h of backlog: 6 windows, 360 records each, pages of 500
	for range 10 {
		clk.Advance(5 * time.Minute)
		src = bt.start(t, sink, st) // a restart on the same storage
		require.NoError(t, src.poll(t.Context()))
	}
	ids := auditIDs(sink.AllLogs())
	for id, n := range ids {
		assert.Equal(t, 1, n, "record %s", id)
	}
	want := sim.Visible(t0.Add(-6*time.Hour), clk.Now().Add(-bt.cfg.SettleDelay), clk.Now())
	assert.Len(t, ids, len(want))
	for _, id := range want {
		assert.Contains(t, ids, id)
	}
}

func TestBTPAuditRefusedPageIsReadAgainAndDeliveredOnce(t *testing.T) {
	sink := &flakySink{every: 3}
	bt, _ := newBTPAuditTest(t, 3*time.Hour)
	clk := bt.clock
	src := bt.start(t, sink, nil)
	for range 10 {
		_ = src.poll(t.Context())
		clk.Advance(time.Minute)
	}
	ids := auditIDs(sink.AllLogs())
	for id, n := range ids {
		assert.Equal(t, 1, n, "record %s", id)
	}
	assert.Greater(t, len(ids), 1000)
}
