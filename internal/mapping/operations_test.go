package mapping

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/metadata"
)

var opsNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func opsTime(d time.Duration) cpi.Time { return cpi.Time{Time: opsNow.Add(d)} }

// metricsOf records into a fresh builder (started an hour before opsNow) and emits under the tenant.
func metricsOf(record func(mb *metadata.MetricsBuilder, ts pcommon.Timestamp)) pmetric.Metrics {
	mb := metadata.NewMetricsBuilder(metadata.NewDefaultMetricsBuilderConfig(), receivertest.NewNopSettings(metadata.Type),
		metadata.WithStartTime(pcommon.NewTimestampFromTime(opsNow.Add(-time.Hour))))
	record(mb, pcommon.NewTimestampFromTime(opsNow))
	return mb.Emit(metadata.WithResource(TenantResource(mb, Tenant{URL: "https://acme.example/api/v1", Name: "prod"})))
}

func store(name, flow, typ string, entries, overdue int64) cpi.DataStore {
	vis := "Integration Flow"
	if flow == "" {
		vis = "Global"
	}
	return cpi.DataStore{DataStoreName: name, IntegrationFlow: flow, Type: typ, Visibility: vis, NumberOfMessages: cpi.Int64(entries), NumberOfOverdueMessages: cpi.Int64(overdue)}
}

func TestDataStoreTransitionsFireOnTheWayInAndOnTheWayOut(t *testing.T) {
	quiet := store("PO_Retry", "Order_Out", "", 4, 0)
	late := store("PO_Retry", "Order_Out", "", 6, 2)
	later := store("PO_Retry", "Order_Out", "", 7, 3)
	global := store("Delta", "", "", 12, 0)
	as2 := store("AS2_Dup", "EDI_In", "AS2", 6, 1)
	tests := map[string]struct {
		prev, cur []cpi.DataStore
		want      []DataStoreTransition
	}{
		"nothing overdue":             {[]cpi.DataStore{quiet, global}, []cpi.DataStore{quiet, global}, nil},
		"becomes overdue":             {[]cpi.DataStore{quiet, global}, []cpi.DataStore{late, global}, []DataStoreTransition{{Store: late, Overdue: true}}},
		"stays overdue as it grows":   {[]cpi.DataStore{late}, []cpi.DataStore{later}, nil},
		"clears":                      {[]cpi.DataStore{later, global}, []cpi.DataStore{quiet, global}, []DataStoreTransition{{Store: quiet}}},
		"first poll sees it overdue":  {nil, []cpi.DataStore{global, as2}, []DataStoreTransition{{Store: as2, Overdue: true}}},
		"left out of overdueonly":     {[]cpi.DataStore{late}, nil, []DataStoreTransition{{Store: store("PO_Retry", "Order_Out", "", 0, 0)}}},
		"same name, other type apart": {[]cpi.DataStore{store("AS2_Dup", "EDI_In", "", 3, 0)}, []cpi.DataStore{store("AS2_Dup", "EDI_In", "", 3, 0), as2}, []DataStoreTransition{{Store: as2, Overdue: true}}},
		"ordered by key": {nil, []cpi.DataStore{late, as2},
			[]DataStoreTransition{{Store: as2, Overdue: true}, {Store: late, Overdue: true}}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tt.want, DataStoreTransitions(tt.prev, tt.cur))
		})
	}
}

func TestDataStoreEventsMapToTheGoldenRecords(t *testing.T) {
	entries := []cpi.DataStoreEntry{
		{Id: "PO-0003", Status: "Waiting", MessageId: "AGwait", DueAt: opsTime(time.Hour)},
		{Id: "PO-0002", Status: "Overdue", MessageId: "AGlate2", DueAt: opsTime(-30 * time.Minute)},
		{Id: "PO-0001", Status: "Overdue", MessageId: "AGlate1", DueAt: opsTime(-2 * time.Hour)},
	}
	transitions := []DataStoreTransition{
		{Store: store("PO_Retry", "Order_Out", "", 6, 2), Overdue: true, Entries: entries},
		{Store: store("AS2_Dup", "EDI_In", "AS2", 6, 1), Overdue: true},
		{Store: store("Delta", "", "", 12, 0)},
	}
	logs := testMapper(nil).DataStoreEvents(transitions, opsNow)
	compareGolden(t, "data-store-overdue.yaml", logs)
	assertAttributesDeclared(t, logs, EventDataStoreOverdue, DataStoreOverdueAttributes)
	assert.Equal(t, 0, testMapper(nil).DataStoreEvents(nil, opsNow).LogRecordCount())
}

