package mapping

import (
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/metadata"
)

// The operational state: data stores, number ranges, resource usage, archiving runs, External Logging
// health, JMS queues, certificate-to-user mappings and access policies. Events are log records under
// the tenant's resource; gauges are recorded into a MetricsBuilder, which the caller emits with the
// tenant resource (TenantResource) together with whatever else it records.

// Event names of the operational state.
const (
	EventDataStoreOverdue = "sap.cpi.data_store.overdue"
	EventArchivingRun     = "sap.cpi.archiving_run"
	EventExternalLogging  = "sap.cpi.external_logging"
)

// Attribute names of the operational state.
const (
	AttrDataStoreName         = "sap.cpi.data_store.name"
	AttrDataStoreType         = "sap.cpi.data_store.type"
	AttrDataStoreVisibility   = "sap.cpi.data_store.visibility"
	AttrDataStoreEntries      = "sap.cpi.data_store.entries"
	AttrDataStoreOverdue      = "sap.cpi.data_store.overdue_entries"
	AttrDataStoreTransition   = "sap.cpi.data_store.overdue_transition"
	AttrDataStoreOverdueSince = "sap.cpi.data_store.overdue_since"
	AttrDataStoreOverdueIDs   = "sap.cpi.data_store.overdue_message_ids"

	AttrNumberRangeName   = "sap.cpi.number_range.name"
	AttrNumberRangeRotate = "sap.cpi.number_range.rotate"

	AttrResourceUsageType    = "sap.cpi.resource_usage.type"
	AttrResourceUsageContext = "sap.cpi.resource_usage.context"

	AttrArchivingRunStart          = "sap.cpi.archiving.run_start"
	AttrArchivingRunStatus         = "sap.cpi.archiving.run_status"
	AttrArchivingFailedPhase       = "sap.cpi.archiving.run_failed_phase"
	AttrArchivingToBeArchived      = "sap.cpi.archiving.mpls_to_be_archived"
	AttrArchivingArchived          = "sap.cpi.archiving.mpls_archived"
	AttrArchivingFailed            = "sap.cpi.archiving.mpls_archiving_failed"
	AttrArchivingArchivedUntil     = "sap.cpi.archiving.mpls_archived_until"
	AttrArchivingOldest            = "sap.cpi.archiving.oldest_mpl_to_be_archived"
	AttrArchivingUploadedMB        = "sap.cpi.archiving.data_uploaded_mb"
	AttrArchivingRunMinutes        = "sap.cpi.archiving.run_duration_min"
	AttrArchivingCollectionMinutes = "sap.cpi.archiving.data_collection_duration_min"
	AttrArchivingCompressMinutes   = "sap.cpi.archiving.data_compression_duration_min"
	AttrArchivingUploadMinutes     = "sap.cpi.archiving.data_upload_duration_min"

	AttrExtLogEventType       = "sap.cpi.external_logging.event_type"
	AttrExtLogEventObject     = "sap.cpi.external_logging.event_object"
	AttrExtLogHasError        = "sap.cpi.external_logging.has_error"
	AttrExtLogStatusText      = "sap.cpi.external_logging.status_text"
	AttrExtLogStatusChangedAt = "sap.cpi.external_logging.status_changed_at"
	AttrExtLogAverageLoad     = "sap.cpi.external_logging.average_load_s"
	AttrExtLogAverageLag      = "sap.cpi.external_logging.average_lag_s"
	AttrExtLogAvailability    = "sap.cpi.external_logging.average_availability"

	AttrJMSQueueName = "sap.cpi.jms.queue.name"
)

// Values of sap.cpi.data_store.overdue_transition.
const (
	DataStoreBecameOverdue = "overdue"
	DataStoreCleared       = "cleared"
)

// DataStoreOverdueAttributes lists every attribute a sap.cpi.data_store.overdue record can carry.
var DataStoreOverdueAttributes = []string{AttrDataStoreName, AttrIFlowID, AttrDataStoreType, AttrDataStoreVisibility, AttrDataStoreEntries,
	AttrDataStoreOverdue, AttrDataStoreTransition, AttrDataStoreOverdueSince, AttrDataStoreOverdueIDs}

