// Package fakecpi is a simulated SAP Cloud Integration tenant. It speaks the real wire format (OData V2
// JSON envelopes, /Date(ms)/, Int64 as strings, __next paging with $skiptoken, $filter on datetimes), has
// an OAuth2 client-credentials token endpoint, generates a realistic message stream, and injects faults
// on demand. It backs the tests, the benchmarks and `make run`.
package fakecpi

import (
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sapcpi-otel/sapcpireceiver/internal/simauth"
)

// Fault is a failure the tenant can be told to produce.
type Fault string

// The faults the simulated tenant can inject into API (not token) requests.
const (
	FaultThrottle     Fault = "429"           // 429 with Retry-After: 1
	FaultServerError  Fault = "500"           // 500 with an OData error body
	FaultUnavailable  Fault = "503"           // 503 with a plain-text body
	FaultSlow         Fault = "slow"          // answers after Options.SlowDelay
	FaultExpiredToken Fault = "expired_token" // revokes the caller's token and answers 401
	FaultLoginPage    Fault = "html"          // 200 with an HTML login page
	FaultTruncated    Fault = "truncated"     // the JSON body cut in half
	FaultForbidden    Fault = "403"           // 403, as when a role is missing
	FaultNotFound     Fault = "404"           // 404, as when the API does not exist on the tenant
)

// AllTransientFaults are the faults a correct client recovers from by retrying.
var AllTransientFaults = []Fault{FaultThrottle, FaultServerError, FaultUnavailable, FaultSlow, FaultExpiredToken, FaultTruncated}

