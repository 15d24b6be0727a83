package mapping

import (
	"sort"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// The processing-time histogram. mdatagen v0.159 (the newest the module proxy serves) cannot declare a
// histogram metric, so this one is built with pdata here instead of in metadata.yaml; its name, unit and
// attributes follow the generated metrics, and it sits in the same resource and scope as they do.
const (
	MetricMessageDuration            = "sapcpi.message.duration"
	metricMessageDurationUnit        = "s"
	metricMessageDurationDescription = "Processing time (LogEnd minus LogStart) of the MPL states delivered, by iFlow and status."
)

// MessageDurationBounds are the histogram's explicit bucket upper bounds, in seconds. CPI message
// processing times span five orders of magnitude: a synchronous HTTP or SOAP pass-through finishes in
// tens of milliseconds, a typical mapping-and-call flow in 0.1–5 s, a flow that waits for a slow
// receiver runs into the adapters' default 60 s timeouts, and file or batch flows (SFTP polls, large
// splits, JMS redeliveries) take minutes up to an hour. Roughly 1-2.5-5 steps keep p95/p99 within one
// step of the truth across that range with 17 bounds, few enough for per-iFlow series; anything over an
// hour lands in the +Inf bucket, where the exact value no longer matters for alerting.
var MessageDurationBounds = []float64{
	0.01, 0.025, 0.05, 0.1, 0.25, 0.5, // synchronous calls
	1, 2.5, 5, 10, 30, // the usual mapping and request-reply flows
	60, 120, 300, 600, 1800, 3600, // timeouts, retries, file and batch flows
}

type durationKey struct{ iflow, status string }

// durationSeries holds one (iFlow, status) series: bucket counts (len(bounds)+1, the last one for
// values above the highest bound), their total and the sum of the observations.
type durationSeries struct {
	buckets []uint64
	count   uint64
	sum     float64
}

// DurationHistogram accumulates message processing times per (iFlow id, status) from the receiver's
// start, cumulatively, and appends them as the sapcpi.message.duration histogram. It is not safe for
// concurrent use; the receiver's telemetry holds its lock around every call.
type DurationHistogram struct {
	start  pcommon.Timestamp
	series map[durationKey]*durationSeries
}

// NewDurationHistogram starts an empty histogram whose cumulative points begin at start.
func NewDurationHistogram(start time.Time) *DurationHistogram {
	return &DurationHistogram{
		start:  pcommon.NewTimestampFromTime(start),
		series: map[durationKey]*durationSeries{},
	}
}

// Record observes one delivered MPL state's processing time.
func (h *DurationHistogram) Record(iflowID, status string, d time.Duration) {
	key := durationKey{iflowID, status}
	s := h.series[key]
	if s == nil {
		s = &durationSeries{buckets: make([]uint64, len(MessageDurationBounds)+1)}
		h.series[key] = s
	}
	v := d.Seconds()
	// Buckets are upper-inclusive (OpenTelemetry and Prometheus agree): the first bound ≥ v.
	s.buckets[sort.SearchFloat64s(MessageDurationBounds, v)]++
	s.count++
	s.sum += v
}

// AppendTo appends the histogram, one point per series seen so far, to the first scope of metrics:
// the tenant resource and receiver scope that MetricsBuilder.Emit built, so the histogram carries the
// same resource attributes as the generated metrics. Where Emit built none (its resource filters dropped
// the tenant), the histogram is dropped with them. Nothing is appended before the first observation.
func (h *DurationHistogram) AppendTo(metrics pmetric.Metrics, now time.Time) {
	rms := metrics.ResourceMetrics()
	if len(h.series) == 0 || rms.Len() == 0 || rms.At(0).ScopeMetrics().Len() == 0 {
		return
	}
	sm := rms.At(0).ScopeMetrics().At(0)
	m := sm.Metrics().AppendEmpty()
	m.SetName(MetricMessageDuration)
	m.SetUnit(metricMessageDurationUnit)
	m.SetDescription(metricMessageDurationDescription)
	hist := m.SetEmptyHistogram()
	hist.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	ts := pcommon.NewTimestampFromTime(now)
	points := hist.DataPoints()
	points.EnsureCapacity(len(h.series))
	for key, s := range h.series {
		dp := points.AppendEmpty()
		dp.SetStartTimestamp(h.start)
		dp.SetTimestamp(ts)
		dp.Attributes().PutStr(AttrIFlowID, key.iflow)
		dp.Attributes().PutStr(AttrMessageStatus, key.status)
		dp.ExplicitBounds().FromRaw(MessageDurationBounds)
		dp.BucketCounts().FromRaw(s.buckets)
		dp.SetCount(s.count)
		dp.SetSum(s.sum)
	}
}
