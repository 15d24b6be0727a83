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
	calls     map[[2]string]int64
	throttled map[string]int64
	marks     map[string]time.Time
	mb        *metadata.MetricsBuilder
	// inventory, when set, gives the inventory gauges; expiryWarning sizes "expiring".
	inventory     *inventoryCache
	expiryWarning time.Duration
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
	return &telemetry{
		start:      time.Now(),
		messages:   map[iflowStatus]*messageAgg{},
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
			s := d.Seconds()
			agg.duration = true
			agg.total += s
			if !agg.hasMax || s > agg.max {
				agg.max, agg.hasMax = s, true
			}
		}
	}
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
	return mb.Emit(metadata.WithResource(mapping.TenantResource(mb, t.resource)))
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
