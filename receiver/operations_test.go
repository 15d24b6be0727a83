package sapcpireceiver

import (
	"context"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/mapping"
	"github.com/sapcpi-otel/sapcpireceiver/internal/metadata"
)

// allOperations switches every operational source on, with a resource-usage window a test can reason
// about: the first poll at 08:00 reads the closed hours 05:00 and 06:00 (07:00 closes at 08:10).
func allOperations() OperationsConfig {
	c := defaultOperationsConfig()
	c.DataStores.Enabled, c.ExternalLogging.Enabled, c.Queues.Enabled, c.AccessPolicies.Enabled = true, true, true, true
	c.ResourceUsage.InitialLookback = 3 * time.Hour
	return c
}

// opsTest is the operational sources of one receiver run over a simulated tenant; a restart is a new
// opsTest over the same tenant and storage.
type opsTest struct {
	tt      *testTenant
	env     *sourceEnv
	tel     *telemetry
	sources map[string]source
	logs    *observer.ObservedLogs
}

type opsOptions struct {
	logs    consumer.Logs
	metrics consumer.Metrics
	storage storage.Client
	client  operationsClient
}

func newOpsTest(t *testing.T, opts fakecpi.Options, cfg OperationsConfig) (*testTenant, *opsTest) {
	t.Helper()
	opts.TimeScale = epoch
	tt := newTestTenant(t, opts)
	return tt, tt.operations(t, cfg, opsOptions{logs: &consumertest.LogsSink{}, metrics: &consumertest.MetricsSink{}})
}

func (tt *testTenant) operations(t *testing.T, cfg OperationsConfig, o opsOptions) *opsTest {
	t.Helper()
	full := createDefaultConfig().(*Config)
	full.Operations = cfg
	tel := newTelemetry() // a new process: no gauges until its sources have read
	e := testEnv(t, envOptions{cfg: full, client: tt.client, logs: o.logs, metrics: o.metrics, storage: o.storage, tel: tel, now: tt.clock.Now})
	core, logs := observer.New(zapcore.DebugLevel)
	e.set.Logger = zap.New(core)
	client := o.client
	if client == nil {
		client = tt.client
	}
	srcs := map[string]source{}
	for _, s := range buildOperationsSources(e, client) {
		require.NoError(t, s.load(t.Context()))
		srcs[strings.TrimPrefix(s.name(), opsPrefix)] = s
	}
	return &opsTest{tt: tt, env: e, tel: tel, sources: srcs, logs: logs}
}

func (ot *opsTest) poll(t *testing.T, kind string) {
	t.Helper()
	s, ok := ot.sources[kind]
	require.True(t, ok, "source %s built", kind)
	require.NoError(t, s.poll(t.Context()), kind)
}

// gauges records the operational gauges as the metrics scrape does, at the tenant's time.
func (ot *opsTest) gauges() map[string][]pmetric.NumberDataPoint {
	md := ot.metrics()
	if md.ResourceMetrics().Len() == 0 {
		return map[string][]pmetric.NumberDataPoint{}
	}
	return gauges(md)
}

func (ot *opsTest) metrics() pmetric.Metrics {
	mb := metadata.NewMetricsBuilder(metadata.NewDefaultMetricsBuilderConfig(), receivertest.NewNopSettings(metadata.Type))
	now := ot.tt.clock.Now()
	ot.tel.operations.record(mb, pcommon.NewTimestampFromTime(now), now)
	return mb.Emit(metadata.WithResource(mapping.TenantResource(mb, goldenTenant)))
}

// goldenTenant replaces the simulated tenant's loopback URL, whose port changes from run to run.
var goldenTenant = mapping.Tenant{URL: "https://acme.example/api/v1", Name: "test"}

func withGoldenTenant(md pmetric.Metrics) pmetric.Metrics {
	out := pmetric.NewMetrics()
	md.CopyTo(out)
	for i := 0; i < out.ResourceMetrics().Len(); i++ {
		out.ResourceMetrics().At(i).Resource().Attributes().PutStr(mapping.AttrTenantURL, goldenTenant.URL)
	}
	return out
}