func TestDataStoreGaugesPerStoreAndFlow(t *testing.T) {
	got := metricsOf(func(mb *metadata.MetricsBuilder, ts pcommon.Timestamp) {
		RecordDataStores(mb, ts, []cpi.DataStore{store("PO_Retry", "Order_Out", "", 6, 2), store("Delta", "", "", 12, 0), store("AS2_Dup", "EDI_In", "AS2", 6, 0)})
	})
	compareMetricsGolden(t, "metrics-data-stores.yaml", got)
}

func TestNumberRangeUsageIsExactAndSkipsWhatIsNoNumber(t *testing.T) {
	r := func(lo, hi, cur, rotate string) cpi.NumberRange {
		return cpi.NumberRange{Name: "R", MinValue: lo, MaxValue: hi, CurrentValue: cur, Rotate: rotate}
	}
	tests := map[string]struct {
		in      cpi.NumberRange
		usage   float64
		rotate  bool
		problem string
	}{
		"a tenth":                       {in: r("1000", "2000", "1100", "false"), usage: 0.1},
		"rotating":                      {in: r("1", "101", "91", "true"), usage: 0.9, rotate: true},
		"twenty digits, beyond int64":   {in: r("0", "99999999999999999999", "90000000000000000000", "false"), usage: 0.9000000000000000001},
		"leading zeros":                 {in: r("00000000000001", "00000000000101", "00000000000051", "TRUE"), usage: 0.5, rotate: true},
		"spaces around":                 {in: r(" 0", "10 ", " 5 ", ""), usage: 0.5},
		"past the maximum clamps to 1":  {in: r("0", "10", "12", "false"), usage: 1},
		"below the minimum clamps to 0": {in: r("5", "10", "1", "false"), usage: 0},
		"never drawn":                   {in: r("1", "999999", "", "false"), problem: "CurrentValue is empty"},
		"garbage":                       {in: r("1", "9x", "5", "false"), problem: `MaxValue "9x" is not a whole number`},
		"decimal point":                 {in: r("1", "10", "5.5", "false"), problem: `CurrentValue "5.5" is not a whole number`},
		"max not above min":             {in: r("10", "10", "10", "false"), problem: "MaxValue 10 is not above the MinValue 10"},
		"rotate neither true nor false": {in: r("1", "10", "5", "sometimes"), problem: `Rotate value "sometimes"`},
		"negative figures":              {in: r("-10", "10", "0", "false"), usage: 0.5},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			usage, rotate, err := NumberRangeUsage(tt.in)
			if tt.problem != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.problem)
				return
			}
			require.NoError(t, err)
			assert.InDelta(t, tt.usage, usage, 1e-12)
			assert.Equal(t, tt.rotate, rotate)
		})
	}
}

func TestNumberRangeGaugesLeaveOutAndReportWhatTheyCannotCompute(t *testing.T) {
	ranges := []cpi.NumberRange{
		{Name: "PO_Number_Range", MinValue: "4500000000", MaxValue: "4599999999", CurrentValue: "4591000000", Rotate: "false"},
		{Name: "Invoice_Number", MinValue: "1", MaxValue: "99999", CurrentValue: "40000", Rotate: "true"},
		{Name: "Unused_Range", MinValue: "1", MaxValue: "999999", CurrentValue: "", Rotate: "false"},
	}
	var skipped []SkippedRange
	got := metricsOf(func(mb *metadata.MetricsBuilder, ts pcommon.Timestamp) { skipped = RecordNumberRanges(mb, ts, ranges) })
	compareMetricsGolden(t, "metrics-number-ranges.yaml", got)
	assert.Equal(t, []SkippedRange{{Name: "Unused_Range", Reason: "CurrentValue is empty"}}, skipped)
}

