package calm

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecalm"
	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
)

var now = time.Date(2026, 6, 1, 10, 40, 0, 0, time.UTC)

func simClient(t *testing.T, opts fakecalm.Options) (*Client, *fakecalm.Server) {
	t.Helper()
	opts.Now = func() time.Time { return now }
	sim := fakecalm.New(opts)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	id, secret := sim.Credentials()
	rt, ref := httpapi.NewOAuth2Transport(http.DefaultTransport, srv.Client(), httpapi.OAuth2Credentials{ClientID: id, ClientSecret: secret, TokenURL: srv.URL + "/oauth/token"})
	c, err := NewClient(srv.URL+"/api", httpapi.Settings{
		HTTPClient: &http.Client{Transport: rt}, Refresher: ref,
		Retry: httpapi.RetryPolicy{MaxRetries: 1, InitialInterval: time.Millisecond, MaxInterval: time.Millisecond, MaxRetryAfter: time.Millisecond},
	})
	require.NoError(t, err)
	return c, sim
}

func TestTimeSeriesAnswerBecomesPointsPerBucket(t *testing.T) {
	c, sim := simClient(t, fakecalm.Options{Seed: 1})
	q := Query{Provider: ProviderCPIMessages, Format: "time_series", Resolution: Hourly,
		From: time.Date(2026, 6, 1, 7, 0, 0, 0, time.UTC), To: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC),
		Dimensions: []string{"ServiceName", "IntegrationArtifactName", "StatusGroup", "Status", "serviceId"}, Measures: []string{"Count"}}
	points, _, err := c.Data(t.Context(), q)
	require.NoError(t, err)
	assert.Len(t, points, len(fakecalm.Flows)*3*3, "flows × statuses × buckets")
	p := points[0]
	assert.Equal(t, "Count", p.Measure)
	assert.Equal(t, time.Date(2026, 6, 1, 7, 0, 0, 0, time.UTC), p.Start)
	assert.Equal(t, float64(sim.Executions(p.Dimensions["IntegrationArtifactName"], p.Dimensions["Status"], p.Start, time.Hour, now)), p.Value)
	assert.NotEmpty(t, p.Dimensions["serviceId"])
}

func TestTableAnswerBecomesOnePointPerMeasure(t *testing.T) {
	c, _ := simClient(t, fakecalm.Options{})
	points, _, err := c.Data(t.Context(), Query{Provider: ProviderHealth, Format: "table", Resolution: Hourly,
		From: time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC), To: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	assert.Len(t, points, 2*2*6, "buckets × rows × number columns")
	assert.Equal(t, "jms_capacity", points[0].Dimensions["metricId"])
	assert.Equal(t, "value", points[0].Measure)
}

func TestDecodeToleratesUpperCaseTablesAndStringNumbers(t *testing.T) {
	body := `[{"COLUMNS":[{"text":"timestamp","type":"time"},{"text":"metricId","type":"string"},{"text":"value","type":"number"}],
	  "ROWS":[["1717232400000","cert_validity","29.5"],[1717236000000,"cert_validity",null]]}]`
	points, err := decode(strings.NewReader(body), Query{})
	require.NoError(t, err)
	require.Len(t, points, 2)
	assert.Equal(t, 29.5, points[0].Value)
	assert.Equal(t, time.UnixMilli(1717236000000).UTC(), points[1].Start)

	_, err = decode(strings.NewReader(`[{"columns":[{"text":"a","type":"string"}],"rows":[["x","y"]]}]`), Query{})
	assert.ErrorIs(t, err, httpapi.ErrMalformed)
	_, err = decode(strings.NewReader(`[[{"dataPoints":[[1,`), Query{})
	assert.Error(t, err)
	_, err = decode(strings.NewReader(`{"error":"x"}`), Query{})
	assert.ErrorIs(t, err, httpapi.ErrMalformed)
}

func TestSapMessageWarningsAreReturned(t *testing.T) {
	c, _ := simClient(t, fakecalm.Options{Warning: "Data for service X is incomplete"})
	_, msgs, err := c.Data(t.Context(), Query{Provider: ProviderCPIMessages, Format: "time_series", Resolution: Hourly, From: now.Add(-2 * time.Hour), To: now})
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	assert.Equal(t, "W", msgs[0].Type)
	assert.Contains(t, msgs[0].Content, "incomplete")
	assert.Equal(t, []Message{{Content: "not json", Type: "W"}}, parseMessages("not json"))
}

func TestErrorsNameTheScopeAndTheProvider(t *testing.T) {
	c, sim := simClient(t, fakecalm.Options{})
	_, _, err := c.Data(t.Context(), Query{Provider: "CPI_MESSAGEZ", Format: "time_series", Resolution: Hourly, From: now.Add(-time.Hour), To: now})
	require.Error(t, err)
	assert.Equal(t, httpapi.KindClient, httpapi.KindOf(err))
	assert.Contains(t, err.Error(), "Unknown provider CPI_MESSAGEZ")

	sim.SetMissingScope(true)
	_, _, err = c.Data(t.Context(), Query{Provider: ProviderCPIMessages, Format: "time_series", Resolution: Hourly, From: now.Add(-time.Hour), To: now})
	require.Error(t, err)
	assert.Equal(t, httpapi.KindForbidden, httpapi.KindOf(err))
	assert.Contains(t, err.Error(), "calm-api.analytics.read")
}

func TestServiceKeyGivesEndpointAndTokenURL(t *testing.T) {
	key, err := ReadServiceKey(filepath.Join("testdata", "service-key.json"))
	require.NoError(t, err)
	assert.Equal(t, "https://acme.eu10.alm.cloud.sap/api", key.Endpoints.API)
	creds, err := key.Credentials()
	require.NoError(t, err)
	assert.Equal(t, "https://acme.authentication.eu10.hana.ondemand.com/oauth/token", creds.TokenURL)
	_, err = ReadServiceKey(filepath.Join("..", "cpi", "testdata", "service-key.json"))
	require.Error(t, err, "a CPI key is not a Cloud ALM key")
	assert.Contains(t, err.Error(), "endpoints.Api")
	assert.NotContains(t, err.Error(), "made-up")
}

func TestResolutions(t *testing.T) {
	r, err := ParseResolution("daily")
	require.NoError(t, err)
	assert.Equal(t, "D", r.Code)
	_, err = ParseResolution("weekly")
	assert.Error(t, err)
}
