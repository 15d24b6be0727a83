package mapping

import (
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/plogtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var observed = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func loadPage(t testing.TB) []cpi.MessageProcessingLog {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "mpl-page.json"))
	require.NoError(t, err)
	var env struct {
		D struct {
			Results []cpi.MessageProcessingLog `json:"results"`
		} `json:"d"`
	}
	require.NoError(t, json.Unmarshal(raw, &env))
	return env.D.Results
}

func testMapper(headers func(string) bool) *Mapper {
	return &Mapper{
		Tenant:       Tenant{URL: "https://acme.it-cpi018.cfapps.eu10-003.hana.ondemand.com/api/v1", Name: "prod"},
		Scope:        Scope{Name: "github.com/sapcpi-otel/sapcpireceiver", Version: "test"},
		CustomHeader: headers,
	}
}

func compareGolden(t *testing.T, name string, got plog.Logs) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, golden.WriteLogs(t, path, got))
	}
	want, err := golden.ReadLogs(path)
	require.NoError(t, err)
	require.NoError(t, plogtest.CompareLogs(want, got))
}

func TestMessagesMapEveryFieldToTheGoldenRecords(t *testing.T) {
	mpls := loadPage(t)
	details := []ErrorDetail{
		{Text: "com.sap.it.rt.adapter.http.api.exception.HttpResponseException: An internal server error occured: Connection refused.\nCaused by: java.net.ConnectException"},
		{},
		{Text: strings.Repeat("x", 64), Truncated: true},
	}
	got := testMapper(func(n string) bool { return n == "po_number" }).Messages(mpls, details, observed)
	compareGolden(t, "messages.yaml", got)
}

func TestCustomHeadersAreOffUnlessAllowed(t *testing.T) {
	mpls := loadPage(t)
	logs := testMapper(nil).Messages(mpls[:1], nil, observed)
	_, ok := logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().Get(AttrMessageCustomHeaders)
	assert.False(t, ok, "custom headers can hold personal data: off by default")

	logs = testMapper(func(string) bool { return true }).Messages(mpls[:1], nil, observed)
	h, ok := logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().Get(AttrMessageCustomHeaders)
	require.True(t, ok)
	assert.Equal(t, map[string]any{"po_number": "4500098765, 4500098766", "customer_email": "someone@example.com"}, h.Map().AsRaw())
}

func TestSeverityFollowsTheStatus(t *testing.T) {
	for status, want := range map[string]plog.SeverityNumber{
		"COMPLETED": plog.SeverityNumberInfo, "PROCESSING": plog.SeverityNumberInfo, "DISCARDED": plog.SeverityNumberInfo,
		"RETRY": plog.SeverityNumberWarn, "ABANDONED": plog.SeverityNumberWarn, "CANCELLED": plog.SeverityNumberWarn,
		"FAILED": plog.SeverityNumberError, "ESCALATED": plog.SeverityNumberError, "SOMETHING_NEW": plog.SeverityNumberWarn,
	} {
		got, text := MessageSeverity(status)
		assert.Equal(t, want, got, status)
		assert.NotEmpty(t, text)
	}
}

func TestTraceIDsGroupACorrelation(t *testing.T) {
	a := TraceID("CORR", "MSG1")
	assert.Equal(t, a, TraceID("CORR", "MSG2"), "one correlation, one trace")
	assert.NotEqual(t, a, TraceID("OTHER", "MSG1"))
	assert.Equal(t, TraceID("", "MSG1"), TraceID("", "MSG1"))
	assert.NotEqual(t, SpanID("MSG1"), SpanID("MSG2"))
	assert.False(t, a.IsEmpty())
}

// The hand-written instant must be exactly what time.Format wrote before it.
func TestAppendInstantWritesWhatTimeFormatWrites(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	instants := []time.Time{
		time.UnixMilli(0), time.UnixMilli(-1), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 29, 1, 30, 0, 123456789, time.FixedZone("CEST", 2*3600)),
	}
	for range 2000 {
		instants = append(instants, time.Unix(rng.Int64N(1<<34)-1<<33, rng.Int64N(1e9)))
	}
	for _, ts := range instants {
		require.Equal(t, ts.UTC().Format("2006-01-02T15:04:05.000Z"), string(appendInstant(nil, ts)), "%v", ts)
	}
	require.Empty(t, appendInstant(nil, time.Time{}))
}
