package mapping

import (
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/sapcpi-otel/sapcpireceiver/internal/calm"
	"github.com/sapcpi-otel/sapcpireceiver/internal/metadata"
)

// The dimension names of Cloud ALM's providers, as the Analytics API spells them.
const (
	DimServiceName = "ServiceName"
	DimArtifact    = "IntegrationArtifactName"
	DimStatusGroup = "StatusGroup"
	DimStatus      = "Status"
	DimServiceID   = "serviceId"

	DimHMServiceType = "serviceType"
	DimHMServiceID   = "serviceId"
	DimHMServiceName = "serviceName"
	DimHMMetricID    = "metricId"
	DimHMMetricName  = "metricName"
	DimHMMetricLabel = "metricLabel"
)

// CPIMessagesDimensions are the dimensions asked of provider CPI_MESSAGES.
var CPIMessagesDimensions = []string{DimServiceName, DimArtifact, DimStatusGroup, DimStatus, DimServiceID}

// HealthDimensions are the dimensions asked of provider HM_ANALYTICS_DP.
var HealthDimensions = []string{DimHMServiceType, DimHMServiceID, DimHMServiceName, DimHMMetricID, DimHMMetricName, DimHMMetricLabel}

// HealthMeasures are the measures asked of provider HM_ANALYTICS_DP and mapped to gauges.
var HealthMeasures = []string{"value", "limit", "usage"}

// byBucket groups points by bucket start, oldest first.
func byBucket(points []calm.Point) ([]time.Time, map[time.Time][]calm.Point) {
	groups := map[time.Time][]calm.Point{}
	for _, p := range points {
		groups[p.Start] = append(groups[p.Start], p)
	}
	starts := make([]time.Time, 0, len(groups))
	for s := range groups {
		starts = append(starts, s)
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
	return starts, groups
}

// isError tells whether Cloud ALM counts executions as failed: by status group, or by status where the
// group is not given.
func isError(p calm.Point) bool {
	if g := p.Dimensions[DimStatusGroup]; g != "" {
		return strings.EqualFold(g, "ERROR") || strings.EqualFold(g, "FAILED")
	}
	switch p.Dimensions[DimStatus] {
	case "FAILED", "ESCALATED":
		return true
	}
	return false
}

// ALMExecutions maps closed CPI_MESSAGES buckets to one delta point per series and bucket (start = the
// bucket's start, time = its end) and an error-rate gauge per flow and bucket.
func ALMExecutions(mb *metadata.MetricsBuilder, res pcommon.Resource, points []calm.Point, r calm.Resolution) pmetric.Metrics {
	starts, groups := byBucket(points)
	for _, start := range starts {
		end := pcommon.NewTimestampFromTime(start.Add(r.Size))
		type flowKey struct{ flow, id, name string }
		type tally struct{ total, errors int64 }
		flows := map[flowKey]*tally{}
		for _, p := range groups[start] {
			d := p.Dimensions
			n := int64(p.Value)
			mb.RecordSapcpiAlmExecutionsDataPoint(end, n, d[DimArtifact], d[DimStatus], d[DimStatusGroup], d[DimServiceID], d[DimServiceName], r.Name)
			k := flowKey{d[DimArtifact], d[DimServiceID], d[DimServiceName]}
			t := flows[k]
			if t == nil {
				t = &tally{}
				flows[k] = t
			}
			t.total += n
			if isError(p) {
				t.errors += n
			}
		}
		for k, t := range flows {
			if t.total > 0 {
				mb.RecordSapcpiAlmErrorRateDataPoint(end, float64(t.errors)/float64(t.total), k.flow, k.id, k.name, r.Name)
			}
		}
		emitBucket(mb, res, start)
	}
	return mb.Emit()
}

// ALMHealth maps closed HM_ANALYTICS_DP buckets to value, limit and usage gauges at the bucket's end.
func ALMHealth(mb *metadata.MetricsBuilder, res pcommon.Resource, points []calm.Point, r calm.Resolution) pmetric.Metrics {
	starts, groups := byBucket(points)
	for _, start := range starts {
		end := pcommon.NewTimestampFromTime(start.Add(r.Size))
		for _, p := range groups[start] {
			d := p.Dimensions
			id, name, label := d[DimHMMetricID], d[DimHMMetricName], d[DimHMMetricLabel]
			sid, sname, stype := d[DimHMServiceID], d[DimHMServiceName], d[DimHMServiceType]
			switch p.Measure {
			case "value":
				mb.RecordSapcpiAlmHealthValueDataPoint(end, p.Value, id, name, label, sid, sname, stype, r.Name)
			case "limit":
				mb.RecordSapcpiAlmHealthLimitDataPoint(end, p.Value, id, name, label, sid, sname, stype, r.Name)
			case "usage":
				mb.RecordSapcpiAlmHealthUsageDataPoint(end, p.Value, id, name, label, sid, sname, stype, r.Name)
			}
		}
		emitBucket(mb, res, start)
	}
	return mb.Emit()
}

func emitBucket(mb *metadata.MetricsBuilder, res pcommon.Resource, start time.Time) {
	r := pcommon.NewResource()
	res.CopyTo(r)
	mb.EmitForResource(metadata.WithResource(r), metadata.WithStartTimeOverride(pcommon.NewTimestampFromTime(start)))
}

// TenantResource is the resource of the receiver's metrics: the CPI tenant.
func TenantResource(mb *metadata.MetricsBuilder, t Tenant) pcommon.Resource {
	rb := mb.NewResourceBuilder()
	rb.SetSapCpiTenantURL(t.URL)
	if t.Name != "" {
		rb.SetSapCpiTenantName(t.Name)
	}
	return rb.Emit()
}