// ArchivingRunAttributes lists every attribute a sap.cpi.archiving_run record can carry.
var ArchivingRunAttributes = []string{AttrArchivingRunStart, AttrArchivingRunStatus, AttrArchivingFailedPhase, AttrArchivingToBeArchived,
	AttrArchivingArchived, AttrArchivingFailed, AttrArchivingArchivedUntil, AttrArchivingOldest, AttrArchivingUploadedMB,
	AttrArchivingRunMinutes, AttrArchivingCollectionMinutes, AttrArchivingCompressMinutes, AttrArchivingUploadMinutes}

// ExternalLoggingAttributes lists every attribute a sap.cpi.external_logging record can carry.
var ExternalLoggingAttributes = []string{AttrExtLogEventType, AttrExtLogEventObject, AttrExtLogHasError, AttrExtLogStatusText,
	AttrExtLogStatusChangedAt, AttrExtLogAverageLoad, AttrExtLogAverageLag, AttrExtLogAvailability}

// ---- Data stores

// DataStoreKey identifies a data store by its three keys.
func DataStoreKey(s cpi.DataStore) string {
	return s.DataStoreName + "\x00" + s.IntegrationFlow + "\x00" + s.Type
}

// DataStoreTransition is a data store whose overdue count went from 0 to more (Overdue) or back to 0.
type DataStoreTransition struct {
	// Store is the store as now read; for a store that is gone, as last read with its counts set to 0.
	Store   cpi.DataStore
	Overdue bool
	// Entries, when the caller read the store's entries, add the overdue message ids and the earliest due
	// date to the record; nil leaves them out.
	Entries []cpi.DataStoreEntry
}

// DataStoreTransitions compares the previous and the current data stores: a store that was at 0
// overdue entries (or unknown) and now has some became overdue; one that had some and now has none, or
// is no longer listed, cleared. A list read with overdueonly=true works the same: a store it leaves
// out has no overdue entries. The result is ordered by store key.
func DataStoreTransitions(prev, cur []cpi.DataStore) []DataStoreTransition {
	before := make(map[string]cpi.DataStore, len(prev))
	for _, s := range prev {
		before[DataStoreKey(s)] = s
	}
	var out []DataStoreTransition
	seen := make(map[string]bool, len(cur))
	for _, s := range cur {
		k := DataStoreKey(s)
		seen[k] = true
		was := before[k].NumberOfOverdueMessages > 0
		is := s.NumberOfOverdueMessages > 0
		if was != is {
			out = append(out, DataStoreTransition{Store: s, Overdue: is})
		}
	}
	for k, s := range before {
		if !seen[k] && s.NumberOfOverdueMessages > 0 {
			s.NumberOfMessages, s.NumberOfOverdueMessages = 0, 0
			out = append(out, DataStoreTransition{Store: s})
		}
	}
	sort.Slice(out, func(i, j int) bool { return DataStoreKey(out[i].Store) < DataStoreKey(out[j].Store) })
	return out
}

// maxOverdueIDs bounds the message ids on one record: enough to start looking, never a whole store.
const maxOverdueIDs = 10

