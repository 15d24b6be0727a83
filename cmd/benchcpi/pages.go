package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/simauth"
)

// store holds every MPL of the backlog pre-rendered, oldest LogEnd first, in one buffer: entry i is
// data[off[i]:off[i+1]-1], and the byte after each entry is the comma that joins it to the next. A page
// is then a slice of that buffer between a fixed head and tail, so answering costs a binary search and
// three writes whatever the page size.
type store struct {
	data   []byte
	off    []int   // len(off) == entries+1
	logEnd []int64 // Unix milliseconds, ascending
	// query is what the entries were rendered for (the receiver's $select, no $expand): the server
	// refuses any other, so a measurement never runs against pages it did not mean to serve.
	sel string
}

func (s *store) len() int { return len(s.logEnd) }

// render pages through a simulated tenant (internal/fakecpi) in-process, exactly as the receiver asks
// for MPLs, and keeps each entry's bytes: the static server serves the simulated tenant's bytes.
func render(opts fakecpi.Options, base string) (*store, error) {
	sim := fakecpi.New(opts)
	h := sim.Handler()
	id, secret := sim.Credentials()
	token, err := fetchToken(h, id, secret)
	if err != nil {
		return nil, err
	}
	s := &store{off: []int{0}}
	var from time.Time
	until := time.Now().Add(24 * time.Hour)
	skip := 0
	for {
		q := cpi.MessageQuery{From: from, Until: until, Top: 1000, Skip: skip}.Query()
		if s.sel == "" {
			s.sel = queryValue(q, "$select")
		}
		req := httptest.NewRequest(http.MethodGet, base+"MessageProcessingLogs?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			return nil, fmt.Errorf("simulated tenant answered %d: %.200s", rec.Code, rec.Body.String())
		}
		body := rec.Body.Bytes()
		var raw struct {
			D struct {
				Results []json.RawMessage `json:"results"`
			} `json:"d"`
		}
		if err := json.Unmarshal(body, &raw); err != nil {
			return nil, err
		}
		page, err := cpi.DecodeMessagePage(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		if len(page.Results) != len(raw.D.Results) {
			return nil, errors.New("page decoded to different entry counts")
		}
		for i, e := range raw.D.Results {
			s.data = append(s.data, e...)
			s.data = append(s.data, ',')
			s.off = append(s.off, len(s.data))
			s.logEnd = append(s.logEnd, page.Results[i].LogEnd.UnixMilli())
		}
		if len(raw.D.Results) < 1000 {
			return s, nil
		}
		// Page by the last LogEnd (at millisecond precision, which the simulated tenant compares at),
		// stepping over the entries of that millisecond already kept.
		last := page.Results[len(page.Results)-1].LogEnd.Time
		if last.Equal(from) {
			skip += len(page.Results)
			continue
		}
		from, skip = last, 0
		for i := len(page.Results) - 1; i >= 0 && page.Results[i].LogEnd.Equal(last); i-- {
			skip++
		}
	}
}

func fetchToken(h http.Handler, id, secret string) (string, error) {
	req := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("no token from the simulated tenant (%d)", rec.Code)
	}
	return tok.AccessToken, nil
}

func queryValue(q cpi.Query, key string) string {
	for _, kv := range q {
		if kv[0] == key {
			return kv[1]
		}
	}
	return ""
}

// server answers MessageProcessingLogs list requests from the store, and the token endpoint.
type server struct {
	st      *store
	auth    *simauth.Issuer
	pageCap int
	// requests counts answered list requests (the receiver's requests per 1,000 MPLs).
	requests atomic.Int64
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /oauth/token", s.auth)
	mux.HandleFunc("GET /api/v1/MessageProcessingLogs", s.list)
	return mux
}

func (s *server) list(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.auth.Bearer(r); !ok {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	q := r.URL.Query()
	from, until, err := parseWindow(q.Get("$filter"))
	if err == nil {
		err = s.check(q)
	}
	var top, skip int
	hasTop := q.Has("$top")
	if err == nil {
		top, skip, err = paging(q)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	st := s.st
	lo := sort.Search(st.len(), func(i int) bool { return st.logEnd[i] >= from })
	hi := sort.Search(st.len(), func(i int) bool { return st.logEnd[i] >= until })
	i := min(lo+skip, hi)
	limit := s.pageCap
	if hasTop && top < limit {
		limit = top
	}
	j := min(i+limit, hi)
	// As on a tenant, a page as long as $top gets no next link; one the server cut below $top does.
	var next string
	if j < hi && (!hasTop || top > j-i) {
		next = nextLink(r, skip+(j-i), hasTop, top-(j-i))
	}
	head := []byte(`{"d":{"results":[`)
	var body []byte
	if j > i {
		body = st.data[st.off[i] : st.off[j]-1]
	}
	tail := []byte("]")
	if next != "" {
		tail = append(tail, `,"__next":`...)
		tail = strconv.AppendQuote(tail, next)
	}
	tail = append(tail, "}}"...)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(head)+len(body)+len(tail)))
	_, _ = w.Write(head)
	_, _ = w.Write(body)
	_, _ = w.Write(tail)
	s.requests.Add(1)
}

