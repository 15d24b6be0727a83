package sapcpireceiver

import (
	"context"
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
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/mapping"
	"github.com/sapcpi-otel/sapcpireceiver/internal/metadata"
)

const epoch = time.Minute // the simulated tenant's TimeScale in these tests

type invTest struct {
	tt      *testTenant
	env     *sourceEnv
	sources map[string]*inventorySource
	sink    *consumertest.LogsSink
}

func newInvTest(t *testing.T, opts fakecpi.Options, cfg InventoryConfig, next consumer.Logs, st storage.Client) *invTest {
	t.Helper()
	opts.TimeScale = epoch
	tt := newTestTenant(t, opts)
	return tt.inventory(t, cfg, next, st)
}

func (tt *testTenant) inventory(t *testing.T, cfg InventoryConfig, next consumer.Logs, st storage.Client) *invTest {
	full := createDefaultConfig().(*Config)
	full.Inventory = cfg
	e := testEnv(t, envOptions{cfg: full, client: tt.client, logs: next, storage: st, tel: tt.tel, now: tt.clock.Now})
	tt.tel.inventory, tt.tel.expiryWarning = e.inventory, cfg.ExpiryWarning
	srcs := map[string]*inventorySource{}
	for _, s := range buildInventorySources(e, tt.client) {
		require.NoError(t, s.load(t.Context()))
		srcs[s.(*inventorySource).kind] = s.(*inventorySource)
	}
	it := &invTest{tt: tt, env: e, sources: srcs}
	if sink, ok := next.(*consumertest.LogsSink); ok {
		it.sink = sink
	}
	return it
}

func allInventory() InventoryConfig {
	c := defaultInventoryConfig()
	c.Packages.Enabled = true
	return c
}

// pollAll runs every source once, the view last (it joins the others).
func (it *invTest) pollAll(t *testing.T) {
	t.Helper()
	for _, kind := range []string{"runtime_artifacts", "service_endpoints", "keystores", "packages", "jms", "view"} {
		if s, ok := it.sources[kind]; ok {
			require.NoError(t, s.poll(t.Context()), kind)
		}
	}
}

type record struct {
	event    string
	resource map[string]any
	attrs    map[string]any
	severity plog.SeverityNumber
	body     string
}

func records(all []plog.Logs) []record {
	var out []record
	for _, ld := range all {
		rls := ld.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			res := rls.At(i).Resource().Attributes().AsRaw()
			lrs := rls.At(i).ScopeLogs().At(0).LogRecords()
			for j := 0; j < lrs.Len(); j++ {
				lr := lrs.At(j)
				out = append(out, record{lr.EventName(), res, lr.Attributes().AsRaw(), lr.SeverityNumber(), lr.Body().Str()})
			}
		}
	}
	return out
}

func byEvent(rs []record, event string) []record {
	var out []record
	for _, r := range rs {
		if r.event == event {
			out = append(out, r)
		}
	}
	return out
}

func TestInventoryFirstPollIsASnapshotOfEveryObject(t *testing.T) {
	sink := &consumertest.LogsSink{}
	it := newInvTest(t, fakecpi.Options{}, allInventory(), sink, nil)
	it.pollAll(t)
	rs := records(sink.AllLogs())
	assert.Len(t, byEvent(rs, mapping.EventRuntimeArtifact), 21, "19 flows, a value mapping and a script collection")
	assert.Len(t, byEvent(rs, mapping.EventServiceEndpoint), 5)
	assert.Len(t, byEvent(rs, mapping.EventKeystoreEntry), 4)
	assert.Len(t, byEvent(rs, mapping.EventIntegrationPackage), 5)
	assert.Len(t, byEvent(rs, mapping.EventJMSBroker), 1)
	assert.Len(t, byEvent(rs, mapping.EventInventory), 21)
	for _, r := range rs {
		assert.NotContains(t, r.event, mapping.ChangedSuffix, "no change events without a previous state")
		assert.Equal(t, "test", r.resource[mapping.AttrTenantName])
	}
	// Resource attributes identify the object.
	art := byEvent(rs, mapping.EventRuntimeArtifact)[0]
	for _, k := range []string{mapping.AttrArtifactID, mapping.AttrArtifactName, mapping.AttrArtifactType, mapping.AttrArtifactVersion} {
		assert.NotEmpty(t, art.resource[k], k)
	}
	// The certificate 20 days from expiry warns.
	for _, r := range byEvent(rs, mapping.EventKeystoreEntry) {
		if r.resource[mapping.AttrKeystoreAlias] == "supplier_portal" {
			assert.Equal(t, plog.SeverityNumberWarn, r.severity)
			assert.Contains(t, r.body, "expires on")
		}
	}
}