func point(t *testing.T, dps []pmetric.NumberDataPoint, key, value string) pmetric.NumberDataPoint {
	t.Helper()
	for _, dp := range dps {
		if attr(dp, key) == value {
			return dp
		}
	}
	t.Fatalf("no point with %s=%s", key, value)
	return pmetric.NumberDataPoint{}
}

func sinkOf(t *testing.T, ot *opsTest) *consumertest.LogsSink {
	t.Helper()
	return ot.env.out.logs.(*consumertest.LogsSink)
}

func TestOperationsDataStoreOverdueIsAnEventOnTheWayInAndOutOnceAcrossRestarts(t *testing.T) {
	st := storagetest.NewInMemoryClient(component.KindReceiver, component.MustNewID("file_storage"), "")
	tt := newTestTenant(t, fakecpi.Options{TimeScale: epoch})
	sink := &consumertest.LogsSink{}
	run := tt.operations(t, allOperations(), opsOptions{logs: sink, metrics: &consumertest.MetricsSink{}, storage: st})

	run.poll(t, "data_stores") // epoch 0: nothing overdue
	assert.Zero(t, sink.LogRecordCount())
	g := run.gauges()
	require.Len(t, g["sapcpi.data_store.entries"], 3, "one point per store")
	assert.EqualValues(t, 12, point(t, g["sapcpi.data_store.entries"], "sap.cpi.data_store.name", "SupplierMaster_Delta").IntValue())
	as2 := point(t, g["sapcpi.data_store.entries"], "sap.cpi.data_store.name", "AS2_Duplicate_Check")
	assert.Equal(t, "EDI_ORDERS_Inbound", attr(as2, "sap.cpi.iflow.id"))
	assert.Equal(t, "AS2", attr(as2, "sap.cpi.data_store.type"))

	tt.clock.Advance(2 * epoch) // epoch 2: PO_Retry_Store has two overdue entries
	run.poll(t, "data_stores")
	rs := byEvent(records(sink.AllLogs()), mapping.EventDataStoreOverdue)
	require.Len(t, rs, 1)
	r := rs[0]
	assert.Equal(t, plog.SeverityNumberWarn, r.severity)
	assert.Equal(t, "PO_Retry_Store", r.attrs[mapping.AttrDataStoreName])
	assert.Equal(t, "Replicate_PurchaseOrder_to_Supplier", r.attrs[mapping.AttrIFlowID])
	assert.Equal(t, mapping.DataStoreBecameOverdue, r.attrs[mapping.AttrDataStoreTransition])
	assert.EqualValues(t, 2, r.attrs[mapping.AttrDataStoreOverdue])
	assert.Len(t, r.attrs[mapping.AttrDataStoreOverdueIDs], 2, "the entries were read for the ids")
	assert.NotEmpty(t, r.attrs[mapping.AttrDataStoreOverdueSince])
	assert.EqualValues(t, 2, point(t, run.gauges()["sapcpi.data_store.overdue_entries"], "sap.cpi.data_store.name", "PO_Retry_Store").IntValue())

	sink.Reset()
	tt.clock.Advance(epoch) // epoch 3, after a restart: still overdue, nothing new to say
	restarted := tt.operations(t, allOperations(), opsOptions{logs: sink, metrics: &consumertest.MetricsSink{}, storage: st})
	restarted.poll(t, "data_stores")
	assert.Zero(t, sink.LogRecordCount(), "the restart compares with the delivered state")

	tt.clock.Advance(2 * epoch) // epoch 5: cleared
	restarted.poll(t, "data_stores")
	rs = byEvent(records(sink.AllLogs()), mapping.EventDataStoreOverdue)
	require.Len(t, rs, 1)
	assert.Equal(t, mapping.DataStoreCleared, rs[0].attrs[mapping.AttrDataStoreTransition])
	assert.Equal(t, plog.SeverityNumberInfo, rs[0].severity)
}