// DataStoreEvents maps overdue transitions to sap.cpi.data_store.overdue records: WARN when a store
// became overdue, INFO when it cleared. observed is both timestamps: the poll is when it was seen.
func (m *Mapper) DataStoreEvents(transitions []DataStoreTransition, observed time.Time) plog.Logs {
	logs, sl, ok := m.eventScope(EventDataStoreOverdue, len(transitions))
	if !ok {
		return logs
	}
	ts := pcommon.NewTimestampFromTime(observed)
	for _, t := range transitions {
		s := t.Store
		lr := appendEvent(sl, EventDataStoreOverdue, ts, ts)
		attrs := lr.Attributes()
		putStr(attrs, AttrDataStoreName, s.DataStoreName)
		putStr(attrs, AttrIFlowID, s.IntegrationFlow)
		putStr(attrs, AttrDataStoreType, s.Type)
		putStr(attrs, AttrDataStoreVisibility, s.Visibility)
		attrs.PutInt(AttrDataStoreEntries, int64(s.NumberOfMessages))
		attrs.PutInt(AttrDataStoreOverdue, int64(s.NumberOfOverdueMessages))
		where := dataStoreName(s)
		if t.Overdue {
			attrs.PutStr(AttrDataStoreTransition, DataStoreBecameOverdue)
			lr.SetSeverityNumber(plog.SeverityNumberWarn)
			lr.SetSeverityText("WARN")
			lr.Body().SetStr(fmt.Sprintf("%s has %d overdue of %d entries", where, s.NumberOfOverdueMessages, s.NumberOfMessages))
			putOverdueEntries(attrs, t.Entries)
			continue
		}
		attrs.PutStr(AttrDataStoreTransition, DataStoreCleared)
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.SetSeverityText("INFO")
		lr.Body().SetStr(fmt.Sprintf("%s has no overdue entries any more (%d entries)", where, s.NumberOfMessages))
	}
	return logs
}

func dataStoreName(s cpi.DataStore) string {
	name := "data store " + s.DataStoreName
	if s.IntegrationFlow != "" {
		name += " of " + s.IntegrationFlow
	}
	if s.Type != "" {
		name += " (" + s.Type + ")"
	}
	return name
}

func putOverdueEntries(attrs pcommon.Map, entries []cpi.DataStoreEntry) {
	var overdue []cpi.DataStoreEntry
	for _, e := range entries {
		if strings.EqualFold(e.Status, "Overdue") {
			overdue = append(overdue, e)
		}
	}
	if len(overdue) == 0 {
		return
	}
	sort.SliceStable(overdue, func(i, j int) bool { return overdue[i].DueAt.Before(overdue[j].DueAt.Time) })
	attrs.PutStr(AttrDataStoreOverdueSince, stamp(overdue[0].DueAt))
	var ids []string
	for _, e := range overdue {
		if e.MessageId != "" && len(ids) < maxOverdueIDs {
			ids = append(ids, e.MessageId)
		}
	}
	if len(ids) > 0 {
		putSlice(attrs, AttrDataStoreOverdueIDs, ids)
	}
}

// RecordDataStores records the entries and overdue entries of each data store.
func RecordDataStores(mb *metadata.MetricsBuilder, ts pcommon.Timestamp, stores []cpi.DataStore) {
	for _, s := range stores {
		mb.RecordSapcpiDataStoreEntriesDataPoint(ts, int64(s.NumberOfMessages), s.DataStoreName, s.IntegrationFlow, s.Type)
		mb.RecordSapcpiDataStoreOverdueEntriesDataPoint(ts, int64(s.NumberOfOverdueMessages), s.DataStoreName, s.IntegrationFlow, s.Type)
	}
}

// ---- Number ranges

// SkippedRange is a number range whose usage could not be computed, and why.
type SkippedRange struct {
	Name, Reason string
}

// NumberRangeUsage computes (CurrentValue − MinValue) / (MaxValue − MinValue), clamped to 0..1, and
// whether the range rotates. The figures are decimal strings of any length (FieldLength may exceed
// int64's 19 digits) and are computed exactly. An error says why the range has no usage.
func NumberRangeUsage(r cpi.NumberRange) (usage float64, rotate bool, err error) {
	switch strings.ToLower(strings.TrimSpace(r.Rotate)) {
	case "true", "1", "x":
		rotate = true
	case "false", "0", "":
	default:
		return 0, false, fmt.Errorf("the Rotate value %q is neither true nor false", r.Rotate)
	}
	lo, err := decimal("MinValue", r.MinValue)
	if err != nil {
		return 0, false, err
	}
	hi, err := decimal("MaxValue", r.MaxValue)
	if err != nil {
		return 0, false, err
	}
	cur, err := decimal("CurrentValue", r.CurrentValue)
	if err != nil {
		return 0, false, err
	}
	span := new(big.Int).Sub(hi, lo)
	if span.Sign() <= 0 {
		return 0, false, fmt.Errorf("the MaxValue %s is not above the MinValue %s", r.MaxValue, r.MinValue)
	}
	used := new(big.Int).Sub(cur, lo)
	usage, _ = new(big.Rat).SetFrac(used, span).Float64()
	return min(max(usage, 0), 1), rotate, nil
}