func TestInventoryViewJoinsPackageVersionDriftAndEndpoints(t *testing.T) {
	sink := &consumertest.LogsSink{}
	it := newInvTest(t, fakecpi.Options{}, allInventory(), sink, nil)
	it.pollAll(t)
	rows := map[string]record{}
	for _, r := range byEvent(records(sink.AllLogs()), mapping.EventInventory) {
		rows[r.resource[mapping.AttrArtifactID].(string)] = r
	}
	pay := rows["Payment_Run_to_Bank"]
	assert.Equal(t, true, pay.attrs[mapping.AttrArtifactVersionDrift], "design time 1.1.0, deployed 1.0.3")
	assert.Equal(t, "1.1.0", pay.attrs[mapping.AttrArtifactDesigntimeVersion])
	assert.Equal(t, "AcmeFinance", pay.attrs[mapping.AttrPackageID])
	assert.Contains(t, pay.body, "design time has version 1.1.0")
	shop := rows["SalesOrder_from_Webshop"]
	assert.Equal(t, false, shop.attrs[mapping.AttrArtifactVersionDrift])
	assert.Equal(t, []any{"REST"}, shop.attrs[mapping.AttrEndpointProtocols])
	require.Len(t, shop.attrs[mapping.AttrEndpointURLs], 1)
	assert.Contains(t, shop.attrs[mapping.AttrEndpointURLs].([]any)[0], "/http/webshop/salesorder")
	assert.Equal(t, "Acme Sales Integrations", shop.attrs[mapping.AttrPackageName])
}