func TestOperationsDataStoreEventGoesOutWithoutEntriesTheTenantDoesNotServe(t *testing.T) {
	tt, ot := newOpsTest(t, fakecpi.Options{AbsentPaths: []string{"DataStores/Entries"}}, allOperations())
	for _, e := range []time.Duration{2, 5, 10} { // overdue, cleared, overdue again
		tt.clock.Advance(e*epoch - tt.clock.Now().Sub(t0))
		ot.poll(t, "data_stores")
	}
	rs := byEvent(records(sinkOf(t, ot).AllLogs()), mapping.EventDataStoreOverdue)
	require.Len(t, rs, 3)
	for _, r := range []record{rs[0], rs[2]} {
		assert.Equal(t, mapping.DataStoreBecameOverdue, r.attrs[mapping.AttrDataStoreTransition])
		assert.NotContains(t, r.attrs, mapping.AttrDataStoreOverdueIDs)
		assert.EqualValues(t, 2, r.attrs[mapping.AttrDataStoreOverdue])
	}
	warnings := ot.logs.FilterMessageSnippet("Cannot read the entries of an overdue data store").All()
	require.Len(t, warnings, 1, "the same failure is logged once")
	assert.Equal(t, zapcore.WarnLevel, warnings[0].Level)
}

func TestOperationsNumberRangeUsageAndTheRangesLeftOut(t *testing.T) {
	tt, ot := newOpsTest(t, fakecpi.Options{}, allOperations())
	ot.poll(t, "number_ranges")
	tt.clock.Advance(epoch)
	ot.poll(t, "number_ranges")
	g := ot.gauges()
	require.Len(t, g["sapcpi.number_range.usage"], 3, "Unused_Range has no CurrentValue")
	po := point(t, g["sapcpi.number_range.usage"], "sap.cpi.number_range.name", "PO_Number_Range")
	assert.InDelta(t, 0.92, po.DoubleValue(), 1e-6, "epoch 1: 92 %")
	assert.Equal(t, "false", attr(po, "sap.cpi.number_range.rotate"))
	assert.Equal(t, "true", attr(point(t, g["sapcpi.number_range.usage"], "sap.cpi.number_range.name", "IDoc_Control_Number"), "sap.cpi.number_range.rotate"))
	left := ot.logs.FilterMessage("Number range left out of sapcpi.number_range.usage").All()
	require.Len(t, left, 1, "reported once, not on every poll")
	assert.Equal(t, "Unused_Range", left[0].ContextMap()["number_range"])
	assert.Contains(t, left[0].ContextMap()["reason"], "CurrentValue is empty")

	// The metrics scrape of the receiver records them.
	mb := metadata.NewMetricsBuilder(metadata.NewDefaultMetricsBuilderConfig(), receivertest.NewNopSettings(metadata.Type))
	assert.Len(t, gauges(ot.tel.collect(mb, tt.clock.Now()))["sapcpi.number_range.usage"], 3)
}

// bucket is one resource-usage bucket as delivered: type and hour.
type bucket struct {
	typ  string
	hour time.Time
}

func deliveredBuckets(all []pmetric.Metrics) map[bucket]int {
	out := map[bucket]int{}
	for _, md := range all {
		for name, dps := range gauges(md) {
			if name != "sapcpi.resource_usage.used" {
				continue
			}
			seen := map[bucket]bool{}
			for _, dp := range dps {
				b := bucket{attr(dp, "sap.cpi.resource_usage.type"), dp.Timestamp().AsTime().UTC()}
				if !seen[b] {
					seen[b] = true
					out[b]++
				}
			}
		}
	}
	return out
}

func TestOperationsResourceUsageEmitsEachClosedHourOnceAcrossRestarts(t *testing.T) {
	st := storagetest.NewInMemoryClient(component.KindReceiver, component.MustNewID("file_storage"), "")
	tt := newTestTenant(t, fakecpi.Options{TimeScale: epoch})
	metrics := &consumertest.MetricsSink{}
	run := tt.operations(t, allOperations(), opsOptions{logs: &consumertest.LogsSink{}, metrics: metrics, storage: st})
	run.poll(t, "resource_usage")
	got := deliveredBuckets(metrics.AllMetrics())
	h5, h6, h7 := t0.Add(-3*time.Hour), t0.Add(-2*time.Hour), t0.Add(-time.Hour)
	want := map[bucket]int{}
	for _, typ := range cpi.ResourceUsageTypes {
		want[bucket{typ, h5}], want[bucket{typ, h6}] = 1, 1
	}
	assert.Equal(t, want, got, "05:00 and 06:00 of every type; 07:00 is not closed for close_delay yet")
	compareMetricsGolden(t, "operations-resource-usage.yaml", withGoldenTenant(metrics.AllMetrics()[0]))

	// The DB tables against the DB's capacity: the simulated tenant sits near 80 %.
	for _, md := range metrics.AllMetrics() {
		for _, dp := range gauges(md)["sapcpi.resource_usage.utilization"] {
			if attr(dp, "sap.cpi.resource_usage.type") == cpi.ResourceDBTableSize {
				assert.InDelta(t, 0.8, dp.DoubleValue(), 0.021)
			}
		}
	}

	metrics.Reset()
	tt.clock.Advance(20 * time.Minute) // 08:20: 07:00 has closed
	restarted := tt.operations(t, allOperations(), opsOptions{logs: &consumertest.LogsSink{}, metrics: metrics, storage: st})
	restarted.poll(t, "resource_usage")
	restarted.poll(t, "resource_usage")
	want = map[bucket]int{}
	for _, typ := range cpi.ResourceUsageTypes {
		want[bucket{typ, h7}] = 1
	}
	assert.Equal(t, want, deliveredBuckets(metrics.AllMetrics()), "after the restart only the newly closed hour, once")
}

