package sapcpireceiver

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecalm"
	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/metadata"
)

func simConfig(t *testing.T, opts fakecpi.Options) (*Config, *fakecpi.Server) {
	t.Helper()
	sim := fakecpi.New(opts)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	id, secret := sim.Credentials()
	cfg := createDefaultConfig().(*Config)
	cfg.Endpoint = srv.URL
	cfg.OAuth2 = &OAuth2Config{ClientID: id, ClientSecret: configopaque.String(secret), TokenURL: srv.URL + "/oauth/token"}
	cfg.TenantName = "sim"
	// The message tests count message records only.
	cfg.Inventory.Enabled, cfg.AuditLogs.Enabled, cfg.LogFiles.Enabled, cfg.Operations.Enabled = false, false, false, false
	cfg.Messages.PollInterval = time.Second
	cfg.Messages.SettleDelay = 0
	cfg.CollectionInterval = 200 * time.Millisecond
	cfg.Retry.InitialInterval = 10 * time.Millisecond
	cfg.Retry.MaxRetryAfter = 10 * time.Millisecond
	require.NoError(t, cfg.Validate())
	return cfg, sim
}

func TestReceiverDeliversLogsAndMetricsFromOneSharedPoller(t *testing.T) {
	cfg, sim := simConfig(t, fakecpi.Options{Backlog: 120, BacklogSpan: 10 * time.Minute})
	cfg.StorageID = ptr(storagetest.NewStorageID("file_storage"))
	host := storagetest.NewStorageHost().WithFileBackedStorageExtension("file_storage", t.TempDir())
	f := NewFactory()
	set := receivertest.NewNopSettings(metadata.Type)
	logs := &consumertest.LogsSink{}
	metrics := &consumertest.MetricsSink{}
	lr, err := f.CreateLogs(t.Context(), set, cfg, logs)
	require.NoError(t, err)
	mr, err := f.CreateMetrics(t.Context(), set, cfg, metrics)
	require.NoError(t, err)
	require.NoError(t, lr.Start(t.Context(), host))
	require.NoError(t, mr.Start(t.Context(), host))

	require.Eventually(t, func() bool { return logs.LogRecordCount() == 120 }, 10*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		for _, md := range metrics.AllMetrics() {
			rms := md.ResourceMetrics()
			for i := 0; i < rms.Len(); i++ {
				ms := rms.At(i).ScopeMetrics().At(0).Metrics()
				for j := 0; j < ms.Len(); j++ {
					if ms.At(j).Name() == "sapcpi.messages" {
						total := int64(0)
						dps := ms.At(j).Sum().DataPoints()
						for k := 0; k < dps.Len(); k++ {
							total += dps.At(k).IntValue()
						}
						if total == 120 {
							return true
						}
					}
				}
			}
		}
		return false
	}, 10*time.Second, 50*time.Millisecond, "the metrics count exactly the delivered records")

	require.NoError(t, lr.Shutdown(t.Context()))
	require.NoError(t, mr.Shutdown(t.Context()))
	assert.Equal(t, 1, sim.Stats().TokensIssued, "one client for both signals")
	assert.Equal(t, 120, logs.LogRecordCount())
}