func TestResourceUsageBucketsAreKeyedByTypeAndHour(t *testing.T) {
	hour := time.Date(2026, 6, 1, 11, 0, 0, 0, time.UTC)
	u := cpi.ResourceUsage{Type: cpi.ResourceDBTableSize, From: hour.Add(5 * time.Minute), To: hour.Add(time.Hour),
		Usage:          []cpi.ResourceUsageValue{{Context: "MPL", Value: cpi.Double{Value: 16e9, Valid: true}}, {Context: "DATA_STORE", Value: cpi.Double{Value: 11e9, Valid: true}}},
		TotalAvailable: cpi.Double{Value: 34359738368, Valid: true}}
	b := ResourceUsageBucketOf(u)
	assert.Equal(t, "mon-db-table-size@2026-06-01T11:00:00Z", b.Key, "the same hour gives the same key on every poll")
	assert.Equal(t, hour, b.Hour)
	assert.False(t, b.Empty())
	assert.True(t, ResourceUsageBucketOf(cpi.ResourceUsage{Type: cpi.ResourceDBTableSize, From: hour, Usage: []cpi.ResourceUsageValue{{Context: "x"}}}).Empty(),
		"a bucket whose figures are all missing is empty")

	counts := ResourceUsageBucketOf(cpi.ResourceUsage{Type: cpi.ResourceMessageStatusCount, From: hour,
		Usage: []cpi.ResourceUsageValue{{Context: "COMPLETED", Value: cpi.Double{Value: 3400, Valid: true}}, {Context: "FAILED", Value: cpi.Double{Value: 37, Valid: true}},
			{Context: "RETRY", Value: cpi.Double{Value: math.NaN(), Valid: true}}}})
	got := metricsOf(func(mb *metadata.MetricsBuilder, _ pcommon.Timestamp) {
		RecordResourceUsage(mb, b)
		RecordResourceUsage(mb, counts) // no total: no utilization; NaN is no figure
	})
	compareMetricsGolden(t, "metrics-resource-usage.yaml", got)
}

func archivingRuns() []cpi.ArchivingKeyPerformanceIndicators {
	ok := cpi.ArchivingKeyPerformanceIndicators{RunStart: opsTime(-50 * time.Hour), RunDurationInMinutes: 14, DataCollectionDurationInMinutes: 4,
		DataCompressionDurationInMinutes: 3, DataUploadDurationInMinutes: 7, MplsToBeArchived: 5200, MplsArchived: 5200,
		MplsArchivedUntilDate: opsTime(-218 * time.Hour), DateOfOldestMplToBeArchivedAfterRun: opsTime(-218 * time.Hour), DataUploadedInMb: 180, RunStatus: "COMPLETED"}
	failed := ok
	failed.RunStart, failed.RunStatus, failed.RunFailedPhase = opsTime(-26*time.Hour), "FAILED", "DATA_UPLOAD"
	failed.MplsArchived, failed.MplsArchivingFailed, failed.DataUploadedInMb = 0, 5500, 0
	failed.DateOfOldestMplToBeArchivedAfterRun = opsTime(-242 * time.Hour)
	partly := ok
	partly.RunStart, partly.MplsArchivingFailed, partly.MplsArchived = opsTime(-2*time.Hour), 40, 5160
	return []cpi.ArchivingKeyPerformanceIndicators{ok, partly, failed} // not in RunStart order
}

func TestArchivingRunsMapToTheGoldenRecords(t *testing.T) {
	logs := testMapper(nil).ArchivingRuns(archivingRuns(), opsNow)
	compareGolden(t, "archiving-runs.yaml", logs)
	assertAttributesDeclared(t, logs, EventArchivingRun, ArchivingRunAttributes)
	run := archivingRuns()[0]
	assert.Equal(t, "2026-05-30T10:00:00.000Z|"+run.RunStatus, ArchivingRunKey(run))
	running := run
	running.RunStatus = "RUNNING"
	assert.NotEqual(t, ArchivingRunKey(running), ArchivingRunKey(run), "a run listed while it ran is reported again with its outcome")
}