// A tenant that aggregates an hour late answers it empty at first: the hour is asked for again, not
// passed over, and arrives once when its figures are there.
func TestOperationsResourceUsageWaitsForAnHourAggregatedLate(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{TimeScale: epoch, ResourceUsageLateBy: 15 * time.Minute})
	metrics := &consumertest.MetricsSink{}
	run := tt.operations(t, allOperations(), opsOptions{logs: &consumertest.LogsSink{}, metrics: metrics, storage: nil})
	run.poll(t, "resource_usage")
	h7 := t0.Add(-time.Hour)
	metrics.Reset()
	tt.clock.Advance(12 * time.Minute) // 08:12: 07:00 closed for close_delay, not aggregated until 08:15
	run.poll(t, "resource_usage")
	assert.Empty(t, deliveredBuckets(metrics.AllMetrics()), "nothing yet")
	tt.clock.Advance(8 * time.Minute)
	run.poll(t, "resource_usage")
	run.poll(t, "resource_usage")
	want := map[bucket]int{}
	for _, typ := range cpi.ResourceUsageTypes {
		want[bucket{typ, h7}] = 1
	}
	assert.Equal(t, want, deliveredBuckets(metrics.AllMetrics()), "07:00 of every type, once, once aggregated")
}

func TestOperationsArchivingRunsOnceAcrossRestarts(t *testing.T) {
	st := storagetest.NewInMemoryClient(component.KindReceiver, component.MustNewID("file_storage"), "")
	tt := newTestTenant(t, fakecpi.Options{TimeScale: epoch})
	sink := &consumertest.LogsSink{}
	run := tt.operations(t, allOperations(), opsOptions{logs: sink, metrics: &consumertest.MetricsSink{}, storage: st})
	run.poll(t, "archiving")
	rs := byEvent(records(sink.AllLogs()), mapping.EventArchivingRun)
	require.Len(t, rs, 3, "the three daily runs before the start")
	var failed []record
	for _, r := range rs {
		if r.severity == plog.SeverityNumberError {
			failed = append(failed, r)
		}
	}
	require.Len(t, failed, 1)
	assert.Equal(t, "DATA_UPLOAD", failed[0].attrs[mapping.AttrArchivingFailedPhase])
	run.poll(t, "archiving")
	assert.Len(t, byEvent(records(sink.AllLogs()), mapping.EventArchivingRun), 3, "a second poll repeats none")

	sink.Reset()
	tt.clock.Advance(6 * epoch) // runs at +1, +3 and +5 epochs have finished; the one at +5 fails in part
	restarted := tt.operations(t, allOperations(), opsOptions{logs: sink, metrics: &consumertest.MetricsSink{}, storage: st})
	restarted.poll(t, "archiving")
	rs = byEvent(records(sink.AllLogs()), mapping.EventArchivingRun)
	require.Len(t, rs, 3, "after the restart only the new runs")
	assert.Equal(t, plog.SeverityNumberError, rs[2].severity, "oldest first: the newest failed")
	g := restarted.gauges()
	assert.EqualValues(t, 1, g["sapcpi.archiving.last_run.failed"][0].IntValue())
	assert.EqualValues(t, 40, g["sapcpi.archiving.last_run.mpls_failed"][0].IntValue())
	lastRun := t0.Add(5 * epoch)
	assert.InDelta(t, tt.clock.Now().Sub(lastRun.Add(-9*24*time.Hour)).Seconds(), g["sapcpi.archiving.oldest_unarchived_mpl.age"][0].DoubleValue(), 1)
}

