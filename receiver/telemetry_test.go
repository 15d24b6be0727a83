package sapcpireceiver

import (
	"flag"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/mapping"
	"github.com/sapcpi-otel/sapcpireceiver/internal/metadata"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func mpl(guid, iflow, status string, start time.Time, d time.Duration) cpi.MessageProcessingLog {
	return cpi.MessageProcessingLog{
		MessageGuid: guid, Status: status,
		LogStart: cpi.Time{Time: start}, LogEnd: cpi.Time{Time: start.Add(d)},
		IntegrationArtifact: cpi.IntegrationArtifact{Id: iflow},
	}
}

func compareMetricsGolden(t *testing.T, name string, got pmetric.Metrics) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, golden.WriteMetrics(t, path, got))
	}
	want, err := golden.ReadMetrics(path)
	require.NoError(t, err)
	require.NoError(t, pmetrictest.CompareMetrics(want, got,
		pmetrictest.IgnoreTimestamp(), pmetrictest.IgnoreStartTimestamp(),
		pmetrictest.IgnoreMetricDataPointsOrder(), pmetrictest.IgnoreMetricsOrder()))
}

func TestMetricsFromTheMessageStream(t *testing.T) {
	tel := newTelemetry()
	tel.resource = mapping.Tenant{URL: "https://acme.example/api/v1", Name: "prod"}
	tel.recordMessages([]cpi.MessageProcessingLog{
		mpl("A", "Order_In", "COMPLETED", t0, 1500*time.Millisecond),
		mpl("B", "Order_In", "COMPLETED", t0, 500*time.Millisecond),
		mpl("C", "Order_In", "FAILED", t0, 4*time.Second),
		mpl("D", "Invoice_Out", "RETRY", t0, 2*time.Second),
		{MessageGuid: "E", Status: "PROCESSING", IntegrationFlowName: "Legacy_Flow"}, // no LogEnd: counted, no duration
	})
	tel.CallDone(cpi.GroupMessages.Name, httpapi.OutcomeSuccess)
	tel.CallDone(cpi.GroupMessages.Name, httpapi.OutcomeSuccess)
	tel.CallDone(cpi.GroupMessages.Name, "throttled")
	tel.Throttled(cpi.GroupMessages.Name)
	tel.Throttled(cpi.GroupMessages.Name)
	tel.setWatermark("messages", t0)

	mb := metadata.NewMetricsBuilder(metadata.NewDefaultMetricsBuilderConfig(), receivertest.NewNopSettings(metadata.Type))
	first := tel.collect(mb, t0.Add(90*time.Second))
	compareMetricsGolden(t, "metrics.yaml", first)

	// Sums stay cumulative; the max restarts, so without new messages it is not reported again.
	second := tel.collect(mb, t0.Add(150*time.Second))
	compareMetricsGolden(t, "metrics-second.yaml", second)
}