func TestInventoryEmitsChangesBetweenSnapshots(t *testing.T) {
	sink := &consumertest.LogsSink{}
	it := newInvTest(t, fakecpi.Options{}, allInventory(), sink, nil)
	it.pollAll(t)
	sink.Reset()

	it.tt.clock.Advance(epoch) // epoch 1: first flow redeployed, Send_Invoice_to_Ariba in ERROR
	it.pollAll(t)
	rs := records(sink.AllLogs())
	for _, r := range rs {
		assert.Contains(t, r.event, mapping.ChangedSuffix, "no snapshot before snapshot_interval: %s", r.event)
	}
	changes := byEvent(rs, mapping.EventRuntimeArtifact+mapping.ChangedSuffix)
	got := map[string]record{}
	for _, r := range changes {
		got[r.resource[mapping.AttrArtifactID].(string)] = r
	}
	ariba := got["Send_Invoice_to_Ariba"]
	assert.Equal(t, "updated", ariba.attrs[mapping.AttrChangeType])
	assert.Contains(t, ariba.attrs[mapping.AttrChangeFields], mapping.AttrArtifactStatus)
	assert.Equal(t, "ERROR", ariba.attrs[mapping.AttrArtifactStatus])
	assert.Contains(t, ariba.attrs[mapping.AttrArtifactErrorText], "no valid credential alias", "error text parsed from the ErrorInformation JSON")
	assert.Equal(t, plog.SeverityNumberError, ariba.severity)
	redeployed := got[firstFlow]
	assert.Equal(t, "updated", redeployed.attrs[mapping.AttrChangeType])
	assert.Contains(t, redeployed.attrs[mapping.AttrChangeFields], mapping.AttrArtifactVersion)

	sink.Reset()
	it.tt.clock.Advance(2 * epoch) // epoch 3: OrgUnit_Sync undeployed
	it.pollAll(t)
	var deleted []string
	for _, r := range byEvent(records(sink.AllLogs()), mapping.EventRuntimeArtifact+mapping.ChangedSuffix) {
		if r.attrs[mapping.AttrChangeType] == "deleted" {
			deleted = append(deleted, r.resource[mapping.AttrArtifactID].(string))
		}
	}
	assert.Equal(t, []string{"OrgUnit_Sync"}, deleted)

	sink.Reset()
	it.tt.clock.Advance(2 * epoch) // epoch 5: supplier_portal certificate replaced, OrgUnit_Sync back
	it.pollAll(t)
	rs = records(sink.AllLogs())
	var certChange *record
	for _, r := range byEvent(rs, mapping.EventKeystoreEntry+mapping.ChangedSuffix) {
		if r.resource[mapping.AttrKeystoreAlias] == "supplier_portal" {
			certChange = &r
		}
	}
	require.NotNil(t, certChange, "the replaced certificate is a change")
	assert.Subset(t, certChange.attrs[mapping.AttrChangeFields], []any{mapping.AttrKeystoreSerial, mapping.AttrKeystoreNotAfter})
	created := 0
	for _, r := range byEvent(rs, mapping.EventRuntimeArtifact+mapping.ChangedSuffix) {
		if r.attrs[mapping.AttrChangeType] == "created" {
			created++
			assert.Equal(t, "OrgUnit_Sync", r.resource[mapping.AttrArtifactID])
		}
	}
	assert.Equal(t, 1, created)

	sink.Reset()
	it.tt.clock.Advance(time.Hour) // snapshot_interval passed: every object again
	it.pollAll(t)
	assert.Len(t, byEvent(records(sink.AllLogs()), mapping.EventRuntimeArtifact), 21)
}

var firstFlow = "Replicate_PurchaseOrder_to_Supplier"

func TestInventoryRestartEmitsNoSpuriousCreatedEvents(t *testing.T) {
	st := storagetest.NewInMemoryClient(component.KindReceiver, component.MustNewID("file_storage"), "")
	sink := &consumertest.LogsSink{}
	it := newInvTest(t, fakecpi.Options{}, allInventory(), sink, st)
	it.pollAll(t)
	sink.Reset()
	restarted := it.tt.inventory(t, allInventory(), sink, st)
	restarted.pollAll(t)
	for _, r := range records(sink.AllLogs()) {
		if r.event == mapping.EventInventory {
			continue // the view has no state of its own before its first poll after the restart
		}
		t.Errorf("unexpected record after a restart without changes: %s %v", r.event, r.attrs[mapping.AttrChangeType])
	}
}

func TestInventoryStateHoldsWhenConsumerFails(t *testing.T) {
	it := newInvTest(t, fakecpi.Options{}, allInventory(), consumertest.NewErr(errRefused), nil)
	err := it.sources["runtime_artifacts"].poll(t.Context())
	require.ErrorIs(t, err, errRefused)
	assert.False(t, it.sources["runtime_artifacts"].loaded, "nothing committed")
	it.env.inventory.mu.Lock()
	assert.False(t, it.env.inventory.hasArts, "the metrics do not show what was not delivered")
	it.env.inventory.mu.Unlock()
}

func TestInventoryOneForbiddenSourceDoesNotStopTheOthers(t *testing.T) {
	sink := &consumertest.LogsSink{}
	it := newInvTest(t, fakecpi.Options{ForbiddenPaths: []string{"KeystoreEntries"}}, allInventory(), sink, nil)
	for _, kind := range []string{"runtime_artifacts", "service_endpoints", "keystores", "packages", "jms", "view"} {
		err := it.sources[kind].poll(context.Background())
		if kind == "keystores" {
			require.Error(t, err)
			assert.Equal(t, httpapi.KindForbidden, httpapi.KindOf(err))
			assert.Contains(t, err.Error(), "lacks role MonitoringDataRead")
			continue
		}
		require.NoError(t, err, kind)
	}
	rs := records(sink.AllLogs())
	assert.Empty(t, byEvent(rs, mapping.EventKeystoreEntry))
	assert.NotEmpty(t, byEvent(rs, mapping.EventRuntimeArtifact))
	assert.NotEmpty(t, byEvent(rs, mapping.EventJMSBroker))
}