func TestOperationsExternalLoggingEventsOnceAcrossRestarts(t *testing.T) {
	st := storagetest.NewInMemoryClient(component.KindReceiver, component.MustNewID("file_storage"), "")
	tt := newTestTenant(t, fakecpi.Options{TimeScale: epoch, CloudFoundry: true})
	sink := &consumertest.LogsSink{}
	run := tt.operations(t, allOperations(), opsOptions{logs: sink, metrics: &consumertest.MetricsSink{}, storage: st})
	run.poll(t, "external_logging")
	rs := byEvent(records(sink.AllLogs()), mapping.EventExternalLogging)
	require.Len(t, rs, 1)
	assert.Equal(t, "ACTIVATED", rs[0].attrs[mapping.AttrExtLogEventType])
	g := run.gauges()
	assert.EqualValues(t, 1, g["sapcpi.external_logging.active"][0].IntValue())
	assert.EqualValues(t, 0, g["sapcpi.external_logging.has_error"][0].IntValue())

	tt.clock.Advance(epoch) // sending fails
	run.poll(t, "external_logging")
	rs = byEvent(records(sink.AllLogs()), mapping.EventExternalLogging)
	require.Len(t, rs, 2)
	assert.Equal(t, plog.SeverityNumberError, rs[1].severity)
	assert.Contains(t, rs[1].body, "503 Service Unavailable")
	g = run.gauges()
	assert.EqualValues(t, 1, g["sapcpi.external_logging.has_error"][0].IntValue())
	assert.InDelta(t, 95.5, g["sapcpi.external_logging.average_lag"][0].DoubleValue(), 1e-9)

	sink.Reset()
	restarted := tt.operations(t, allOperations(), opsOptions{logs: sink, metrics: &consumertest.MetricsSink{}, storage: st})
	restarted.poll(t, "external_logging")
	assert.Zero(t, sink.LogRecordCount(), "no event again after the restart")
	tt.clock.Advance(2 * epoch) // sending resumed
	restarted.poll(t, "external_logging")
	rs = byEvent(records(sink.AllLogs()), mapping.EventExternalLogging)
	require.Len(t, rs, 1)
	assert.Equal(t, "SENDING_RESUMED", rs[0].attrs[mapping.AttrExtLogEventType])
	assert.EqualValues(t, 0, restarted.gauges()["sapcpi.external_logging.has_error"][0].IntValue())
}

func TestOperationsQueuesAndCertificateUserMappingsAreGauges(t *testing.T) {
	tt, ot := newOpsTest(t, fakecpi.Options{}, allOperations())
	ot.poll(t, "queues")
	ot.poll(t, "certificate_user_mappings")
	g := ot.gauges()
	require.Len(t, g["sapcpi.jms.queue.messages"], 5)
	assert.EqualValues(t, 20, point(t, g["sapcpi.jms.queue.messages"], "sap.cpi.jms.queue.name", "JMS_ORDERS_IN").IntValue())
	assert.EqualValues(t, 0, point(t, g["sapcpi.jms.queue.active"], "sap.cpi.jms.queue.name", "JMS_SHIPMENTS").IntValue(), "stopped")
	acme := point(t, g["sapcpi.keystore_entry.time_to_expiry"], "sap.cpi.keystore.alias", "B2B_PARTNER_ACME")
	assert.Equal(t, mapping.KeystoreCertificateUserMappings, attr(acme, "sap.cpi.keystore.name"))
	assert.InDelta(t, (10 * 24 * time.Hour).Seconds(), acme.DoubleValue(), 1)
	assert.EqualValues(t, 1, point(t, g["sapcpi.keystore_entries.expiring"], "sap.cpi.keystore.name", mapping.KeystoreCertificateUserMappings).IntValue(),
		"within inventory.expiry_warning")

	tt.clock.Advance(6 * epoch) // the partner's certificate is renewed next to the old one
	ot.poll(t, "certificate_user_mappings")
	g = ot.gauges()
	acme = point(t, g["sapcpi.keystore_entry.time_to_expiry"], "sap.cpi.keystore.alias", "B2B_PARTNER_ACME")
	assert.InDelta(t, (375*24*time.Hour - 6*epoch).Seconds(), acme.DoubleValue(), 1, "the mapping valid longest counts")
	assert.EqualValues(t, 0, g["sapcpi.keystore_entries.expiring"][0].IntValue())
}

