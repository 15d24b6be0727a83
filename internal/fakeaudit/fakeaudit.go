// Package fakeaudit is a simulated SAP BTP Audit Log retrieval API: token endpoint, records with CPI's
// audit messages (as objects and as JSON strings), pages of 500 with a Paging handle, an ingestion delay.
package fakeaudit

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/sapcpi-otel/sapcpireceiver/internal/simauth"
)

// PageSize is the API's fixed page size.
const PageSize = 500

// Options configure the simulation.
type Options struct {
	ClientID, ClientSecret string
	// Start anchors the stream; Step is the time between records (default 2s).
	Start time.Time
	Step  time.Duration
	// IngestionDelay hides records younger than this (default 1m), as the real service does.
	IngestionDelay time.Duration
	Now            func() time.Time
}

// Server is a simulated retrieval API.
type Server struct {
	opts Options
	auth *simauth.Issuer
	mux  *http.ServeMux
}

// New returns a simulated retrieval API.
func New(opts Options) *Server {
	if opts.ClientID == "" {
		opts.ClientID, opts.ClientSecret = "sb-auditlog-sim", "audit-secret"
	}
	if opts.Step == 0 {
		opts.Step = 2 * time.Second
	}
	if opts.IngestionDelay == 0 {
		opts.IngestionDelay = time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Start.IsZero() {
		opts.Start = opts.Now().Add(-48 * time.Hour)
	}
	s := &Server{opts: opts, auth: simauth.New(opts.ClientID, opts.ClientSecret, 12*time.Hour, opts.Now), mux: http.NewServeMux()}
	s.mux.Handle("POST /oauth/token", s.auth)
	s.mux.HandleFunc("GET /auditlog/v2/auditlogrecords", s.records)
	return s
}

// Handler serves /oauth/token and /auditlog/v2/auditlogrecords.
func (s *Server) Handler() http.Handler { return s.mux }

// Credentials returns the accepted client id and secret.
func (s *Server) Credentials() (string, string) { return s.opts.ClientID, s.opts.ClientSecret }

// UUID is the message_uuid of record i.
func UUID(i int) string { return fmt.Sprintf("5f0c%04x-0000-4000-8000-%012x", i%0xffff, i) }

// Visible lists the uuids of the records in [from, to) that are retrievable at now.
func (s *Server) Visible(from, to, now time.Time) []string {
	var out []string
	for i := s.index(from); ; i++ {
		t := s.at(i)
		if !t.Before(to) || t.After(now.Add(-s.opts.IngestionDelay)) {
			return out
		}
		out = append(out, UUID(i))
	}
}

func (s *Server) at(i int) time.Time { return s.opts.Start.Add(time.Duration(i) * s.opts.Step) }

func (s *Server) index(t time.Time) int {
	if t.Before(s.opts.Start) {
		return 0
	}
	d := t.Sub(s.opts.Start)
	i := int(d / s.opts.Step)
	if time.Duration(i)*s.opts.Step < d {
		i++
	}
	return i
}

var actions = []struct{ action, objType, objID string }{
	{"Deploy_of_Artifact_Completed", "IntegrationFlow", "Replicate_PurchaseOrder_to_Supplier"},
	{"Update_of_Configuration_Completed", "IntegrationFlow", "Send_Invoice_to_Ariba"},
	{"PasswordStore", "Credential", "ariba_basic"},
	{"Deletion_of_Artifact_Completed", "ValueMapping", "VM_CountryCodes"},
	{"Deploy_of_Artifact_Failed", "IntegrationFlow", "Bank_Statement_Import"},
}

func (s *Server) record(i int) map[string]any {
	t := s.at(i)
	a := actions[i%len(actions)]
	data, _ := json.Marshal(map[string]any{"action": a.action, "objectType": a.objType, "objectId": a.objID, "attributes": map[string]any{},
		"changedAttributes": map[string]any{"Version": map[string]string{"oldValue": "1.0." + strconv.Itoa(i%9), "newValue": "1.0." + strconv.Itoa(i%9+1)}}})
	msg := map[string]any{"uuid": UUID(i), "user": "jane.doe@acme.example", "time": t.Format(time.RFC3339Nano), "ip": fmt.Sprintf("203.0.113.%d", i%250+1),
		"category": "audit.security-events", "tenant": "acme", "data": string(data)}
	var message any = msg
	if i%2 == 1 {
		// Half the writers send the message as a JSON string, as SAP's own clients expect.
		raw, _ := json.Marshal(msg)
		message = string(raw)
	}
	return map[string]any{"message_uuid": UUID(i), "time": t.UTC().Format("2006-01-02T15:04:05.000Z"), "tenant": "acme",
		"org_id": "-", "space_id": "undefined", "app_or_service_id": "it-rt", "als_service_id": "", "user": "jane.doe@acme.example",
		"category": "audit.security-events", "format_version": "", "message": message}
}

func (s *Server) records(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.auth.Bearer(r); !ok {
		http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
		return
	}
	q := r.URL.Query()
	start := 0
	from, err1 := time.Parse("2006-01-02T15:04:05", q.Get("time_from"))
	to, err2 := time.Parse("2006-01-02T15:04:05", q.Get("time_to"))
	if err1 != nil || err2 != nil {
		http.Error(w, `{"error":"time_from and time_to are required as YYYY-MM-DDTHH:MM:SS"}`, http.StatusBadRequest)
		return
	}
	if h := q.Get("handle"); h != "" {
		raw, err := base64.StdEncoding.DecodeString(h)
		if err != nil {
			http.Error(w, `{"error":"invalid handle"}`, http.StatusBadRequest)
			return
		}
		start, _ = strconv.Atoi(string(raw))
	}
	now := s.opts.Now()
	var out []map[string]any
	i := s.index(from) + start
	for ; len(out) < PageSize; i++ {
		t := s.at(i)
		if !t.Before(to) || t.After(now.Add(-s.opts.IngestionDelay)) {
			break
		}
		out = append(out, s.record(i))
	}
	if len(out) == PageSize {
		w.Header().Set("Paging", "handle="+base64.StdEncoding.EncodeToString([]byte(strconv.Itoa(start+PageSize))))
	}
	if len(out) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
