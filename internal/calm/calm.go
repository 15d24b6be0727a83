// Package calm is the client of the SAP Cloud ALM Analytics API (`<endpoints.Api>/calm-analytics/v1`):
// its service key, the providers/data request, and the two answer formats (time_series and table),
// read into one list of points. It knows HTTP and JSON, nothing about OpenTelemetry.
package calm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
)

// Providers this receiver reads.
const (
	ProviderCPIMessages = "CPI_MESSAGES"
	ProviderHealth      = "HM_ANALYTICS_DP"
)

// GroupAnalytics is the Analytics API for the rate limiter and for error hints.
var GroupAnalytics = httpapi.Group{
	Name:          "cloud_alm_analytics",
	ForbiddenHint: "the SAP Cloud ALM API instance lacks the scope calm-api.analytics.read (add it to the instance's authorities and create a new service key)",
	NotFoundHint:  "the Analytics API was not found: the endpoint must be the service key's endpoints.Api, e.g. https://<tenant>.<region>.alm.cloud.sap/api",
}

// ServiceKey is the JSON of an SAP Cloud ALM API (sap-cloud-alm-api) service key.
type ServiceKey struct {
	Endpoints struct {
		API string `json:"Api"`
	} `json:"endpoints"`
	UAA httpapi.UAA `json:"uaa"`
}

// ReadServiceKey reads and checks a Cloud ALM service key; errors name fields, never values.
func ReadServiceKey(path string) (*ServiceKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading Cloud ALM service key: %w", err)
	}
	var key ServiceKey
	if err := json.Unmarshal(raw, &key); err != nil {
		return nil, fmt.Errorf("the Cloud ALM service key %s is not valid JSON; download it again from the BTP cockpit", path)
	}
	var missing []string
	if key.Endpoints.API == "" {
		missing = append(missing, "endpoints.Api")
	}
	missing = append(missing, key.UAA.Missing()...)
	if len(missing) > 0 {
		return nil, fmt.Errorf("the Cloud ALM service key %s lacks %s; it must be a key of an SAP Cloud ALM API instance", path, strings.Join(missing, ", "))
	}
	return &key, nil
}

// BaseURL is the API base URL of the key (endpoints.Api).
func (k *ServiceKey) BaseURL() string { return k.Endpoints.API }

// Credentials derives the token endpoint and client credentials from the key's uaa section.
func (k *ServiceKey) Credentials() (httpapi.OAuth2Credentials, error) {
	creds, err := k.UAA.Credentials()
	if err != nil {
		return creds, fmt.Errorf("the Cloud ALM service key: %w", err)
	}
	return creds, nil
}

// Client calls one Cloud ALM tenant's Analytics API.
type Client struct {
	data string
	api  *httpapi.Client
}

// NewClient returns a client for the API base URL (the service key's endpoints.Api).
func NewClient(endpoint string, s httpapi.Settings) (*Client, error) {
	u, err := httpapi.ParseBaseURL("cloud_alm endpoint", endpoint, "https://<tenant>.eu10.alm.cloud.sap/api")
	if err != nil {
		return nil, err
	}
	api, err := httpapi.NewClient(s)
	if err != nil {
		return nil, err
	}
	return &Client{data: strings.TrimRight(u.String(), "/") + "/calm-analytics/v1/analytics/providers/data", api: api}, nil
}

// Resolution is a Cloud ALM bucket size.
type Resolution struct {
	// Name is the user-facing name: hourly or daily.
	Name string
	// Code is the API's resolution literal: H or D.
	Code string
	Size time.Duration
}

// The supported resolutions.
var (
	Hourly = Resolution{Name: "hourly", Code: "H", Size: time.Hour}
	Daily  = Resolution{Name: "daily", Code: "D", Size: 24 * time.Hour}
)

// ParseResolution reads hourly or daily.
func ParseResolution(s string) (Resolution, error) {
	switch s {
	case Hourly.Name:
		return Hourly, nil
	case Daily.Name:
		return Daily, nil
	}
	return Resolution{}, fmt.Errorf("resolution must be hourly or daily, got %q", s)
}