// changingPolicies serves the access policies in turn.
type changingPolicies struct {
	*cpi.Client
	answers [][]cpi.AccessPolicy
	calls   int
}

func (c *changingPolicies) AccessPolicies(context.Context) ([]cpi.AccessPolicy, error) {
	a := c.answers[min(c.calls, len(c.answers)-1)]
	c.calls++
	return a, nil
}

func TestOperationsAccessPolicyWarningIsLoggedOnceAndAgainWhenItChanges(t *testing.T) {
	tt, ot := newOpsTest(t, fakecpi.Options{}, allOperations())
	ot.poll(t, "access_policies")
	ot.poll(t, "access_policies")
	warnings := ot.logs.FilterMessageSnippet("Access policies exist").All()
	require.Len(t, warnings, 1)
	assert.Equal(t, zapcore.WarnLevel, warnings[0].Level)
	assert.Contains(t, warnings[0].ContextMap()["detail"], "AP_Finance_Restricted, AP_HR_Sensitive")
	assert.EqualValues(t, 2, ot.gauges()["sapcpi.access_policies"][0].IntValue())

	hr := cpi.AccessPolicy{Id: 1, RoleName: "AP_HR_Sensitive"}
	fin := cpi.AccessPolicy{Id: 2, RoleName: "AP_Finance_Restricted"}
	stub := &changingPolicies{Client: tt.client, answers: [][]cpi.AccessPolicy{{hr}, {hr}, {hr, fin}, nil, nil}}
	ch := tt.operations(t, allOperations(), opsOptions{logs: &consumertest.LogsSink{}, metrics: &consumertest.MetricsSink{}, client: stub})
	for range 5 {
		ch.poll(t, "access_policies")
	}
	warnings = ch.logs.FilterMessageSnippet("Access policies exist").All()
	require.Len(t, warnings, 2, "once, and again when a policy was added")
	assert.Contains(t, warnings[1].ContextMap()["detail"], "(2: ")
	assert.Len(t, ch.logs.FilterMessage("No access policies exist any more").All(), 1)
	assert.EqualValues(t, 0, ch.gauges()["sapcpi.access_policies"][0].IntValue(), "none is a value")
}

// pollerOf runs a source the way the receiver does, with an observed logger.
func pollerOf(s source) (*poller, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.DebugLevel)
	return &poller{src: s, logger: zap.New(core), rare: time.Hour}, logs
}

func TestOperationsA403IsOneWarningNamingTheRoleThenARareRetry(t *testing.T) {
	roles := map[string]string{
		"data_stores": "DataStoresAndQueuesRead", "queues": "DataStoresAndQueuesRead", "external_logging": "ExternalLoggingActivationRead",
		"access_policies": "AccessPoliciesRead", "number_ranges": "MonitoringDataRead", "resource_usage": "MonitoringDataRead",
		"archiving": "MonitoringDataRead", "certificate_user_mappings": "IntegrationOperationServer.read",
	}
	for _, cf := range []bool{false, true} {
		deny := []string{"DataStores", "Queues", "ExternalLogging", "AccessPolicies", "NumberRanges", "resourceusage", "ArchivingKeyPerformanceIndicators", "CertificateUserMappings"}
		tt, ot := newOpsTest(t, fakecpi.Options{CloudFoundry: cf, ForbiddenPaths: deny}, allOperations())
		require.Len(t, ot.sources, len(roles))
		for kind, role := range roles {
			t.Run(kind, func(t *testing.T) {
				p, logs := pollerOf(ot.sources[kind])
				for range 3 {
					wait := p.report(t.Context(), p.src.poll(t.Context()))
					assert.Equal(t, time.Hour, wait, "retried rarely")
					tt.clock.Advance(time.Hour)
				}
				warnings := logs.FilterLevelExact(zapcore.WarnLevel).All()
				require.Len(t, warnings, 1, "one warning, however often it is retried")
				assert.Equal(t, "Source not readable with these credentials; checking again rarely", warnings[0].Message)
				assert.Contains(t, warnings[0].ContextMap()["error"], "lacks role "+role)
				assert.Empty(t, logs.FilterLevelExact(zapcore.ErrorLevel).All())
			})
		}
	}
}