// Options configure a simulated tenant. The zero value serves an empty tenant with default credentials.
type Options struct {
	ClientID     string // default "sapcpi-sim"
	ClientSecret string // default "sim-secret"
	// BasicUser and BasicPassword, when set, also accept HTTP Basic on the API (Neo users).
	BasicUser, BasicPassword string
	TokenTTL                 time.Duration // default 1h

	Seed uint64
	// Rate is live messages started per second from Start on; 0 generates none.
	Rate float64
	// Start is when live generation begins (default: the first request's time).
	Start time.Time
	// LiveFor stops live generation after this long (0: never), so a test knows the whole truth.
	LiveFor time.Duration
	// Backlog messages are generated before Start, spread over BacklogSpan (default 1h), all final.
	Backlog     int
	BacklogSpan time.Duration
	// TimeScale is the unit of retry and long-run durations (default 30s; tests use less).
	TimeScale time.Duration
	// LateBy delays the visibility of a share (LateShare) of final states by this much (0: none), as
	// when a worker node flushes its log late.
	LateBy time.Duration
	// LateShare is the share of final states that are written LateBy late (default 0.03).
	LateShare float64

	// FaultRate injects a random fault from FaultKinds (default AllTransientFaults) into this share of
	// API requests.
	FaultRate  float64
	FaultKinds []Fault
	SlowDelay  time.Duration // default 3s

	// Now replaces the clock in tests.
	Now func() time.Time
	// RequestLog, when set, receives one line per API request (path, query, status, entries).
	RequestLog func(line string)
	// LogRotate is how much tenant time one simulated log file covers (default 1h).
	LogRotate time.Duration
	// TraceFormats are the line formats of the trace files, taken in turn: the k-th trace file since
	// the first is written in TraceFormats[k mod len] (default TraceClassic only). See TraceFormat.
	TraceFormats []TraceFormat
	// CloudFoundry makes the tenant a Cloud Foundry one: no AuditLogs (404), as on real tenants.
	CloudFoundry bool
	// ForbiddenPaths answer 403 for API paths with one of these prefixes (e.g. "KeystoreEntries"), as
	// when the credentials lack a role for that API.
	ForbiddenPaths []string

	// The switches below make the tenant behave like tenants that do not share this client's
	// assumptions. Each is off by default.

	// SecondPrecision stores LogStart and LogEnd at whole seconds and rounds every datetime literal in
	// $filter to a whole second in this direction before comparing, as an OData V2 server that keeps
	// second-precision timestamps does: under RoundFloor, `LogEnd ge datetime'…:34.612'` also matches
	// rows at …:34.000. A state still becomes visible at its real (sub-second) time.
	SecondPrecision Rounding
	// PageCap is the most entries one response carries (0: CPI's 1000). A capped page that the client's
	// $top would have allowed to be longer ends in a __next link that continues the same query.
	PageCap int
	// AbsoluteNext writes next links as absolute URLs (http://host/api/v1/…) instead of relative ones.
	AbsoluteNext bool
	// BurstSize > 0 makes every BurstEvery-th generated message (backlog and live counted together) a
	// burst of BurstSize messages with the same LogStart and the same LogEnd, as when a split or a batch
	// job writes many MPLs in one millisecond. Bursts larger than a page straddle page boundaries.
	BurstSize int
	// BurstEvery is the distance between bursts in generated messages (default 1000).
	BurstEvery int
	// AdvancePerRequest moves the tenant's clock forward by this much after every MessageProcessingLogs
	// list request, so that state changes fall due between two pages of one poll. Every time the tenant
	// uses (visibility, Truth, tokens, inventory) reads this shifted clock.
	AdvancePerRequest time.Duration
	// LiteralQuotesOnly finds keyed paths (MessageProcessingLogs('…')/…, LogFiles(Name='…',…)/$value,
	// …) only when the quotes arrive literally; the percent-encoded spelling %27 answers 404, as on a
	// tenant that matches the raw path. By default both spellings are accepted.
	LiteralQuotesOnly bool
	// ResourceUsageLateBy makes the Inspect figures of an hour appear only this long after the hour ended
	// (0: at once, even for the hour under way): a tenant that aggregates late answers an empty hour first.
	ResourceUsageLateBy time.Duration
	// UnstableTies orders the entries of one LogEnd differently on every MessageProcessingLogs list
	// request, as a database may when the sort key ($orderby=LogEnd) is not unique: an offset ($skip)
	// into a second then points at different entries from one request to the next.
	UnstableTies bool
	// RunsNotFound answers 404 for MessageProcessingLogs('…')/Runs and MessageProcessingLogRuns('…')/
	// RunSteps, as a tenant that does not offer them.
	RunsNotFound bool
	// AbsentPaths answer 404 for the operational-state and payload paths (operations.go) with one of these
	// prefixes, with or without key predicates (e.g. "resourceusage", "Queues", "DataStores/Entries"), as
	// on a tenant that does not offer that API.
	AbsentPaths []string
}

// Rounding is how a second-precision tenant rounds a datetime literal with a fraction.
type Rounding string

// The roundings of Options.SecondPrecision; the empty Rounding keeps millisecond precision.
const (
	RoundFloor Rounding = "floor" // truncate to the second
	RoundCeil  Rounding = "ceil"  // round up to the next second when there is a fraction
)

// Server is a simulated tenant; serve it with Handler.
type Server struct {
	opts Options
	// now is the tenant's clock: Options.Now (or time.Now) plus what AdvancePerRequest has added.
	now     func() time.Time
	advance atomic.Int64 // nanoseconds added to the base clock
	mux     *http.ServeMux

	auth *simauth.Issuer

	mu       sync.Mutex
	store    *store
	started  bool
	faults   []Fault
	faultRNG *mrand.Rand
	stats    Stats
	lists    uint64 // MessageProcessingLogs list requests served (UnstableTies draws its order from it)
}

// Stats counts what the tenant served.
type Stats struct {
	TokensIssued   int
	APIRequests    int
	FaultsInjected map[Fault]int
	Unauthorized   int
}