func TestArchivingFailureIsTheStatusOrFailedMPLs(t *testing.T) {
	for status, want := range map[string]bool{"COMPLETED": false, "FAILED": true, "Failed": true, "COMPLETED_WITH_ERRORS": true, "": false} {
		assert.Equal(t, want, ArchivingRunFailed(cpi.ArchivingKeyPerformanceIndicators{RunStatus: status}), status)
	}
	assert.True(t, ArchivingRunFailed(cpi.ArchivingKeyPerformanceIndicators{RunStatus: "COMPLETED", MplsArchivingFailed: 1}))
}

func TestArchivingGaugesDescribeTheLatestRun(t *testing.T) {
	got := metricsOf(func(mb *metadata.MetricsBuilder, ts pcommon.Timestamp) {
		RecordArchiving(mb, ts, opsNow, archivingRuns())
	})
	compareMetricsGolden(t, "metrics-archiving.yaml", got)
}

func externalLoggingEvents() []cpi.ExternalLoggingEvent {
	ms := func(d time.Duration) cpi.EpochMillis { return cpi.EpochMillis{Time: opsNow.Add(d)} }
	dbl := func(v float64) cpi.Double { return cpi.Double{Value: v, Valid: true} }
	return []cpi.ExternalLoggingEvent{
		{Timestamp: ms(-20 * time.Minute), EventType: "SEND_ERROR", EventObject: "CloudIntegration_MonitoringDataConsumer", HasError: true,
			StatusText: "Sending failed: 503 Service Unavailable\nupstream connect error", StatusChangedAtMillis: ms(-20 * time.Minute),
			AverageLoadSec: dbl(0.2), AverageLagSec: dbl(95.5), AverageAvailability: dbl(0.71)},
		{Timestamp: ms(-120 * time.Hour), EventType: "ACTIVATED", EventObject: "CloudIntegration_MonitoringDataConsumer", StatusText: "External logging activated"},
		{Timestamp: ms(-5 * time.Minute), EventType: "SENDING_RESUMED", EventObject: "CloudIntegration_MonitoringDataConsumer", StatusChangedAtMillis: ms(-5 * time.Minute),
			AverageLoadSec: dbl(0.9), AverageLagSec: dbl(3.2)},
	}
}

func TestExternalLoggingEventsMapToTheGoldenRecords(t *testing.T) {
	logs := testMapper(nil).ExternalLoggingEvents(externalLoggingEvents(), opsNow)
	compareGolden(t, "external-logging.yaml", logs)
	assertAttributesDeclared(t, logs, EventExternalLogging, ExternalLoggingAttributes)
	assert.Equal(t, "1780314000000", ExternalLoggingEventKey(externalLoggingEvents()[0]))
}

func TestExternalLoggingGaugesFollowTheLatestEvent(t *testing.T) {
	got := metricsOf(func(mb *metadata.MetricsBuilder, ts pcommon.Timestamp) {
		RecordExternalLoggingActive(mb, ts, cpi.ExternalLoggingActivationStatus{Id: "x", Active: true})
		// The latest event has no availability: the send error's is the latest there is.
		RecordExternalLoggingEvents(mb, ts, externalLoggingEvents())
	})
	compareMetricsGolden(t, "metrics-external-logging.yaml", got)
}

func TestQueueGaugesPerQueue(t *testing.T) {
	got := metricsOf(func(mb *metadata.MetricsBuilder, ts pcommon.Timestamp) {
		RecordQueues(mb, ts, []cpi.Queue{{Name: "JMS_ORDERS_IN", NumbOfMsgs: 220, Size: 1802240, FillGrade: 17, Active: 1},
			{Name: "JMS_DEADLETTER", NumbOfMsgs: 1150, Size: 9420800, State: 2, FillGrade: 92, Active: 1}, {Name: "JMS_SHIPMENTS"}})
	})
	compareMetricsGolden(t, "metrics-queues.yaml", got)
}