func TestReceiverWithOnlyMetricsStillCountsMessages(t *testing.T) {
	cfg, _ := simConfig(t, fakecpi.Options{Backlog: 30, BacklogSpan: 10 * time.Minute})
	mr, err := NewFactory().CreateMetrics(t.Context(), receivertest.NewNopSettings(metadata.Type), cfg, &consumertest.MetricsSink{})
	require.NoError(t, err)
	require.NoError(t, mr.Start(t.Context(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, mr.Shutdown(t.Context())) }()
	tel := tenants.m[cfg].telemetry
	require.Eventually(t, func() bool {
		tel.mu.Lock()
		defer tel.mu.Unlock()
		n := int64(0)
		for _, agg := range tel.messages {
			n += agg.count
		}
		return n == 30
	}, 10*time.Second, 20*time.Millisecond)
}

func TestReceiverStartNamesAMissingStorageExtension(t *testing.T) {
	cfg, _ := simConfig(t, fakecpi.Options{})
	cfg.StorageID = ptr(component.MustNewID("file_storage"))
	lr, err := NewFactory().CreateLogs(t.Context(), receivertest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	require.NoError(t, err)
	err = lr.Start(t.Context(), componenttest.NewNopHost())
	require.Error(t, err)
	assert.Contains(t, err.Error(), `extension "file_storage" is not configured`)
	require.NoError(t, lr.Shutdown(t.Context()))
}

func TestPollerReportsARepeatedErrorOnceAndBacksOffFromMissingAPIs(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	p := &poller{src: idleSource{every: time.Second}, rare: time.Hour, logger: zap.New(core)}
	forbidden := &httpapi.Error{Op: "fetching MessageProcessingLogs", Kind: httpapi.KindForbidden, Status: 403, Hint: "the service key's instance lacks role MonitoringDataRead"}
	for range 3 {
		assert.Equal(t, time.Hour, p.report(t.Context(), forbidden), "a forbidden source is checked rarely")
	}
	warnings := logs.FilterLevelExact(zapcore.WarnLevel)
	assert.Equal(t, 1, warnings.Len(), "one actionable warning, not one per poll")
	assert.Contains(t, warnings.All()[0].ContextMap()["error"], "MonitoringDataRead", "it names the role to add")

	server := &httpapi.Error{Op: "fetching MessageProcessingLogs", Kind: httpapi.KindServer, Status: 503}
	assert.Equal(t, time.Second, p.report(t.Context(), server), "a transient failure keeps the normal interval")
	assert.Equal(t, 1, logs.FilterLevelExact(zapcore.ErrorLevel).Len())
	assert.Equal(t, time.Second, p.report(t.Context(), nil))
	assert.Equal(t, 1, logs.FilterMessage("Source recovered").Len())

	missing := &httpapi.Error{Op: "fetching AuditLogs", Kind: httpapi.KindNotFound, Status: 404}
	assert.Equal(t, time.Hour, p.report(t.Context(), missing))
	assert.Equal(t, 1, logs.FilterLevelExact(zapcore.ErrorLevel).Len(), "a missing API is not an error")
	assert.Equal(t, 1, logs.FilterMessage("Source not available on this tenant; checking again rarely").Len(), "a missing API is a warning, not a failure")
}

func TestReceiverDeliversCloudALMBucketsToTheMetricsPipeline(t *testing.T) {
	cfg, _ := simConfig(t, fakecpi.Options{})
	alm := fakecalm.New(fakecalm.Options{})
	srv := httptest.NewServer(alm.Handler())
	t.Cleanup(srv.Close)
	id, secret := alm.Credentials()
	cfg.CloudALM.Enabled = true
	cfg.CloudALM.Endpoint = srv.URL + "/api"
	cfg.CloudALM.OAuth2 = &OAuth2Config{ClientID: id, ClientSecret: configopaque.String(secret), TokenURL: srv.URL + "/oauth/token"}
	cfg.CloudALM.InitialLookback = 3 * time.Hour
	cfg.CloudALM.HealthMonitoring.Enabled = true
	require.NoError(t, cfg.Validate())
	sink := &consumertest.MetricsSink{}
	mr, err := NewFactory().CreateMetrics(t.Context(), receivertest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, mr.Start(t.Context(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, mr.Shutdown(t.Context())) }()
	require.Eventually(t, func() bool {
		seen := map[string]bool{}
		for _, md := range sink.AllMetrics() {
			rms := md.ResourceMetrics()
			for i := 0; i < rms.Len(); i++ {
				ms := rms.At(i).ScopeMetrics().At(0).Metrics()
				for j := 0; j < ms.Len(); j++ {
					seen[ms.At(j).Name()] = true
				}
			}
		}
		return seen["sapcpi.alm.executions"] && seen["sapcpi.alm.error_rate"] && seen["sapcpi.alm.health.usage"]
	}, 10*time.Second, 50*time.Millisecond)
}

// idleSource is a source that reads nothing, for tests of the poller's own behaviour.
type idleSource struct{ every time.Duration }

func (idleSource) name() string               { return "idle" }
func (s idleSource) interval() time.Duration  { return s.every }
func (idleSource) load(context.Context) error { return nil }
func (idleSource) poll(context.Context) error { return nil }