// New returns a simulated tenant.
func New(opts Options) *Server {
	if opts.ClientID == "" {
		opts.ClientID = "sapcpi-sim"
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = "sim-secret"
	}
	if opts.TokenTTL == 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.TimeScale == 0 {
		opts.TimeScale = 30 * time.Second
	}
	if opts.BacklogSpan == 0 {
		opts.BacklogSpan = time.Hour
	}
	if opts.SlowDelay == 0 {
		opts.SlowDelay = 3 * time.Second
	}
	if len(opts.FaultKinds) == 0 {
		opts.FaultKinds = AllTransientFaults
	}
	if opts.LateShare == 0 {
		opts.LateShare = 0.03
	}
	if opts.BurstEvery <= 0 {
		opts.BurstEvery = 1000
	}
	if opts.PageCap <= 0 {
		opts.PageCap = serverPageSize
	}
	s := &Server{
		opts:     opts,
		faultRNG: mrand.New(mrand.NewPCG(opts.Seed+1, 7)),
		stats:    Stats{FaultsInjected: map[Fault]int{}},
	}
	base := opts.Now
	if base == nil {
		base = time.Now
	}
	s.now = func() time.Time { return base().Add(time.Duration(s.advance.Load())) }
	s.store = &store{gen: newGenerator(opts), byGUID: map[string]*message{}, runs: map[string]runRef{}}
	s.mux = http.NewServeMux()
	s.auth = simauth.New(opts.ClientID, opts.ClientSecret, opts.TokenTTL, s.now)
	s.mux.Handle("POST /oauth/token", s.auth)
	s.mux.HandleFunc("GET /api/v1/", s.api)
	return s
}

// Handler serves the token endpoint at /oauth/token and the API at /api/v1.
func (s *Server) Handler() http.Handler { return s.mux }

// InjectFaults queues faults for the next API requests, one each, in order.
func (s *Server) InjectFaults(f ...Fault) {
	s.mu.Lock()
	s.faults = append(s.faults, f...)
	s.mu.Unlock()
}

// ClearFaults drops the queued faults.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
}

// SetFaultRate changes the share of API requests that get a random fault.
func (s *Server) SetFaultRate(rate float64) {
	s.mu.Lock()
	s.opts.FaultRate = rate
	s.mu.Unlock()
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.stats
	out.TokensIssued = s.auth.Issued()
	out.FaultsInjected = map[Fault]int{}
	for k, v := range s.stats.FaultsInjected {
		out.FaultsInjected[k] = v
	}
	return out
}

// Credentials returns the client id and secret the token endpoint accepts.
func (s *Server) Credentials() (string, string) { return s.opts.ClientID, s.opts.ClientSecret }

// ensureStarted plans the backlog and the live stream on first use; callers hold s.mu.
func (s *Server) ensureStarted(now time.Time) {
	if s.started {
		return
	}
	s.started = true
	start := s.opts.Start
	if start.IsZero() {
		start = now
		s.opts.Start = now
	}
	st := s.store
	if n := s.opts.Backlog; n > 0 {
		step := s.opts.BacklogSpan / time.Duration(n)
		// The backlog ends one TimeScale·3 before Start so that every backlog message is final by then.
		first := start.Add(-s.opts.BacklogSpan - 3*s.opts.TimeScale)
		for i := range n {
			for _, m := range st.gen.slot(first.Add(time.Duration(i) * step)) {
				st.add(m)
			}
		}
	}
	if s.opts.Rate > 0 {
		st.interval = time.Duration(float64(time.Second) / s.opts.Rate)
		st.nextAt = start
		if s.opts.LiveFor > 0 {
			st.stopAt = start.Add(s.opts.LiveFor)
		}
	}
}

// Truth is what the tenant knows of one message: every state it will have had, in order.
type Truth struct {
	MessageGUID string
	IFlowID     string
	LogStart    time.Time
	LogLevel    string
	States      []TruthState
}

// TruthState is one state of a message.
type TruthState struct {
	Status string
	LogEnd time.Time
}

// Final is the message's last state.
func (t Truth) Final() TruthState { return t.States[len(t.States)-1] }