func TestOperationsA404SaysOnceThatTheTenantLacksTheAPI(t *testing.T) {
	absent := []string{"DataStores", "Queues", "AccessPolicies", "NumberRanges", "resourceusage", "ArchivingKeyPerformanceIndicators"}
	hints := map[string]string{
		"resource_usage": "does not offer /api/v1/resourceusage", "external_logging": "External Logging exists on Cloud Foundry tenants only",
		"data_stores": "not available on this tenant", "queues": "not available on this tenant", "access_policies": "not available on this tenant",
		"number_ranges": "not available on this tenant", "archiving": "not available on this tenant",
	}
	// Neo: no External Logging; Cloud Foundry: no certificate-to-user mappings.
	for _, cf := range []bool{false, true} {
		_, ot := newOpsTest(t, fakecpi.Options{CloudFoundry: cf, AbsentPaths: absent}, allOperations())
		want := maps.Clone(hints)
		if cf {
			delete(want, "external_logging")
			want["certificate_user_mappings"] = "CertificateUserMappings exist on Neo tenants only"
		}
		for kind, hint := range want {
			p, logs := pollerOf(ot.sources[kind])
			for range 3 {
				p.report(t.Context(), p.src.poll(t.Context()))
			}
			warnings := logs.FilterLevelExact(zapcore.WarnLevel).All()
			require.Len(t, warnings, 1, kind)
			assert.Equal(t, "Source not available on this tenant; checking again rarely", warnings[0].Message, kind)
			assert.Contains(t, warnings[0].ContextMap()["error"], hint, kind)
		}
	}
}

func TestOperationsARefusingConsumerCommitsNothing(t *testing.T) {
	st := storagetest.NewInMemoryClient(component.KindReceiver, component.MustNewID("file_storage"), "")
	tt := newTestTenant(t, fakecpi.Options{TimeScale: epoch, CloudFoundry: true})
	tt.clock.Advance(2 * epoch) // a data store overdue, a send error, runs to archive
	refusing := tt.operations(t, allOperations(), opsOptions{logs: consumertest.NewErr(errRefused), metrics: consumertest.NewErr(errRefused), storage: st})
	for _, kind := range []string{"data_stores", "archiving", "external_logging", "resource_usage"} {
		err := refusing.sources[kind].poll(t.Context())
		require.ErrorIs(t, err, errRefused, kind)
		require.ErrorIs(t, err, errConsumer, kind)
	}
	g := refusing.gauges()
	for _, name := range []string{"sapcpi.data_store.entries", "sapcpi.archiving.last_run.failed", "sapcpi.external_logging.active"} {
		assert.Empty(t, g[name], "%s: the gauges show only what was delivered", name)
	}

	logs, metrics := &consumertest.LogsSink{}, &consumertest.MetricsSink{}
	accepting := tt.operations(t, allOperations(), opsOptions{logs: logs, metrics: metrics, storage: st})
	for _, kind := range []string{"data_stores", "archiving", "external_logging", "resource_usage"} {
		accepting.poll(t, kind)
	}
	rs := records(logs.AllLogs())
	assert.Len(t, byEvent(rs, mapping.EventDataStoreOverdue), 1, "the refused transition comes again")
	assert.Len(t, byEvent(rs, mapping.EventArchivingRun), 4)
	assert.Len(t, byEvent(rs, mapping.EventExternalLogging), 2)
	assert.Len(t, deliveredBuckets(metrics.AllMetrics()), 2*len(cpi.ResourceUsageTypes), "every refused bucket comes again")
}