// Query asks one provider for its figures in [From, To) at a resolution. Buckets are aligned in UTC.
type Query struct {
	Provider   string
	Format     string // time_series or table
	Resolution Resolution
	From, To   time.Time
	Dimensions []string
	Measures   []string
	// Filters keep only these values of a dimension (e.g. serviceId).
	Filters map[string][]string
}

type wireRequest struct {
	Format          string        `json:"format"`
	TimestampFormat string        `json:"timestampFormat"`
	TimeRange       wireTimeRange `json:"timeRange"`
	Resolution      string        `json:"resolution"`
	Timezone        string        `json:"timezone"`
	Queries         []wireQuery   `json:"queries"`
}

type wireTimeRange struct {
	From string `json:"from"`
	To   string `json:"to"`
}

type wireQuery struct {
	Name     string       `json:"name"`
	Provider string       `json:"provider"`
	Columns  wireColumns  `json:"columns"`
	Filters  []wireFilter `json:"filters"`
}

type wireColumns struct {
	Dimensions []string        `json:"dimensions"`
	Metrics    []wireMeasureID `json:"metrics"`
}

type wireMeasureID struct {
	Measure string `json:"measure"`
	Method  string `json:"method,omitempty"`
}

type wireFilter struct {
	Key    string   `json:"key"`
	Values []string `json:"values"`
}

// TimeLayout is the Analytics API's timestamp form for time ranges (UTC, no zone).
const TimeLayout = "20060102150405"

func (q Query) wire() wireRequest {
	w := wireRequest{
		Format: q.Format, TimestampFormat: "unix", Resolution: q.Resolution.Code, Timezone: "+00:00",
		TimeRange: wireTimeRange{From: q.From.UTC().Format(TimeLayout), To: q.To.UTC().Format(TimeLayout)},
	}
	wq := wireQuery{Name: q.Provider, Provider: q.Provider, Columns: wireColumns{Dimensions: q.Dimensions}, Filters: []wireFilter{}}
	for _, m := range q.Measures {
		wq.Columns.Metrics = append(wq.Columns.Metrics, wireMeasureID{Measure: m})
	}
	for k, v := range q.Filters {
		wq.Filters = append(wq.Filters, wireFilter{Key: k, Values: v})
	}
	w.Queries = []wireQuery{wq}
	return w
}

// Point is one figure: a measure of one dimension combination in the bucket starting at Start.
type Point struct {
	Start      time.Time
	Dimensions map[string]string
	Measure    string
	Value      float64
}

// Message is an informational entry of the sap-message response header.
type Message struct {
	Time    string `json:"time"`
	Content string `json:"content"`
	Type    string `json:"type"` // I, W or E
}

// Data runs one query and returns its points, with the warnings Cloud ALM sent in sap-message.
func (c *Client) Data(ctx context.Context, q Query) ([]Point, []Message, error) {
	body, err := json.Marshal(q.wire())
	if err != nil {
		return nil, nil, err
	}
	var points []Point
	var msgs []Message
	op := "fetching Cloud ALM analytics of provider " + q.Provider
	req := httpapi.Request{Method: http.MethodPost, URL: c.data, Accept: "application/json", ContentType: "application/json", Body: body}
	err = c.api.Do(ctx, GroupAnalytics, op, req, func(r io.Reader, resp *http.Response) error {
		msgs = parseMessages(resp.Header.Get("sap-message"))
		var derr error
		points, derr = decode(r, q)
		return derr
	})
	return points, msgs, err
}

func parseMessages(h string) []Message {
	if h == "" {
		return nil
	}
	var msgs []Message
	if err := json.Unmarshal([]byte(h), &msgs); err != nil {
		return []Message{{Content: h, Type: "W"}}
	}
	return msgs
}

