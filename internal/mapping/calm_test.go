package mapping

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/sapcpi-otel/sapcpireceiver/internal/calm"
	"github.com/sapcpi-otel/sapcpireceiver/internal/metadata"
)

var bucket = time.Date(2026, 6, 1, 7, 0, 0, 0, time.UTC)

func execPoint(start time.Time, flow, status, group string, n float64) calm.Point {
	return calm.Point{Start: start, Measure: "Count", Value: n, Dimensions: map[string]string{
		DimServiceName: "CloudIntegration-ACME-PROD", DimArtifact: flow, DimStatusGroup: group, DimStatus: status,
		DimServiceID: "0c5f6b2e-3d1a-4b8e-9f70-2a6c1d4e5b33",
	}}
}

func compareMetricsGolden(t *testing.T, name string, got pmetric.Metrics) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		// The bucket boundaries are the content here: keep the real timestamps.
		require.NoError(t, golden.WriteMetrics(t, path, got, golden.SkipMetricTimestampNormalization()))
	}
	want, err := golden.ReadMetrics(path)
	require.NoError(t, err)
	require.NoError(t, pmetrictest.CompareMetrics(want, got, pmetrictest.IgnoreMetricDataPointsOrder(), pmetrictest.IgnoreMetricsOrder()))
}

func TestALMExecutionsAreDeltasPerBucketWithAnErrorRate(t *testing.T) {
	mb := metadata.NewMetricsBuilder(metadata.NewDefaultMetricsBuilderConfig(), receivertest.NewNopSettings(metadata.Type))
	res := TenantResource(mb, Tenant{URL: "https://acme.example/api/v1", Name: "prod"})
	points := []calm.Point{
		execPoint(bucket, "Order_In", "COMPLETED", "SUCCESS", 90),
		execPoint(bucket, "Order_In", "FAILED", "ERROR", 10),
		execPoint(bucket.Add(time.Hour), "Order_In", "COMPLETED", "SUCCESS", 50),
		execPoint(bucket.Add(time.Hour), "Order_In", "FAILED", "ERROR", 0),
		execPoint(bucket, "Idle_Flow", "COMPLETED", "SUCCESS", 0), // no executions: no error rate
	}
	compareMetricsGolden(t, "alm-executions.yaml", ALMExecutions(mb, res, points, calm.Hourly))
}

func TestALMHealthFiguresAreGaugesAtTheBucketEnd(t *testing.T) {
	mb := metadata.NewMetricsBuilder(metadata.NewDefaultMetricsBuilderConfig(), receivertest.NewNopSettings(metadata.Type))
	res := TenantResource(mb, Tenant{URL: "https://acme.example/api/v1"})
	dims := map[string]string{DimHMServiceType: "SAP_CPI", DimHMServiceID: "svc", DimHMServiceName: "CloudIntegration-ACME-PROD",
		DimHMMetricID: "cert_validity", DimHMMetricName: "Certificate Validity", DimHMMetricLabel: "supplier_portal"}
	points := []calm.Point{
		{Start: bucket, Dimensions: dims, Measure: "value", Value: 29},
		{Start: bucket, Dimensions: dims, Measure: "limit", Value: 30},
		{Start: bucket, Dimensions: dims, Measure: "usage", Value: 0},
		{Start: bucket, Dimensions: dims, Measure: "okStatus", Value: 100}, // not mapped
	}
	compareMetricsGolden(t, "alm-health.yaml", ALMHealth(mb, res, points, calm.Daily))
}