// Truth returns every message generated up to now with its planned states, for end-to-end checks.
func (s *Server) Truth() []Truth {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ensureStarted(s.now())
	s.store.advance(s.now())
	out := make([]Truth, 0, len(s.store.all))
	for _, m := range s.store.all {
		t := Truth{MessageGUID: m.guid, IFlowID: m.flow.id, LogStart: m.logStart, LogLevel: m.logLevel}
		for _, st := range m.states {
			t.States = append(t.States, TruthState{Status: st.status, LogEnd: st.logEnd})
		}
		out = append(out, t)
	}
	return out
}

// authorize checks a bearer token (or Basic credentials) and returns the token used, if any.
func (s *Server) authorize(r *http.Request) (string, bool) {
	if u, p, ok := r.BasicAuth(); ok && s.opts.BasicUser != "" {
		return "", u == s.opts.BasicUser && p == s.opts.BasicPassword
	}
	return s.auth.Bearer(r)
}

func (s *Server) nextFault() Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	var f Fault
	if len(s.faults) > 0 {
		f, s.faults = s.faults[0], s.faults[1:]
	} else if s.opts.FaultRate > 0 && s.faultRNG.Float64() < s.opts.FaultRate {
		f = s.opts.FaultKinds[s.faultRNG.IntN(len(s.opts.FaultKinds))]
	}
	if f != "" {
		s.stats.FaultsInjected[f]++
	}
	return f
}

