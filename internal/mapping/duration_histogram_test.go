package mapping

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/sapcpi-otel/sapcpireceiver/internal/metadata"
)

var histStart = time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)

// durationPoints returns the histogram's points by "iflow/status", failing unless exactly one
// sapcpi.message.duration metric is in metrics.
func durationPoints(t *testing.T, metrics pmetric.Metrics) map[string]pmetric.HistogramDataPoint {
	t.Helper()
	var found []pmetric.Metric
	for i := 0; i < metrics.ResourceMetrics().Len(); i++ {
		sms := metrics.ResourceMetrics().At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				if ms.At(k).Name() == MetricMessageDuration {
					found = append(found, ms.At(k))
				}
			}
		}
	}
	require.Len(t, found, 1, "one sapcpi.message.duration metric")
	m := found[0]
	require.Equal(t, pmetric.MetricTypeHistogram, m.Type())
	assert.Equal(t, "s", m.Unit())
	assert.Equal(t, pmetric.AggregationTemporalityCumulative, m.Histogram().AggregationTemporality())
	out := map[string]pmetric.HistogramDataPoint{}
	dps := m.Histogram().DataPoints()
	for i := 0; i < dps.Len(); i++ {
		dp := dps.At(i)
		iflow, _ := dp.Attributes().Get(AttrIFlowID)
		status, _ := dp.Attributes().Get(AttrMessageStatus)
		assert.Equal(t, 2, dp.Attributes().Len(), "only iFlow and status")
		assert.Equal(t, MessageDurationBounds, dp.ExplicitBounds().AsRaw())
		out[iflow.Str()+"/"+status.Str()] = dp
	}
	return out
}

// emitted is what MetricsBuilder.Emit returns: the tenant's resource with the receiver's scope and one
// generated metric.
func emitted() pmetric.Metrics {
	metrics := pmetric.NewMetrics()
	rm := metrics.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr(AttrTenantName, "prod")
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(metadata.ScopeName)
	sm.Metrics().AppendEmpty().SetName("sapcpi.messages")
	return metrics
}

// bucketsWith is a bucket-count slice with the given counts at the given bucket indexes.
func bucketsWith(counts map[int]uint64) []uint64 {
	b := make([]uint64, len(MessageDurationBounds)+1)
	for i, n := range counts {
		b[i] = n
	}
	return b
}

func TestDurationBoundsRunFrom10msTo1hAscending(t *testing.T) {
	assert.Equal(t, 0.01, MessageDurationBounds[0])
	assert.Equal(t, 3600.0, MessageDurationBounds[len(MessageDurationBounds)-1])
	for i := 1; i < len(MessageDurationBounds); i++ {
		assert.Less(t, MessageDurationBounds[i-1], MessageDurationBounds[i])
	}
}

func TestDurationHistogramCountsEachObservationInItsUpperInclusiveBucket(t *testing.T) {
	h := NewDurationHistogram(histStart)
	h.Record("Order_In", "COMPLETED", 5*time.Millisecond)       // below the first bound → bucket 0
	h.Record("Order_In", "COMPLETED", 10*time.Millisecond)      // exactly on 0.01 → still bucket 0
	h.Record("Order_In", "COMPLETED", 11*time.Millisecond)      // (0.01, 0.025] → bucket 1
	h.Record("Order_In", "COMPLETED", 1500*time.Millisecond)    // (1, 2.5] → bucket 7
	h.Record("Order_In", "COMPLETED", 2*time.Hour)              // above 1 h → the +Inf bucket
	h.Record("Order_In", "FAILED", 45*time.Second)              // (30, 60] → bucket 11
	h.Record("Invoice_Out", "COMPLETED", 1500*time.Millisecond) // another iFlow, its own series

	metrics := emitted()
	h.AppendTo(metrics, histStart.Add(time.Minute))
	points := durationPoints(t, metrics)
	require.Len(t, points, 3)

	ok := points["Order_In/COMPLETED"]
	assert.Equal(t, bucketsWith(map[int]uint64{0: 2, 1: 1, 7: 1, 17: 1}), ok.BucketCounts().AsRaw())
	assert.Equal(t, uint64(5), ok.Count())
	assert.InDelta(t, 0.005+0.01+0.011+1.5+7200, ok.Sum(), 1e-9)
	assert.Equal(t, pcommon.NewTimestampFromTime(histStart), ok.StartTimestamp())
	assert.Equal(t, pcommon.NewTimestampFromTime(histStart.Add(time.Minute)), ok.Timestamp())

	failed := points["Order_In/FAILED"]
	assert.Equal(t, bucketsWith(map[int]uint64{11: 1}), failed.BucketCounts().AsRaw())
	assert.Equal(t, uint64(1), failed.Count())
	assert.InDelta(t, 45.0, failed.Sum(), 1e-9)

	assert.Equal(t, uint64(1), points["Invoice_Out/COMPLETED"].Count())
}