func decimal(field, s string) (*big.Int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("%s is empty", field)
	}
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return nil, fmt.Errorf("%s %q is not a whole number", field, s)
	}
	return n, nil
}

// RecordNumberRanges records each range's usage and returns the ranges left out, with the reason, for
// the caller to log (once per range, not on every poll).
func RecordNumberRanges(mb *metadata.MetricsBuilder, ts pcommon.Timestamp, ranges []cpi.NumberRange) []SkippedRange {
	var skipped []SkippedRange
	for _, r := range ranges {
		usage, rotate, err := NumberRangeUsage(r)
		if err != nil {
			skipped = append(skipped, SkippedRange{Name: r.Name, Reason: err.Error()})
			continue
		}
		mb.RecordSapcpiNumberRangeUsageDataPoint(ts, usage, r.Name, rotate)
	}
	return skipped
}

// ---- Resource usage

// ResourceUsageBucket is one resource type's figures for one closed hour. Each bucket is to be emitted
// once; Key identifies it across polls and restarts.
type ResourceUsageBucket struct {
	Key   string
	Type  string
	Hour  time.Time
	Usage []cpi.ResourceUsageValue
	Total cpi.Double
}

// ResourceUsageBucketOf is the bucket of an answer. The API gives no per-figure time, so the bucket is
// the hour the window starts in; the caller asks one hour per call.
func ResourceUsageBucketOf(u cpi.ResourceUsage) ResourceUsageBucket {
	hour := u.From.UTC().Truncate(time.Hour)
	return ResourceUsageBucket{Key: u.Type + "@" + hour.Format(time.RFC3339), Type: u.Type, Hour: hour, Usage: u.Usage, Total: u.TotalAvailable}
}

// Empty tells that the tenant had no figure for the hour (not yet, or none kept).
func (b ResourceUsageBucket) Empty() bool {
	for _, v := range b.Usage {
		if _, ok := v.Value.Finite(); ok {
			return false
		}
	}
	return true
}

// RecordResourceUsage records a bucket at its hour: each figure by context, total-available when the
// tenant gives one, and the figures' sum over it when there is a total.
func RecordResourceUsage(mb *metadata.MetricsBuilder, b ResourceUsageBucket) {
	ts := pcommon.NewTimestampFromTime(b.Hour)
	var sum float64
	var seen bool
	for _, v := range b.Usage {
		val, ok := v.Value.Finite()
		if !ok {
			continue
		}
		mb.RecordSapcpiResourceUsageUsedDataPoint(ts, val, b.Type, v.Context)
		sum += val
		seen = true
	}
	total, ok := b.Total.Finite()
	if !ok {
		return
	}
	mb.RecordSapcpiResourceUsageTotalAvailableDataPoint(ts, total, b.Type)
	if seen && total > 0 {
		mb.RecordSapcpiResourceUsageUtilizationDataPoint(ts, sum/total, b.Type)
	}
}

// ---- Archiving

// ArchivingRunKey identifies a state of a run: its RunStart and RunStatus. A run the tenant lists while
// it still runs is reported again when it ends, with its outcome (as an MPL state is).
func ArchivingRunKey(r cpi.ArchivingKeyPerformanceIndicators) string {
	return stamp(r.RunStart) + "|" + r.RunStatus
}

// ArchivingRunFailed tells whether a run failed: its status says so (SAP does not document the words,
// so any status with "FAIL" or "ERROR" in it counts), or MPLs failed to be archived.
func ArchivingRunFailed(r cpi.ArchivingKeyPerformanceIndicators) bool {
	s := strings.ToUpper(r.RunStatus)
	return strings.Contains(s, "FAIL") || strings.Contains(s, "ERROR") || r.MplsArchivingFailed > 0
}