// check refuses what the pre-rendered pages cannot answer faithfully.
func (s *server) check(q url.Values) error {
	if ob := q.Get("$orderby"); ob != "" && ob != "LogEnd" {
		return fmt.Errorf("only $orderby=LogEnd is served, not %q", ob)
	}
	if sel := q.Get("$select"); sel != s.st.sel {
		return fmt.Errorf("the pages are rendered for $select=%s only", s.st.sel)
	}
	for _, k := range []string{"$expand", "$inlinecount"} {
		if q.Has(k) {
			return fmt.Errorf("%s is not served by the static server", k)
		}
	}
	return nil
}

func paging(q url.Values) (top, skip int, err error) {
	for _, o := range []struct {
		key string
		dst *int
	}{{"$top", &top}, {"$skip", &skip}, {"$skiptoken", &skip}} {
		raw := q.Get(o.key)
		if raw == "" {
			continue
		}
		n, perr := strconv.Atoi(raw)
		if perr != nil || n < 0 {
			return 0, 0, fmt.Errorf("invalid %s %q", o.key, raw)
		}
		*o.dst += n
	}
	return top, skip, nil
}

// parseWindow reads the receiver's filter, `LogEnd ge datetime'…' and LogEnd lt datetime'…'`, in Unix
// milliseconds; anything else is refused.
func parseWindow(f string) (from, until int64, err error) {
	ge, rest, ok := strings.Cut(strings.TrimPrefix(f, "LogEnd ge "), " and LogEnd lt ")
	if !ok || !strings.HasPrefix(f, "LogEnd ge ") || strings.Contains(rest, " ") {
		return 0, 0, fmt.Errorf("only $filter=LogEnd ge datetime'…' and LogEnd lt datetime'…' is served, not %q", f)
	}
	a, err := parseDatetime(ge)
	if err != nil {
		return 0, 0, err
	}
	b, err := parseDatetime(rest)
	if err != nil {
		return 0, 0, err
	}
	return a.UnixMilli(), b.UnixMilli(), nil
}

func parseDatetime(lit string) (time.Time, error) {
	v, ok := strings.CutPrefix(lit, "datetime'")
	if !ok || !strings.HasSuffix(v, "'") {
		return time.Time{}, fmt.Errorf("bad datetime literal %q", lit)
	}
	return time.Parse("2006-01-02T15:04:05.999", strings.TrimSuffix(v, "'"))
}

// nextLink continues a page the server cut short, as the simulated tenant does: the same path and
// options, a $skiptoken past what was sent, $top reduced by it, relative to the service root.
func nextLink(r *http.Request, skip int, hasTop bool, top int) string {
	next := r.URL.Query()
	next.Del("$skip")
	next.Set("$skiptoken", strconv.Itoa(skip))
	if hasTop {
		next.Set("$top", strconv.Itoa(top))
	}
	return strings.TrimPrefix(r.URL.EscapedPath(), "/api/v1/") + "?" + fakecpi.EncodeODataQuery(next)
}

// bareDecode is the yardstick: encoding/json.Unmarshal of the served pages (1000 entries each, the
// whole backlog once) into typed entities, as CPU time of this process per record, GC included.
func bareDecode(st *store, rounds int) (perRecord time.Duration, records int, err error) {
	var pages [][]byte
	for i := 0; i < st.len(); i += 1000 {
		j := min(i+1000, st.len())
		p := append([]byte(`{"d":{"results":[`), st.data[st.off[i]:st.off[j]-1]...)
		pages = append(pages, append(p, "]}}"...))
	}
	start := cpuTime()
	for range rounds {
		for _, p := range pages {
			var env struct {
				D struct {
					Results []cpi.MessageProcessingLog `json:"results"`
				} `json:"d"`
			}
			if err := json.Unmarshal(p, &env); err != nil {
				return 0, 0, err
			}
			records += len(env.D.Results)
		}
	}
	if records == 0 {
		return 0, 0, io.ErrUnexpectedEOF
	}
	return (cpuTime() - start) / time.Duration(records), records, nil
}