func gauges(md pmetric.Metrics) map[string][]pmetric.NumberDataPoint {
	out := map[string][]pmetric.NumberDataPoint{}
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	for i := 0; i < ms.Len(); i++ {
		m := ms.At(i)
		var dps pmetric.NumberDataPointSlice
		switch m.Type() {
		case pmetric.MetricTypeGauge:
			dps = m.Gauge().DataPoints()
		case pmetric.MetricTypeSum:
			dps = m.Sum().DataPoints()
		}
		for j := 0; j < dps.Len(); j++ {
			out[m.Name()] = append(out[m.Name()], dps.At(j))
		}
	}
	return out
}

func attr(dp pmetric.NumberDataPoint, key string) string {
	v, _ := dp.Attributes().Get(key)
	return v.AsString()
}

func TestInventoryMetrics(t *testing.T) {
	it := newInvTest(t, fakecpi.Options{}, allInventory(), &consumertest.LogsSink{}, nil)
	it.tt.clock.Advance(epoch) // epoch 1: one artifact in ERROR, one JMS queue in warning
	it.pollAll(t)
	mb := metadata.NewMetricsBuilder(metadata.NewDefaultMetricsBuilderConfig(), receivertest.NewNopSettings(metadata.Type))
	g := gauges(it.tt.tel.collect(mb, it.tt.clock.Now()))

	require.Len(t, g["sapcpi.runtime_artifacts.in_error"], 1)
	assert.EqualValues(t, 1, g["sapcpi.runtime_artifacts.in_error"][0].IntValue())
	var started int64
	for _, dp := range g["sapcpi.runtime_artifacts"] {
		if attr(dp, "sap.cpi.artifact.type") == "INTEGRATION_FLOW" && attr(dp, "sap.cpi.artifact.status") == "STARTED" {
			started = dp.IntValue()
		}
	}
	assert.EqualValues(t, 18, started)

	var supplier pmetric.NumberDataPoint
	for _, dp := range g["sapcpi.keystore_entry.time_to_expiry"] {
		if attr(dp, "sap.cpi.keystore.alias") == "supplier_portal" {
			supplier = dp
		}
	}
	assert.InDelta(t, (20*24*time.Hour - epoch).Seconds(), supplier.DoubleValue(), 1)
	assert.Equal(t, "Tenant Administrator", attr(supplier, "sap.cpi.keystore.owner"))
	require.Len(t, g["sapcpi.keystore_entries.expiring"], 1)
	assert.EqualValues(t, 1, g["sapcpi.keystore_entries.expiring"][0].IntValue(), "only supplier_portal is within 30 days")

	assert.EqualValues(t, 5, g["sapcpi.integration_packages"][0].IntValue())
	assert.EqualValues(t, 9300000000, g["sapcpi.jms.capacity.limit"][0].IntValue())
	assert.EqualValues(t, 30, g["sapcpi.jms.queues.limit"][0].IntValue())
	states := map[string]int64{}
	for _, dp := range g["sapcpi.jms.queues"] {
		states[attr(dp, "sap.cpi.jms.queue_state")] = dp.IntValue()
	}
	assert.Equal(t, map[string]int64{"ok": 4, "warning": 1, "critical": 0}, states)
	protocols := map[string]int64{}
	for _, dp := range g["sapcpi.service_endpoints"] {
		protocols[attr(dp, "sap.cpi.endpoint.protocol")] = dp.IntValue()
	}
	assert.Equal(t, map[string]int64{"SOAP": 2, "REST": 1, "AS2": 1, "ODATAV2": 1}, protocols)
}
