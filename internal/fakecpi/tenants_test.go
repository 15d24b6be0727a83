package fakecpi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// call fetches a token from the tenant's token endpoint with the credentials of key and then one API
// path; it returns the token status and the API status.
func call(t *testing.T, base, tenant string, id, secret, path string) (int, int) {
	t.Helper()
	resp, err := http.PostForm(base+"/t/"+tenant+"/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}})
	require.NoError(t, err)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	req, _ := http.NewRequest(http.MethodGet, base+"/t/"+tenant+"/api/v1/"+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	api, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	api.Body.Close()
	return resp.StatusCode, api.StatusCode
}

func TestTenantsServeEachTenantWithItsOwnCredentialsAndOutage(t *testing.T) {
	names := TenantNames(3)
	require.Equal(t, []string{"t01", "t02", "t03"}, names)
	ts := NewTenants(names, func(string) Options { return Options{Backlog: 10} })
	srv := httptest.NewServer(ts.Handler())
	defer srv.Close()

	var key struct {
		OAuth struct{ ClientID, ClientSecret, URL, TokenURL string } `json:"oauth"`
	}
	raw, err := ts.ServiceKey(srv.URL, "t02")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &key))
	assert.Equal(t, srv.URL+"/t/t02", key.OAuth.URL)
	assert.Equal(t, srv.URL+"/t/t02/oauth/token", key.OAuth.TokenURL)
	assert.Equal(t, "sapcpi-sim-t02", key.OAuth.ClientID)

	tok, api := call(t, srv.URL, "t02", key.OAuth.ClientID, key.OAuth.ClientSecret, "MessageProcessingLogs")
	assert.Equal(t, http.StatusOK, tok)
	assert.Equal(t, http.StatusOK, api)
	tok, _ = call(t, srv.URL, "t01", key.OAuth.ClientID, key.OAuth.ClientSecret, "MessageProcessingLogs")
	assert.Equal(t, http.StatusUnauthorized, tok, "one tenant's service key is not another's")

	for _, tc := range []struct {
		outage   Outage
		tok, api int
	}{
		{OutageUnauthorized, http.StatusUnauthorized, http.StatusUnauthorized},
		{OutageNotFound, http.StatusOK, http.StatusNotFound},
		{OutageThrottled, http.StatusOK, http.StatusTooManyRequests},
		{Healthy, http.StatusOK, http.StatusOK},
	} {
		ts.SetOutage("t02", tc.outage)
		tok, api := call(t, srv.URL, "t02", key.OAuth.ClientID, key.OAuth.ClientSecret, "MessageProcessingLogs")
		assert.Equal(t, tc.tok, tok, "%q token", tc.outage)
		assert.Equal(t, tc.api, api, "%q API", tc.outage)
		id, secret := ts.Tenant("t03").Credentials()
		_, other := call(t, srv.URL, "t03", id, secret, "MessageProcessingLogs")
		assert.Equal(t, http.StatusOK, other, "%q: the other tenants answer", tc.outage)
	}
	assert.Positive(t, ts.Requests("t02"))
	assert.Len(t, ts.Tenant("t01").Truth(), 10, "each tenant its own backlog")
}
