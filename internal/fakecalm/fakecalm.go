// Package fakecalm is a simulated SAP Cloud ALM tenant: an OAuth2 token endpoint and the Analytics API
// (POST …/calm-analytics/v1/analytics/providers/data) for providers CPI_MESSAGES (time_series) and
// HM_ANALYTICS_DP (table), with late-arriving data, sap-message warnings and outages on demand.
package fakecalm

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/sapcpi-otel/sapcpireceiver/internal/simauth"
)

// Options configure the simulation.
type Options struct {
	ClientID, ClientSecret string // defaults calm-sim / calm-secret
	Seed                   uint64
	ServiceID, ServiceName string
	// LateBy is how long after a bucket's end Cloud ALM still adds late executions to it (default 20m).
	LateBy time.Duration
	// Warning, when set, is sent as a sap-message warning with every answer.
	Warning string
	// Now replaces the clock in tests.
	Now func() time.Time
}

// Server is a simulated Cloud ALM tenant.
type Server struct {
	opts Options
	now  func() time.Time
	mux  *http.ServeMux

	auth *simauth.Issuer

	mu           sync.Mutex
	outage       bool
	missingScope bool
	requests     int
}

// The flows and statuses the simulated tenant reports.
var (
	Flows    = []string{"Replicate_PurchaseOrder_to_Supplier", "Timer_Sync_CostCenters", "SalesOrder_from_Webshop", "Employee_Replication_SF_to_S4"}
	statuses = []struct{ status, group string }{{"COMPLETED", "SUCCESS"}, {"FAILED", "ERROR"}, {"RETRY", "WARNING"}}
)

// New returns a simulated Cloud ALM tenant.
func New(opts Options) *Server {
	if opts.ClientID == "" {
		opts.ClientID, opts.ClientSecret = "calm-sim", "calm-secret"
	}
	if opts.ServiceID == "" {
		opts.ServiceID, opts.ServiceName = "0c5f6b2e-3d1a-4b8e-9f70-2a6c1d4e5b33", "CloudIntegration-ACME-PROD"
	}
	if opts.LateBy == 0 {
		opts.LateBy = 20 * time.Minute
	}
	s := &Server{opts: opts, now: opts.Now}
	if s.now == nil {
		s.now = time.Now
	}
	s.mux = http.NewServeMux()
	s.auth = simauth.New(opts.ClientID, opts.ClientSecret, 12*time.Hour, s.now)
	s.mux.Handle("POST /oauth/token", s.auth)
	s.mux.HandleFunc("POST /api/calm-analytics/v1/analytics/providers/data", s.data)
	return s
}

// Handler serves /oauth/token and /api/calm-analytics/….
func (s *Server) Handler() http.Handler { return s.mux }

// Credentials returns the accepted client id and secret.
func (s *Server) Credentials() (string, string) { return s.opts.ClientID, s.opts.ClientSecret }

// SetOutage makes every data call answer 503 (true) or work again (false).
func (s *Server) SetOutage(on bool) {
	s.mu.Lock()
	s.outage = on
	s.mu.Unlock()
}

// SetMissingScope makes every data call answer 403, as without calm-api.analytics.read.
func (s *Server) SetMissingScope(on bool) {
	s.mu.Lock()
	s.missingScope = on
	s.mu.Unlock()
}

// Requests counts data calls.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Executions is what the tenant reports, at time now, for one flow and status in the bucket starting at
// start: a base count, plus late executions that arrive LateBy after the bucket's end, and only the
// elapsed share for a bucket still open.
func (s *Server) Executions(flow, status string, start time.Time, size time.Duration, now time.Time) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d|%s|%s|%d|%d", s.opts.Seed, flow, status, start.Unix(), int64(size))
	r := h.Sum64()
	var base int64
	switch status {
	case "COMPLETED":
		base = int64(20 + r%200)
	case "FAILED":
		base = int64(r % 7)
	default:
		base = int64(r % 3)
	}
	base *= int64(size / time.Hour)
	end := start.Add(size)
	switch {
	case !now.After(start):
		return 0
	case now.Before(end):
		return base * int64(now.Sub(start)) / int64(size)
	case now.Before(end.Add(s.opts.LateBy)):
		return base
	}
	return base + int64(r%2) // a late execution for every other series
}