// ArchivingRuns maps runs to sap.cpi.archiving_run records, timestamped at RunStart.
func (m *Mapper) ArchivingRuns(runs []cpi.ArchivingKeyPerformanceIndicators, observed time.Time) plog.Logs {
	logs, sl, ok := m.eventScope(EventArchivingRun, len(runs))
	if !ok {
		return logs
	}
	obs := pcommon.NewTimestampFromTime(observed)
	for _, r := range runs {
		lr := appendEvent(sl, EventArchivingRun, pcommon.NewTimestampFromTime(r.RunStart.Time), obs)
		attrs := lr.Attributes()
		putStr(attrs, AttrArchivingRunStart, stamp(r.RunStart))
		putStr(attrs, AttrArchivingRunStatus, r.RunStatus)
		putStr(attrs, AttrArchivingFailedPhase, r.RunFailedPhase)
		attrs.PutInt(AttrArchivingToBeArchived, int64(r.MplsToBeArchived))
		attrs.PutInt(AttrArchivingArchived, int64(r.MplsArchived))
		attrs.PutInt(AttrArchivingFailed, int64(r.MplsArchivingFailed))
		putStr(attrs, AttrArchivingArchivedUntil, stamp(r.MplsArchivedUntilDate))
		putStr(attrs, AttrArchivingOldest, stamp(r.DateOfOldestMplToBeArchivedAfterRun))
		attrs.PutInt(AttrArchivingUploadedMB, int64(r.DataUploadedInMb))
		attrs.PutInt(AttrArchivingRunMinutes, int64(r.RunDurationInMinutes))
		attrs.PutInt(AttrArchivingCollectionMinutes, int64(r.DataCollectionDurationInMinutes))
		attrs.PutInt(AttrArchivingCompressMinutes, int64(r.DataCompressionDurationInMinutes))
		attrs.PutInt(AttrArchivingUploadMinutes, int64(r.DataUploadDurationInMinutes))
		body := fmt.Sprintf("archiving run of %s: %s, %d of %d MPLs archived", r.RunStart.UTC().Format("2006-01-02 15:04"), orUnknown(r.RunStatus), r.MplsArchived, r.MplsToBeArchived)
		if ArchivingRunFailed(r) {
			lr.SetSeverityNumber(plog.SeverityNumberError)
			lr.SetSeverityText("ERROR")
			if r.MplsArchivingFailed > 0 {
				body += fmt.Sprintf(", %d failed", r.MplsArchivingFailed)
			}
			if r.RunFailedPhase != "" {
				body += " (failed in " + r.RunFailedPhase + ")"
			}
		} else {
			lr.SetSeverityNumber(plog.SeverityNumberInfo)
			lr.SetSeverityText("INFO")
		}
		lr.Body().SetStr(body)
	}
	return logs
}

func orUnknown(s string) string {
	if s == "" {
		return "status unknown"
	}
	return s
}

// RecordArchiving records the latest run's (by RunStart) failure and failed MPLs, and how old the oldest
// MPL still to be archived was at now.
func RecordArchiving(mb *metadata.MetricsBuilder, ts pcommon.Timestamp, now time.Time, runs []cpi.ArchivingKeyPerformanceIndicators) {
	if len(runs) == 0 {
		return
	}
	last := runs[0]
	for _, r := range runs[1:] {
		if r.RunStart.After(last.RunStart.Time) {
			last = r
		}
	}
	var failed int64
	if ArchivingRunFailed(last) {
		failed = 1
	}
	mb.RecordSapcpiArchivingLastRunFailedDataPoint(ts, failed)
	mb.RecordSapcpiArchivingLastRunMplsFailedDataPoint(ts, int64(last.MplsArchivingFailed))
	if oldest := last.DateOfOldestMplToBeArchivedAfterRun; !oldest.IsZero() {
		mb.RecordSapcpiArchivingOldestUnarchivedMplAgeDataPoint(ts, now.Sub(oldest.Time).Seconds())
	}
}