func TestOperationsOneDeniedSourceDoesNotStopTheOthers(t *testing.T) {
	_, ot := newOpsTest(t, fakecpi.Options{ForbiddenPaths: []string{"DataStores"}}, allOperations())
	for kind, s := range ot.sources {
		err := s.poll(t.Context())
		switch kind {
		case "data_stores":
			require.Error(t, err)
			assert.Contains(t, err.Error(), "DataStoresAndQueuesRead")
		case "external_logging":
			require.Error(t, err, "a Neo tenant has no External Logging")
		default:
			require.NoError(t, err, kind)
		}
	}
	g := ot.gauges()
	assert.Empty(t, g["sapcpi.data_store.entries"])
	for _, name := range []string{"sapcpi.number_range.usage", "sapcpi.archiving.last_run.failed", "sapcpi.jms.queue.messages", "sapcpi.access_policies", "sapcpi.keystore_entry.time_to_expiry"} {
		assert.NotEmpty(t, g[name], name)
	}
}

func TestOperationsGaugesOfTheSimulatedTenant(t *testing.T) {
	for name, cf := range map[string]bool{"operations-gauges-neo.yaml": false, "operations-gauges-cf.yaml": true} {
		t.Run(name, func(t *testing.T) {
			tt, ot := newOpsTest(t, fakecpi.Options{CloudFoundry: cf}, allOperations())
			tt.clock.Advance(2 * epoch)
			for kind, s := range ot.sources {
				if kind == "resource_usage" {
					continue // points per bucket, not gauges: TestOperationsResourceUsage…
				}
				err := s.poll(t.Context())
				if (kind == "external_logging" && !cf) || (kind == "certificate_user_mappings" && cf) {
					require.Error(t, err, kind)
					continue
				}
				require.NoError(t, err, kind)
			}
			compareMetricsGolden(t, name, ot.metrics())
		})
	}
}

func TestOperationsRunInTheReceiver(t *testing.T) {
	cfg, _ := simConfig(t, fakecpi.Options{})
	cfg.Messages.Enabled = false
	cfg.Operations = allOperations()
	cfg.CollectionInterval = 50 * time.Millisecond
	f := NewFactory()
	logs, metrics := &consumertest.LogsSink{}, &consumertest.MetricsSink{}
	lr, err := f.CreateLogs(t.Context(), receivertest.NewNopSettings(metadata.Type), cfg, logs)
	require.NoError(t, err)
	mr, err := f.CreateMetrics(t.Context(), receivertest.NewNopSettings(metadata.Type), cfg, metrics)
	require.NoError(t, err)
	require.NoError(t, lr.Start(t.Context(), componenttest.NewNopHost()))
	require.NoError(t, mr.Start(t.Context(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, lr.Shutdown(t.Context())); require.NoError(t, mr.Shutdown(t.Context())) }()

	want := []string{"sapcpi.number_range.usage", "sapcpi.archiving.last_run.failed", "sapcpi.data_store.entries", "sapcpi.jms.queue.fill_grade",
		"sapcpi.access_policies", "sapcpi.keystore_entry.time_to_expiry", "sapcpi.resource_usage.used"}
	require.Eventually(t, func() bool {
		seen := map[string]bool{}
		for _, md := range metrics.AllMetrics() {
			for name := range gauges(md) {
				seen[name] = true
			}
		}
		for _, n := range want {
			if !seen[n] {
				return false
			}
		}
		return countEvents(logs.AllLogs())[mapping.EventArchivingRun] == 3
	}, 10*time.Second, 20*time.Millisecond, "every source's figures reach the pipelines")
}

func TestRunLocalExampleShowsEveryOperationalSource(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("..", "examples", "run-local.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub("receivers::sapcpi/simulated::operations")
	require.NoError(t, err)
	cfg := defaultOperationsConfig()
	require.NoError(t, sub.Unmarshal(&cfg))
	require.NoError(t, cfg.Validate())
	for name, on := range map[string]bool{
		"data_stores": cfg.DataStores.Enabled, "number_ranges": cfg.NumberRanges.Enabled, "resource_usage": cfg.ResourceUsage.Enabled,
		"archiving": cfg.Archiving.Enabled, "external_logging": cfg.ExternalLogging.Enabled, "queues": cfg.Queues.Enabled,
		"certificate_user_mappings": cfg.CertificateUserMappings.Enabled, "access_policies": cfg.AccessPolicies.Enabled,
	} {
		assert.True(t, on, "make run shows %s", name)
	}
}
