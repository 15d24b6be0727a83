package sapcpireceiver

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/mapping"
	"github.com/sapcpi-otel/sapcpireceiver/internal/metadata"
)

// telemetry aggregates what the metrics pipeline reports: message counts and durations from the
// delivered MPL states, the API calls the client made, and how far each source trails now. The pollers
// write it, the metrics scraper reads it; sums are cumulative from the receiver's start.
type telemetry struct {
	mu        sync.Mutex
	start     time.Time
	resource  mapping.Tenant
	messages  map[iflowStatus]*messageAgg
	steps     map[[2]string]int64 // failing run steps by iFlow and ModelStepId
	pushed    map[[2]string]int64 // pushed events by format and outcome
	unknown   map[string]int64    // unrecognised keys of pushed MPLs
	calls     map[[2]string]int64
	throttled map[string]int64
	marks     map[string]time.Time
	mb        *metadata.MetricsBuilder
	// inventory, when set, gives the inventory gauges; expiryWarning sizes "expiring".
	inventory     *inventoryCache
	expiryWarning time.Duration
	// durations is the sapcpi.message.duration histogram (built outside mdatagen; see mapping).
	durations *mapping.DurationHistogram
	// operations gives the gauges of the operational state (operations.go).
	operations *operationsCache
}

type iflowStatus struct{ iflow, status string }

type messageAgg struct {
	count    int64
	total    float64 // seconds
	max      float64 // seconds, since the last collection
	hasMax   bool
	duration bool
}

func newTelemetry() *telemetry {
	start := time.Now()
	return &telemetry{
		start:      start,
		durations:  mapping.NewDurationHistogram(start),
		messages:   map[iflowStatus]*messageAgg{},
		steps:      map[[2]string]int64{},
		pushed:     map[[2]string]int64{},
		unknown:    map[string]int64{},
		calls:      map[[2]string]int64{},
		throttled:  map[string]int64{},
		marks:      map[string]time.Time{},
		operations: &operationsCache{},
	}
}

// CallDone implements httpapi.Observer.
func (t *telemetry) CallDone(group string, outcome httpapi.Outcome) {
	t.mu.Lock()
	t.calls[[2]string{group, string(outcome)}]++
	t.mu.Unlock()
}

// Throttled implements httpapi.Observer.
func (t *telemetry) Throttled(group string) {
	t.mu.Lock()
	t.throttled[group]++
	t.mu.Unlock()
}

func (t *telemetry) setResource(tenant mapping.Tenant) {
	t.mu.Lock()
	t.resource = tenant
	t.mu.Unlock()
}

func (t *telemetry) setWatermark(source string, mark time.Time) {
	t.mu.Lock()
	t.marks[source] = mark
	t.mu.Unlock()
}

// recordMessages counts delivered MPL states; it runs only after the next consumer accepted them, so a
// page that is read again after a refusal is not counted twice.
func (t *telemetry) recordMessages(mpls []cpi.MessageProcessingLog) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range mpls {
		m := &mpls[i]
		id := m.IntegrationArtifact.Id
		if id == "" {
			id = m.IntegrationFlowName
		}
		key := iflowStatus{id, m.Status}
		agg := t.messages[key]
		if agg == nil {
			agg = &messageAgg{}
			t.messages[key] = agg
		}
		agg.count++
		if d, ok := mapping.MessageDuration(m); ok {
			t.durations.Record(id, m.Status, d)
			s := d.Seconds()
			agg.duration = true
			agg.total += s
			if !agg.hasMax || s > agg.max {
				agg.max, agg.hasMax = s, true
			}
		}
	}
}

// recordPush counts pushed events by outcome.
func (t *telemetry) recordPush(format, outcome string, n int) {
	if n <= 0 {
		return
	}
	t.mu.Lock()
	t.pushed[[2]string{format, outcome}] += int64(n)
	t.mu.Unlock()
}

// recordUnknownField counts a key of a pushed MPL the receiver did not recognise.
func (t *telemetry) recordUnknownField(key string) {
	t.mu.Lock()
	t.unknown[key]++
	t.mu.Unlock()
}

// recordFailedSteps counts the failing steps of message traces the traces pipeline accepted.
func (t *telemetry) recordFailedSteps(traces []mapping.MessageTrace) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range traces {
		for _, step := range mapping.FailingSteps(&traces[i]) {
			t.steps[[2]string{iflowOf(&traces[i].MPL), step}]++
		}
	}
}

func iflowOf(m *cpi.MessageProcessingLog) string {
	if id := m.IntegrationArtifact.Id; id != "" {
		return id
	}
	return m.IntegrationFlowName
}

// collect emits the current figures; the max durations restart with every collection.
func (t *telemetry) collect(mb *metadata.MetricsBuilder, now time.Time) pmetric.Metrics {
	t.mu.Lock()
	defer t.mu.Unlock()
	ts := pcommon.NewTimestampFromTime(now)
	for k, agg := range t.messages {
		mb.RecordSapcpiMessagesDataPoint(ts, agg.count, k.iflow, k.status)
		if agg.duration {
			mb.RecordSapcpiMessageDurationTotalDataPoint(ts, agg.total, k.iflow, k.status)
		}
		if agg.hasMax {
			mb.RecordSapcpiMessageDurationMaxDataPoint(ts, agg.max, k.iflow, k.status)
			agg.max, agg.hasMax = 0, false
		}
	}
	for k, n := range t.steps {
		mb.RecordSapcpiMessageFailedStepsDataPoint(ts, n, k[0], k[1])
	}
	for k, n := range t.pushed {
		mb.RecordSapcpiPushEventsDataPoint(ts, n, metadata.MapAttributeSapCpiPushFormat[k[0]], metadata.MapAttributeSapCpiPushOutcome[k[1]])
	}
	for k, n := range t.unknown {
		mb.RecordSapcpiPushUnknownFieldsDataPoint(ts, n, k)
	}
	for k, n := range t.calls {
		mb.RecordSapcpiAPIRequestsDataPoint(ts, n, k[0], k[1])
	}
	for g, n := range t.throttled {
		mb.RecordSapcpiAPIThrottledDataPoint(ts, n, g)
	}
	for source, mark := range t.marks {
		if mark.IsZero() {
			continue
		}
		mb.RecordSapcpiReceiverLagDataPoint(ts, now.Sub(mark).Seconds(), source)
	}
	if t.inventory != nil {
		t.inventory.record(mb, ts, now, t.expiryWarning)
	}
	t.operations.record(mb, ts, now)
	metrics := mb.Emit(metadata.WithResource(mapping.TenantResource(mb, t.resource)))
	t.durations.AppendTo(metrics, now)
	return metrics
}

// scrapeMetrics is the metrics scraper of a tenant.
func (t *tenant) scrapeMetrics(context.Context) (pmetric.Metrics, error) {
	t.mu.Lock()
	started := t.started
	t.mu.Unlock()
	if !started {
		return pmetric.NewMetrics(), errNotStarted
	}
	tel := t.telemetry
	tel.mu.Lock()
	if tel.mb == nil {
		tel.mb = metadata.NewMetricsBuilder(t.cfg.MetricsBuilderConfig, t.set, metadata.WithStartTime(pcommon.NewTimestampFromTime(tel.start)))
	}
	mb := tel.mb
	tel.mu.Unlock()
	return tel.collect(mb, time.Now()), nil
}