// ---- External Logging

// ExternalLoggingEventKey identifies an event (its Timestamp, epoch milliseconds).
func ExternalLoggingEventKey(e cpi.ExternalLoggingEvent) string {
	return strconv.FormatInt(e.Timestamp.UnixMilli(), 10)
}

// ExternalLoggingEvents maps events to sap.cpi.external_logging records at their Timestamp; an event
// with HasError is an ERROR.
func (m *Mapper) ExternalLoggingEvents(events []cpi.ExternalLoggingEvent, observed time.Time) plog.Logs {
	logs, sl, ok := m.eventScope(EventExternalLogging, len(events))
	if !ok {
		return logs
	}
	obs := pcommon.NewTimestampFromTime(observed)
	for _, e := range events {
		lr := appendEvent(sl, EventExternalLogging, pcommon.NewTimestampFromTime(e.Timestamp.Time), obs)
		attrs := lr.Attributes()
		putStr(attrs, AttrExtLogEventType, e.EventType)
		putStr(attrs, AttrExtLogEventObject, e.EventObject)
		attrs.PutBool(AttrExtLogHasError, bool(e.HasError))
		putStr(attrs, AttrExtLogStatusText, e.StatusText)
		putTime(attrs, AttrExtLogStatusChangedAt, e.StatusChangedAtMillis.Time)
		putDouble(attrs, AttrExtLogAverageLoad, e.AverageLoadSec)
		putDouble(attrs, AttrExtLogAverageLag, e.AverageLagSec)
		putDouble(attrs, AttrExtLogAvailability, e.AverageAvailability)
		body := "External Logging " + strings.TrimSpace(e.EventType+" "+e.EventObject)
		if e.StatusText != "" {
			body += ": " + firstLine(e.StatusText)
		}
		if e.HasError {
			lr.SetSeverityNumber(plog.SeverityNumberError)
			lr.SetSeverityText("ERROR")
		} else {
			lr.SetSeverityNumber(plog.SeverityNumberInfo)
			lr.SetSeverityText("INFO")
		}
		lr.Body().SetStr(body)
	}
	return logs
}

func putDouble(attrs pcommon.Map, key string, d cpi.Double) {
	if v, ok := d.Finite(); ok {
		attrs.PutDouble(key, v)
	}
}

// RecordExternalLoggingActive records whether the push is active.
func RecordExternalLoggingActive(mb *metadata.MetricsBuilder, ts pcommon.Timestamp, s cpi.ExternalLoggingActivationStatus) {
	mb.RecordSapcpiExternalLoggingActiveDataPoint(ts, boolGauge(bool(s.Active)))
}

// RecordExternalLoggingEvents records whether the latest event (by Timestamp) has an error, and the
// averages of the latest event that carries each of them (activation events carry none).
func RecordExternalLoggingEvents(mb *metadata.MetricsBuilder, ts pcommon.Timestamp, events []cpi.ExternalLoggingEvent) {
	if len(events) == 0 {
		return
	}
	sorted := append([]cpi.ExternalLoggingEvent(nil), events...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Timestamp.Before(sorted[j].Timestamp.Time) })
	mb.RecordSapcpiExternalLoggingHasErrorDataPoint(ts, boolGauge(bool(sorted[len(sorted)-1].HasError)))
	latest := func(get func(cpi.ExternalLoggingEvent) cpi.Double) (float64, bool) {
		for i := len(sorted) - 1; i >= 0; i-- {
			if v, ok := get(sorted[i]).Finite(); ok {
				return v, true
			}
		}
		return 0, false
	}
	if v, ok := latest(func(e cpi.ExternalLoggingEvent) cpi.Double { return e.AverageLoadSec }); ok {
		mb.RecordSapcpiExternalLoggingAverageLoadDataPoint(ts, v)
	}
	if v, ok := latest(func(e cpi.ExternalLoggingEvent) cpi.Double { return e.AverageLagSec }); ok {
		mb.RecordSapcpiExternalLoggingAverageLagDataPoint(ts, v)
	}
	if v, ok := latest(func(e cpi.ExternalLoggingEvent) cpi.Double { return e.AverageAvailability }); ok {
		mb.RecordSapcpiExternalLoggingAverageAvailabilityDataPoint(ts, v)
	}
}