func TestCertificateUserMappingsShareTheKeystoreExpiryGauge(t *testing.T) {
	ms := func(d time.Duration) cpi.EpochMillis { return cpi.EpochMillis{Time: opsNow.Add(d)} }
	mappings := []cpi.CertificateUserMapping{
		{Id: "old", User: "B2B_PARTNER_ACME", ValidUntil: ms(10 * 24 * time.Hour)},
		{Id: "renewed", User: "B2B_PARTNER_ACME", ValidUntil: ms(375 * 24 * time.Hour)}, // the user keeps access until this one expires
		{Id: "tech", User: "S4H_TECH_USER", ValidUntil: ms(20 * 24 * time.Hour)},
		{Id: "gone", User: "OLD_USER", ValidUntil: ms(-24 * time.Hour)},
		{Id: "unset", User: "NO_EXPIRY"},
	}
	got := metricsOf(func(mb *metadata.MetricsBuilder, ts pcommon.Timestamp) {
		RecordCertificateUserMappings(mb, ts, opsNow, mappings, 30*24*time.Hour)
	})
	compareMetricsGolden(t, "metrics-certificate-user-mappings.yaml", got)
}

func TestAccessPoliciesWarnOnceTheyExist(t *testing.T) {
	exists, warning := AccessPolicyWarning(nil)
	assert.False(t, exists)
	assert.Empty(t, warning)
	policies := []cpi.AccessPolicy{
		{Id: 2, RoleName: "AP_Finance_Restricted", ArtifactReferences: cpi.Expanded[cpi.ArtifactReference]{{Id: 21}}},
		{Id: 1, RoleName: "AP_HR_Sensitive", ArtifactReferences: cpi.Expanded[cpi.ArtifactReference]{{Id: 11}, {Id: 12}}},
	}
	exists, warning = AccessPolicyWarning(policies)
	assert.True(t, exists)
	assert.Contains(t, warning, "access policies exist (2: AP_Finance_Restricted, AP_HR_Sensitive; 3 artifact references)")
	assert.Contains(t, warning, "MPLs of protected artifacts are invisible unless the key's user has access")
	got := metricsOf(func(mb *metadata.MetricsBuilder, ts pcommon.Timestamp) { RecordAccessPolicies(mb, ts, policies) })
	compareMetricsGolden(t, "metrics-access-policies.yaml", got)
}

// assertAttributesDeclared fails when a record of the event carries an attribute the event's list does
// not name; the list itself is held against metadata.yaml in TestEventAttributesMatchMetadataYAML.
func assertAttributesDeclared(t *testing.T, logs plog.Logs, event string, declared []string) {
	t.Helper()
	require.Positive(t, logs.LogRecordCount())
	for i := range logs.ResourceLogs().Len() {
		sls := logs.ResourceLogs().At(i).ScopeLogs()
		for j := range sls.Len() {
			lrs := sls.At(j).LogRecords()
			for k := range lrs.Len() {
				lr := lrs.At(k)
				assert.Equal(t, event, lr.EventName())
				for key := range lr.Attributes().All() {
					assert.Contains(t, declared, key, "%s carries %s", event, key)
				}
			}
		}
	}
}

func TestOperationalEventsObeyTheirSwitches(t *testing.T) {
	sw := DefaultSwitches()
	sw.Events.SapCpiDataStoreOverdue.Enabled = false
	sw.Events.SapCpiArchivingRun.Enabled = false
	sw.Events.SapCpiExternalLogging.Enabled = false
	m := NewMapper(Tenant{URL: "https://acme.example/api/v1"}, Scope{Name: "test"}, sw)
	overdue := []DataStoreTransition{{Store: store("PO_Retry", "Order_Out", "", 6, 2), Overdue: true}}
	runs := []cpi.ArchivingKeyPerformanceIndicators{{RunStart: opsTime(-time.Hour), RunStatus: "FAILED"}}
	events := []cpi.ExternalLoggingEvent{{Timestamp: cpi.EpochMillis{Time: opsNow}, EventType: "SEND_ERROR", HasError: true}}
	assert.Zero(t, m.DataStoreEvents(overdue, opsNow).LogRecordCount())
	assert.Zero(t, m.ArchivingRuns(runs, opsNow).LogRecordCount())
	assert.Zero(t, m.ExternalLoggingEvents(events, opsNow).LogRecordCount())

	on := NewMapper(Tenant{URL: "https://acme.example/api/v1"}, Scope{Name: "test"}, DefaultSwitches())
	assert.Equal(t, 1, on.DataStoreEvents(overdue, opsNow).LogRecordCount())
	assert.Equal(t, 1, on.ArchivingRuns(runs, opsNow).LogRecordCount())
	assert.Equal(t, 1, on.ExternalLoggingEvents(events, opsNow).LogRecordCount())
}