func (s *Server) api(w http.ResponseWriter, r *http.Request) {
	tok, ok := s.authorize(r)
	s.mu.Lock()
	s.stats.APIRequests++
	if !ok {
		s.stats.Unauthorized++
	}
	s.mu.Unlock()
	if !ok {
		// Like the tenant's approuter, an unauthenticated call gets a 401 with a short body.
		w.Header().Set("WWW-Authenticate", `Bearer realm="sapcpi-sim"`)
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	fault := s.nextFault()
	switch fault {
	case FaultThrottle:
		w.Header().Set("Retry-After", "1")
		writeODataError(w, http.StatusTooManyRequests, "TooManyRequests", "Too many requests. Server's rate limit exceeded.")
		return
	case FaultServerError:
		writeODataError(w, http.StatusInternalServerError, "InternalError", "Internal Server Error")
		return
	case FaultUnavailable:
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("Service Unavailable: the tenant is being updated"))
		return
	case FaultExpiredToken:
		s.auth.Revoke(tok)
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	case FaultLoginPage:
		w.Header().Set("Content-Type", "text/html;charset=utf-8")
		_, _ = w.Write([]byte(loginPage))
		return
	case FaultForbidden:
		writeODataError(w, http.StatusForbidden, "Forbidden", "User does not have the required role")
		return
	case FaultNotFound:
		writeODataError(w, http.StatusNotFound, "Not Found", "Resource not found for the segment")
		return
	case FaultSlow:
		select {
		case <-time.After(s.opts.SlowDelay):
		case <-r.Context().Done():
			return
		}
	}
	path := strings.TrimPrefix(r.URL.Path, "/api/v1/")
	for _, p := range s.opts.ForbiddenPaths {
		if strings.HasPrefix(path, p) {
			writeODataError(w, http.StatusForbidden, "Forbidden", "User does not have the required role for "+p)
			return
		}
	}
	var status int
	var body []byte
	var ctype string
	// Keyed paths are read from the path as it came on the wire: r.URL.Path has already turned %27
	// into a quote, which would hide the difference LiteralQuotesOnly is about.
	escaped := strings.TrimPrefix(r.URL.EscapedPath(), "/api/v1/")
	first, _, _ := strings.Cut(path, "/")
	switch {
	case path == "" || path == "/":
		status, ctype = http.StatusOK, "application/json"
		body = []byte(`{"d":{"EntitySets":["MessageProcessingLogs"]}}`)
	case path == "MessageProcessingLogs":
		status, body = s.listMPLs(r)
		ctype = "application/json"
		if s.opts.RequestLog != nil {
			s.opts.RequestLog(fmt.Sprintf("%s %s?%s -> %d, %d bytes", r.Method, r.URL.Path, r.URL.RawQuery, status, len(body)))
		}
		if d := s.opts.AdvancePerRequest; d > 0 {
			s.advance.Add(int64(d))
		}
	case path == "MessageProcessingLogs/$count":
		status, body = s.countMPLs(r)
		ctype = "text/plain"
	case strings.Contains(first, "("):
		var ok bool
		if kp, parsed := parseKeyedPath(escaped, s.opts.LiteralQuotesOnly); parsed {
			status, body, ctype, ok = s.keyed(r, kp)
		}
		if !ok {
			status, ctype = http.StatusNotFound, "application/json"
			body = odataError("Not Found", fmt.Sprintf("Resource not found for segment '%s'", first))
		}
	default:
		s.mu.Lock()
		now := s.now()
		s.ensureStarted(now)
		s.mu.Unlock()
		var ok bool
		if status, body, ctype, ok = s.inventory(r, path, baseURL(r), now); !ok {
			status, ctype = http.StatusNotFound, "application/json"
			body = odataError("Not Found", fmt.Sprintf("Resource not found for segment '%s'", path))
		}
	}
	if fault == FaultTruncated && len(body) > 1 {
		body = body[:len(body)/2]
	}
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// keyed answers the paths with a key predicate; ok is false for a path the tenant does not know.
func (s *Server) keyed(r *http.Request, kp keyedPath) (status int, body []byte, ctype string, ok bool) {
	switch {
	case kp.set == "MessageProcessingLogs" && kp.rest == "/ErrorInformation/$value":
		guid, ok := kp.single()
		if !ok {
			return 0, nil, "", false
		}
		status, body, ctype = s.errorInformation(guid)
		return status, body, ctype, true
	case kp.set == "MessageProcessingLogs" && kp.rest == "/Runs" && !s.opts.RunsNotFound:
		guid, ok := kp.single()
		if !ok {
			return 0, nil, "", false
		}
		status, body = s.listRuns(r, guid)
		return status, body, "application/json", true
	case kp.set == "MessageProcessingLogRuns" && kp.rest == "/RunSteps" && !s.opts.RunsNotFound:
		id, ok := kp.single()
		if !ok {
			return 0, nil, "", false
		}
		status, body = s.listRunSteps(r, id)
		return status, body, "application/json", true
	}
	s.mu.Lock()
	now := s.now()
	s.ensureStarted(now)
	s.mu.Unlock()
	if status, body, ctype, ok = s.keyedInventory(kp, baseURL(r), now); ok {
		return status, body, ctype, ok
	}
	// The operational sets parse their keys themselves; the spelling was checked above.
	return s.operations(r, strings.TrimPrefix(r.URL.Path, "/api/v1/"), baseURL(r), now)
}

func (s *Server) errorInformation(guid string) (int, []byte, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ensureStarted(s.now())
	s.store.advance(s.now())
	m, ok := s.store.byGUID[guid]
	if !ok || m.cur < 0 || m.errorText == "" {
		return http.StatusNotFound, odataError("Not Found", "No error information for message "+guid), "application/json"
	}
	return http.StatusOK, []byte(m.errorText), "text/plain"
}

func baseURL(r *http.Request) string {
	if r.TLS == nil {
		return "http://" + r.Host + "/api/v1/"
	}
	return "https://" + r.Host + "/api/v1/"
}

const loginPage = `<!DOCTYPE html>
<html><head><title>Log On</title></head>
<body><form method="post" action="/saml2/idp/sso"><input name="j_username"/><input type="password" name="j_password"/></form></body></html>`

func odataError(code, msg string) []byte {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": code, "message": map[string]string{"lang": "en", "value": msg}}})
	return b
}

func writeODataError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(odataError(code, msg))
}