func boolGauge(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// ---- JMS queues

// RecordQueues records each queue's messages, size, fill grade, state and whether it is active.
func RecordQueues(mb *metadata.MetricsBuilder, ts pcommon.Timestamp, queues []cpi.Queue) {
	for _, q := range queues {
		mb.RecordSapcpiJmsQueueMessagesDataPoint(ts, int64(q.NumbOfMsgs), q.Name)
		mb.RecordSapcpiJmsQueueSizeDataPoint(ts, int64(q.Size), q.Name)
		mb.RecordSapcpiJmsQueueFillGradeDataPoint(ts, int64(q.FillGrade), q.Name)
		mb.RecordSapcpiJmsQueueStateDataPoint(ts, int64(q.State), q.Name)
		mb.RecordSapcpiJmsQueueActiveDataPoint(ts, int64(q.Active), q.Name)
	}
}

// ---- Certificate-to-user mappings (Neo)

// How certificate-to-user mappings appear on the keystore gauges.
const (
	KeystoreCertificateUserMappings = "certificate_user_mappings"
	EntryTypeCertificateUserMapping = "Certificate User Mapping"
)

// RecordCertificateUserMappings records the mappings on the keystore expiry gauges: keystore
// certificate_user_mappings, alias the mapped user, no owner, entry type Certificate User Mapping. A user
// may have several mappings (a renewed certificate next to the old one); the user keeps access until
// the last expires, so the one valid longest is recorded, once per user. Mappings without ValidUntil are
// left out. warn is the window within which a user counts as expiring.
func RecordCertificateUserMappings(mb *metadata.MetricsBuilder, ts pcommon.Timestamp, now time.Time, mappings []cpi.CertificateUserMapping, warn time.Duration) {
	last := map[string]time.Time{}
	for _, cm := range mappings {
		if cm.ValidUntil.IsZero() {
			continue
		}
		if t, ok := last[cm.User]; !ok || cm.ValidUntil.After(t) {
			last[cm.User] = cm.ValidUntil.Time
		}
	}
	users := make([]string, 0, len(last))
	for u := range last {
		users = append(users, u)
	}
	sort.Strings(users)
	var expiring int64
	for _, u := range users {
		left := last[u].Sub(now)
		mb.RecordSapcpiKeystoreEntryTimeToExpiryDataPoint(ts, left.Seconds(), KeystoreCertificateUserMappings, u, "", EntryTypeCertificateUserMapping)
		if left <= warn {
			expiring++
		}
	}
	mb.RecordSapcpiKeystoreEntriesExpiringDataPoint(ts, expiring, KeystoreCertificateUserMappings)
}

// ---- Access policies

// AccessPolicyWarning tells whether access policies exist and, if so, the warning to log once: the
// MPLs of the artifacts they protect are visible only to users with access to the policy, so a key
// without it misses them silently (inferred from SAP's description of access policies).
func AccessPolicyWarning(policies []cpi.AccessPolicy) (exists bool, warning string) {
	if len(policies) == 0 {
		return false, ""
	}
	var roles []string
	refs := 0
	for _, p := range policies {
		roles = append(roles, p.RoleName)
		refs += len(p.ArtifactReferences)
	}
	sort.Strings(roles)
	return true, fmt.Sprintf("access policies exist (%d: %s; %d artifact references): MPLs of protected artifacts are invisible unless the key's user has access to the policy's role, "+
		"so messages of those artifacts may be missing; assign the roles to the service key's user or client to receive them", len(policies), strings.Join(roles, ", "), refs)
}

// RecordAccessPolicies records how many access policies exist.
func RecordAccessPolicies(mb *metadata.MetricsBuilder, ts pcommon.Timestamp, policies []cpi.AccessPolicy) {
	mb.RecordSapcpiAccessPoliciesDataPoint(ts, int64(len(policies)))
}
