package fakecpi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// Tenants serves many simulated tenants from one process, as a service provider or a large customer
// watches them (DEV, QA and PROD per region, or one per customer). Tenant <name> answers under
// /t/<name>/: its API at /t/<name>/api/v1, its token endpoint at /t/<name>/oauth/token, each with its
// own message stream and credentials. Each can be switched into an outage of its own.
type Tenants struct {
	names []string
	byKey map[string]*hosted
	mux   *http.ServeMux
}

// Outage is a way a whole tenant fails, for as long as it is switched on.
type Outage string

// The outages a hosted tenant can be switched into.
const (
	Healthy Outage = ""
	// OutageUnauthorized answers 401 to every request, the token endpoint's included, as when the
	// service key was deleted.
	OutageUnauthorized Outage = "401"
	// OutageNotFound answers 404 to every API request, as when the tenant was deleted or its URL is wrong.
	OutageNotFound Outage = "404"
	// OutageThrottled answers 429 with Retry-After: 1 to every API request: a throttling storm.
	OutageThrottled Outage = "429"
)

type hosted struct {
	sim      *Server
	outage   atomic.Value // Outage
	delay    atomic.Int64 // added before every API answer, in nanoseconds
	requests atomic.Int64
	handler  http.Handler
}

// TenantNames returns n tenant names, t01, t02, … (wider when n needs it).
func TenantNames(n int) []string {
	width := len(fmt.Sprint(n))
	width = max(width, 2)
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("t%0*d", width, i+1)
	}
	return out
}

// NewTenants hosts one simulated tenant per name, each built from the options opts returns for it (its
// Seed, unless set, is its index, and its client id sapcpi-sim-<name>, so no two tenants share a stream
// or credentials).
func NewTenants(names []string, opts func(name string) Options) *Tenants {
	t := &Tenants{names: append([]string{}, names...), byKey: map[string]*hosted{}, mux: http.NewServeMux()}
	for i, name := range names {
		o := opts(name)
		if o.Seed == 0 {
			o.Seed = uint64(i + 1)
		}
		if o.ClientID == "" {
			o.ClientID = "sapcpi-sim-" + name
		}
		h := &hosted{sim: New(o)}
		h.outage.Store(Healthy)
		h.handler = h.sim.Handler()
		t.byKey[name] = h
		t.mux.Handle("/t/"+name+"/", http.StripPrefix("/t/"+name, h))
	}
	return t
}

// Handler serves every tenant under /t/<name>/.
func (t *Tenants) Handler() http.Handler { return t.mux }

// Names lists the hosted tenants in the order given.
func (t *Tenants) Names() []string { return append([]string{}, t.names...) }

// Tenant returns the simulated tenant of that name (nil if there is none).
func (t *Tenants) Tenant(name string) *Server {
	if h := t.byKey[name]; h != nil {
		return h.sim
	}
	return nil
}

// SetOutage switches a tenant into an outage, or back to Healthy.
func (t *Tenants) SetOutage(name string, o Outage) { t.byKey[name].outage.Store(o) }

// SetDelay makes a tenant answer every API request this much later (0: at once).
func (t *Tenants) SetDelay(name string, d time.Duration) { t.byKey[name].delay.Store(int64(d)) }

// Requests is the number of requests the tenant received, failed ones included.
func (t *Tenants) Requests(name string) int64 { return t.byKey[name].requests.Load() }

// URL is the tenant's URL under the server root base (what a service key's oauth.url holds).
func (t *Tenants) URL(base, name string) string { return strings.TrimSuffix(base, "/") + "/t/" + name }

// ServiceKey is the service key JSON of the tenant as BTP hands it out, for the server root base.
func (t *Tenants) ServiceKey(base, name string) ([]byte, error) {
	id, secret := t.byKey[name].sim.Credentials()
	url := t.URL(base, name)
	return json.MarshalIndent(map[string]any{"oauth": map[string]string{
		"clientid": id, "clientsecret": secret, "url": url, "tokenurl": url + "/oauth/token",
		"createdate": time.Now().UTC().Format(time.RFC3339),
	}}, "", "  ")
}

func (h *hosted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.requests.Add(1)
	api := strings.HasPrefix(r.URL.Path, "/api/")
	switch h.outage.Load().(Outage) {
	case OutageUnauthorized:
		if !api {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client","error_description":"Bad credentials"}`))
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="sapcpi-sim"`)
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	case OutageNotFound:
		if api {
			writeODataError(w, http.StatusNotFound, "Not Found", "Resource not found")
			return
		}
	case OutageThrottled:
		if api {
			w.Header().Set("Retry-After", "1")
			writeODataError(w, http.StatusTooManyRequests, "TooManyRequests", "Too many requests. Server's rate limit exceeded.")
			return
		}
	}
	if d := time.Duration(h.delay.Load()); d > 0 && api {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	h.handler.ServeHTTP(w, r)
}
