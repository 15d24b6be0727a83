package fakecpi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func get(t *testing.T, srv *httptest.Server, sim *Server, path string, q url.Values) (*http.Response, map[string]any) {
	t.Helper()
	id, secret := sim.Credentials()
	resp, err := http.PostForm(srv.URL+"/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}})
	require.NoError(t, err)
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	resp.Body.Close()
	require.NotEmpty(t, tok.AccessToken)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/"+path+"?"+q.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp, body
}

func TestServerPagesAtOneThousandWithASkiptoken(t *testing.T) {
	sim := New(Options{Backlog: 1500})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	resp, body := get(t, srv, sim, "MessageProcessingLogs", url.Values{"$inlinecount": {"allpages"}, "$select": {"MessageGuid,LogEnd"}})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	d := body["d"].(map[string]any)
	assert.Len(t, d["results"], 1000)
	assert.Equal(t, "1500", d["__count"], "Int64 counts are strings")
	next, _ := d["__next"].(string)
	require.Contains(t, next, "$skiptoken=1000")
	first := d["results"].([]any)[0].(map[string]any)
	assert.Regexp(t, `^/Date\(\d+\)/$`, first["LogEnd"])
	assert.NotContains(t, first, "Status", "$select is honoured")

	u, _ := url.Parse(next)
	_, body = get(t, srv, sim, "MessageProcessingLogs", u.Query())
	d = body["d"].(map[string]any)
	assert.Len(t, d["results"], 500)
	assert.NotContains(t, d, "__next")
}

func TestServerRequiresAValidToken(t *testing.T) {
	sim := New(Options{})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/v1/MessageProcessingLogs")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, err = http.PostForm(srv.URL+"/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"x"}, "client_secret": {"y"}})
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

func TestSimulationPlansRetriesThatLaterComplete(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sim := New(Options{Rate: 20, Start: now, LiveFor: time.Minute, TimeScale: time.Second, Now: func() time.Time { return now.Add(2 * time.Minute) }})
	truth := sim.Truth()
	assert.Len(t, truth, 1200)
	statuses := map[string]int{}
	retried := 0
	for _, m := range truth {
		statuses[m.Final().Status]++
		if len(m.States) > 1 && m.States[0].Status == "RETRY" && m.Final().Status == "COMPLETED" {
			retried++
		}
	}
	assert.Greater(t, statuses["COMPLETED"], 900)
	assert.Positive(t, statuses["FAILED"])
	assert.Positive(t, retried)
}
