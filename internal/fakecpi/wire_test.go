package fakecpi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// wire is a test client that sends paths exactly as written, so a test controls their spelling.
type wire struct {
	t     *testing.T
	srv   *httptest.Server
	token string
}

func newWire(t *testing.T, opts Options) (*Server, *wire) {
	t.Helper()
	sim := New(opts)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	id, secret := sim.Credentials()
	resp, err := http.PostForm(srv.URL+"/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}})
	require.NoError(t, err)
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	return sim, &wire{t: t, srv: srv, token: tok.AccessToken}
}

// get requests a path below the service root (or an absolute URL) as written and returns status and body.
func (w *wire) get(pathAndQuery string) (int, []byte) {
	w.t.Helper()
	u := pathAndQuery
	if !strings.HasPrefix(u, "http") {
		u = w.srv.URL + "/api/v1/" + pathAndQuery
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(w.t, err)
	req.Header.Set("Authorization", "Bearer "+w.token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(w.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(w.t, err)
	return resp.StatusCode, body
}

// wireMPL is an MPL as it is on the wire, dates still in their /Date(ms)/ form.
type wireMPL struct {
	MessageGuid, Status, LogStart, LogEnd string
}

type wirePage[T any] struct {
	D struct {
		Results []T    `json:"results"`
		Next    string `json:"__next"`
		Count   string `json:"__count"`
	} `json:"d"`
}

// page gets and decodes one collection page.
func page[T any](w *wire, pathAndQuery string) wirePage[T] {
	w.t.Helper()
	status, body := w.get(pathAndQuery)
	require.Equal(w.t, http.StatusOK, status, "%s", body)
	var p wirePage[T]
	require.NoError(w.t, json.Unmarshal(body, &p), "%s", body)
	return p
}

// follow turns a next link into what get takes.
func (w *wire) follow(next string) string {
	return strings.TrimPrefix(next, w.srv.URL+"/api/v1/")
}

// wireMillis reads "/Date(ms)/".
func wireMillis(t *testing.T, s string) int64 {
	t.Helper()
	ms, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(s, "/Date("), ")/"), 10, 64)
	require.NoError(t, err, s)
	return ms
}

// testClock is a clock a test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

var t0 = time.Date(2026, 3, 2, 19, 54, 0, 0, time.UTC)

func filterQuery(filter string, extra ...string) string {
	q := "$filter=" + url.QueryEscape(filter) + "&$orderby=LogEnd&$select=MessageGuid,Status,LogStart,LogEnd"
	for _, e := range extra {
		q += "&" + e
	}
	return "MessageProcessingLogs?" + q
}