type request struct {
	Format    string `json:"format"`
	TimeRange struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"timeRange"`
	Resolution string `json:"resolution"`
	Queries    []struct {
		Provider string `json:"provider"`
		Filters  []struct {
			Key    string   `json:"key"`
			Values []string `json:"values"`
		} `json:"filters"`
	} `json:"queries"`
}

func (s *Server) data(w http.ResponseWriter, r *http.Request) {
	_, known := s.auth.Bearer(r)
	s.mu.Lock()
	s.requests++
	outage, noScope := s.outage, s.missingScope
	s.mu.Unlock()
	switch {
	case !known:
		writeError(w, http.StatusUnauthorized, "Unauthorized", "Invalid or expired token")
		return
	case noScope:
		writeError(w, http.StatusForbidden, "Forbidden", "Insufficient scope for this resource")
		return
	case outage:
		writeError(w, http.StatusServiceUnavailable, "Service Unavailable", "Cloud ALM is under maintenance")
		return
	}
	var req request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Queries) != 1 {
		writeError(w, http.StatusBadRequest, "Bad Request", "Malformed request body")
		return
	}
	from, err1 := time.Parse("20060102150405", req.TimeRange.From)
	to, err2 := time.Parse("20060102150405", req.TimeRange.To)
	size := map[string]time.Duration{"H": time.Hour, "D": 24 * time.Hour}[req.Resolution]
	if err1 != nil || err2 != nil || size == 0 || !from.Before(to) {
		writeError(w, http.StatusBadRequest, "Bad Request", "Invalid timeRange or resolution")
		return
	}
	q := req.Queries[0]
	for _, f := range q.Filters {
		if f.Key == "serviceId" && !contains(f.Values, s.opts.ServiceID) {
			writeJSON(w, http.StatusOK, []any{[]any{}})
			return
		}
	}
	now := s.now()
	if s.opts.Warning != "" {
		msg, _ := json.Marshal([]map[string]string{{"time": now.UTC().Format(time.RFC3339), "content": s.opts.Warning, "type": "W"}})
		w.Header().Set("sap-message", string(msg))
	}
	// Buckets that have started by now; the one still open carries partial figures.
	var starts []time.Time
	for b := from.Truncate(size); b.Before(to) && b.Before(now); b = b.Add(size) {
		starts = append(starts, b)
	}
	switch q.Provider {
	case "CPI_MESSAGES":
		writeJSON(w, http.StatusOK, []any{s.series(starts, size, now)})
	case "HM_ANALYTICS_DP":
		writeJSON(w, http.StatusOK, []any{s.healthTable(starts, size)})
	default:
		writeError(w, http.StatusBadRequest, "Bad Request", "Unknown provider "+q.Provider)
	}
}

func (s *Server) series(starts []time.Time, size time.Duration, now time.Time) []map[string]any {
	var out []map[string]any
	for _, f := range Flows {
		for _, st := range statuses {
			points := make([][2]int64, 0, len(starts))
			for _, b := range starts {
				points = append(points, [2]int64{s.Executions(f, st.status, b, size, now), b.UnixMilli()})
			}
			out = append(out, map[string]any{
				"serieName": "CPI_MESSAGES-Count", "measure": "Count",
				"attributes": []map[string]string{
					{"key": "ServiceName", "value": s.opts.ServiceName}, {"key": "IntegrationArtifactName", "value": f},
					{"key": "StatusGroup", "value": st.group}, {"key": "Status", "value": st.status},
					{"key": "serviceId", "value": s.opts.ServiceID},
				},
				"dataPoints": points,
			})
		}
	}
	return out
}

func (s *Server) healthTable(starts []time.Time, size time.Duration) map[string]any {
	cols := []map[string]string{{"text": "timestamp", "type": "time"}}
	for _, c := range []string{"serviceType", "serviceId", "serviceName", "metricId", "metricName", "metricLabel"} {
		cols = append(cols, map[string]string{"text": c, "type": "string"})
	}
	for _, c := range []string{"value", "limit", "usage", "okStatus", "warningStatus", "criticalStatus"} {
		cols = append(cols, map[string]string{"text": c, "type": "number"})
	}
	var rows [][]any
	for i, b := range starts {
		used := 800 + float64(i%10)*40
		days := 45 - float64(i)*float64(size/time.Hour)/24
		rows = append(rows,
			[]any{strconv.FormatInt(b.UnixMilli(), 10), "SAP_CPI", s.opts.ServiceID, s.opts.ServiceName, "jms_capacity", "JMS Queue Capacity", "Broker1", used, 9300, used / 9300 * 100, 100, 0, 0},
			[]any{strconv.FormatInt(b.UnixMilli(), 10), "SAP_CPI", s.opts.ServiceID, s.opts.ServiceName, "cert_validity", "Certificate Validity", "supplier_portal", days, 30, 0, 0, 100, 0},
		)
	}
	return map[string]any{"columns": cols, "rows": rows}
}

func contains(values []string, v string) bool {
	for _, x := range values {
		if x == v {
			return true
		}
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("x-correlationid", "sim-correlation")
	writeJSON(w, status, map[string]string{"error": code, "message": msg})
}