func TestDurationHistogramStaysCumulativeAcrossCollections(t *testing.T) {
	h := NewDurationHistogram(histStart)
	h.Record("Order_In", "COMPLETED", 200*time.Millisecond)
	first := emitted()
	h.AppendTo(first, histStart.Add(time.Minute))

	h.Record("Order_In", "COMPLETED", 300*time.Millisecond)
	h.Record("Order_In", "RETRY", 3*time.Second)
	second := emitted()
	h.AppendTo(second, histStart.Add(2*time.Minute))
	// A collection without new observations repeats the totals: cumulative points never restart.
	third := emitted()
	h.AppendTo(third, histStart.Add(3*time.Minute))

	p1 := durationPoints(t, first)["Order_In/COMPLETED"]
	assert.Equal(t, uint64(1), p1.Count(), "the first collection is not changed by later observations")
	assert.Equal(t, bucketsWith(map[int]uint64{4: 1}), p1.BucketCounts().AsRaw())

	for name, m := range map[string]pmetric.Metrics{"second": second, "third": third} {
		points := durationPoints(t, m)
		require.Len(t, points, 2, name)
		ok := points["Order_In/COMPLETED"]
		assert.Equal(t, uint64(2), ok.Count(), name)
		assert.InDelta(t, 0.5, ok.Sum(), 1e-9, name)
		assert.Equal(t, bucketsWith(map[int]uint64{4: 1, 5: 1}), ok.BucketCounts().AsRaw(), name)
		assert.Equal(t, pcommon.NewTimestampFromTime(histStart), ok.StartTimestamp(), name)
		assert.Equal(t, uint64(1), points["Order_In/RETRY"].Count(), name)
	}
}

func TestDurationHistogramJoinsTheEmittedResourceAndScope(t *testing.T) {
	metrics := emitted()
	h := NewDurationHistogram(histStart)
	h.Record("Order_In", "COMPLETED", time.Second)
	h.AppendTo(metrics, histStart.Add(time.Minute))

	require.Equal(t, 1, metrics.ResourceMetrics().Len(), "no second resource")
	rm := metrics.ResourceMetrics().At(0)
	require.Equal(t, 1, rm.ScopeMetrics().Len(), "no second scope")
	ms := rm.ScopeMetrics().At(0).Metrics()
	require.Equal(t, 2, ms.Len())
	assert.Equal(t, MetricMessageDuration, ms.At(1).Name())
}

func TestDurationHistogramAppendsNothingWithoutObservationsOrWithoutAResource(t *testing.T) {
	h := NewDurationHistogram(histStart)
	metrics := emitted()
	h.AppendTo(metrics, histStart.Add(time.Minute))
	assert.Equal(t, 1, metrics.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().Len(), "nothing before the first observation")

	// Emit returns no resource when its resource filters dropped the tenant: the histogram follows.
	h.Record("Order_In", "COMPLETED", time.Second)
	filtered := pmetric.NewMetrics()
	h.AppendTo(filtered, histStart.Add(time.Minute))
	assert.Equal(t, 0, filtered.ResourceMetrics().Len())
}