// decode reads either answer format; the envelope is an array with one element per query.
func decode(r io.Reader, q Query) ([]Point, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, httpapi.WrapJSON(err)
	}
	var perQuery []json.RawMessage
	if err := json.Unmarshal(raw, &perQuery); err != nil {
		return nil, fmt.Errorf("the Cloud ALM answer is not a JSON array: %w", httpapi.WrapJSON(err))
	}
	if len(perQuery) == 0 {
		return nil, nil
	}
	first := bytes.TrimSpace(perQuery[0])
	if len(first) > 0 && first[0] == '[' {
		return decodeSeries(first)
	}
	return decodeTable(first)
}

type series struct {
	SerieName  string `json:"serieName"`
	Measure    string `json:"measure"`
	Attributes []struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	} `json:"attributes"`
	DataPoints [][2]flexNumber `json:"dataPoints"`
}

func decodeSeries(raw []byte) ([]Point, error) {
	var ss []series
	if err := json.Unmarshal(raw, &ss); err != nil {
		return nil, fmt.Errorf("the Cloud ALM time_series answer: %w", httpapi.WrapJSON(err))
	}
	var out []Point
	for _, s := range ss {
		dims := make(map[string]string, len(s.Attributes))
		for _, a := range s.Attributes {
			dims[a.Key] = a.Value
		}
		measure := s.Measure
		if measure == "" {
			// Older answers name the series "<query>-<measure>" only.
			if i := strings.LastIndexByte(s.SerieName, '-'); i >= 0 {
				measure = s.SerieName[i+1:]
			}
		}
		for _, dp := range s.DataPoints {
			out = append(out, Point{Start: time.UnixMilli(int64(dp[1])).UTC(), Dimensions: dims, Measure: measure, Value: float64(dp[0])})
		}
	}
	return out, nil
}

type column struct {
	Text string `json:"text"`
	Type string `json:"type"`
}

type table struct {
	Columns      []column            `json:"columns"`
	Rows         [][]json.RawMessage `json:"rows"`
	ColumnsUpper []column            `json:"COLUMNS"`
	RowsUpper    [][]json.RawMessage `json:"ROWS"`
}

func decodeTable(raw []byte) ([]Point, error) {
	var t table
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("the Cloud ALM table answer: %w", httpapi.WrapJSON(err))
	}
	cols, rows := t.Columns, t.Rows
	if len(cols) == 0 {
		cols, rows = t.ColumnsUpper, t.RowsUpper
	}
	var out []Point
	for _, row := range rows {
		if len(row) != len(cols) {
			return nil, fmt.Errorf("%w: Cloud ALM table row has %d cells for %d columns", httpapi.ErrMalformed, len(row), len(cols))
		}
		var start time.Time
		dims := map[string]string{}
		var measures []Point
		for i, c := range cols {
			switch c.Type {
			case "time":
				var n flexNumber
				if err := json.Unmarshal(row[i], &n); err != nil {
					return nil, fmt.Errorf("%w: Cloud ALM table time cell: %v", httpapi.ErrMalformed, err)
				}
				start = time.UnixMilli(int64(n)).UTC()
			case "number":
				var n flexNumber
				if err := json.Unmarshal(row[i], &n); err != nil {
					return nil, fmt.Errorf("%w: Cloud ALM table number cell: %v", httpapi.ErrMalformed, err)
				}
				measures = append(measures, Point{Measure: c.Text, Value: float64(n)})
			default:
				var s string
				if err := json.Unmarshal(row[i], &s); err != nil {
					s = strings.Trim(string(row[i]), `"`)
				}
				dims[c.Text] = s
			}
		}
		for _, m := range measures {
			m.Start, m.Dimensions = start, dims
			out = append(out, m)
		}
	}
	return out, nil
}

// flexNumber accepts a JSON number, a numeric string or null (as 0).
type flexNumber float64

func (n *flexNumber) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "null" || s == "" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("not a number: %.40s", b)
	}
	*n = flexNumber(v)
	return nil
}
