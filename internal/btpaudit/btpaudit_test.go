package btpaudit

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sapcpi-otel/sapcpireceiver/internal/fakeaudit"
	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
)

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func simClient(t *testing.T) (*Client, *fakeaudit.Server) {
	t.Helper()
	sim := fakeaudit.New(fakeaudit.Options{Start: now.Add(-2 * time.Hour), Now: func() time.Time { return now }})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	id, secret := sim.Credentials()
	rt, ref := httpapi.NewOAuth2Transport(http.DefaultTransport, srv.Client(), httpapi.OAuth2Credentials{ClientID: id, ClientSecret: secret, TokenURL: srv.URL + "/oauth/token"})
	c, err := NewClient(srv.URL, httpapi.Settings{HTTPClient: &http.Client{Transport: rt}, Refresher: ref})
	require.NoError(t, err)
	return c, sim
}

func TestPagesFollowTheHandleUntilTheLastPage(t *testing.T) {
	c, sim := simClient(t)
	from, to := now.Add(-2*time.Hour), now.Add(-10*time.Minute)
	var got []string
	handle, pages := "", 0
	for {
		recs, next, err := c.Page(t.Context(), from, to, handle, nil)
		require.NoError(t, err)
		pages++
		for _, r := range recs {
			got = append(got, r.MessageUUID)
		}
		if next == "" {
			break
		}
		handle = next
	}
	assert.Equal(t, sim.Visible(from, to, now), got)
	assert.Len(t, got, 3300, "one record every 2 s for 110 minutes")
	assert.Equal(t, 7, pages, "pages of 500")
}

func TestNothingNewIsA204(t *testing.T) {
	c, _ := simClient(t)
	recs, next, err := c.Page(t.Context(), now.Add(-30*time.Second), now, "", nil)
	require.NoError(t, err, "records younger than the ingestion delay are not there yet")
	assert.Empty(t, recs)
	assert.Empty(t, next)
}

func TestRecordsParseWhetherTheMessageIsAnObjectOrAString(t *testing.T) {
	c, _ := simClient(t)
	recs, _, err := c.Page(t.Context(), now.Add(-time.Hour), now.Add(-time.Hour+10*time.Second), "", nil)
	require.NoError(t, err)
	require.Len(t, recs, 5)
	for _, r := range recs {
		e := r.Parse()
		assert.NotEmpty(t, e.Action, "from the CPI JSON in message.data")
		assert.NotEmpty(t, e.ObjectType)
		assert.NotEmpty(t, e.IP)
		assert.False(t, e.Time.IsZero())
		assert.NotEmpty(t, e.Changes)
	}
}

func TestParseToleratesEveryShape(t *testing.T) {
	pgp := Record{MessageUUID: "1", Time: "2026-06-01T10:00:00.000Z", Message: json.RawMessage(`{"data":"{action=PGP_Keyring_Updated, objType=\"PGP Keyring\", nodeType=\"Keymanagement Subsystem\", isCustomerVisible=true, objName=partner_pub}"}`)}
	e := pgp.Parse()
	assert.Equal(t, "PGP_Keyring_Updated", e.Action)
	assert.Equal(t, "PGP Keyring", e.ObjectType)
	assert.Equal(t, "partner_pub", e.ObjectID)

	cfg := Record{MessageUUID: "2", Time: "2026-06-01T10:00:00Z", Message: json.RawMessage(`{"object":{"type":"Credential","id":{"name":"x"}},"attributes":[{"name":"password","old":"***","new":"***"}],"success":false,"user":"bob"}`)}
	e = cfg.Parse()
	assert.Equal(t, "Credential", e.ObjectType)
	require.NotNil(t, e.Success)
	assert.False(t, *e.Success)
	assert.Equal(t, "bob", e.User)
	assert.Equal(t, []string{"password: *** → ***"}, e.Changes)

	broken := Record{MessageUUID: "3", Time: "not a time", User: "u", Message: json.RawMessage(`"{not json"`)}
	e = broken.Parse()
	assert.Equal(t, "3", e.UUID, "the record is kept with what the envelope says")
	assert.Equal(t, "u", e.User)
}

func TestServiceKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"url":"https://auditlog-management.cfapps.eu10.hana.ondemand.com","uaa":{"clientid":"sb-x","clientsecret":"s3cret","url":"https://acme.authentication.eu10.hana.ondemand.com"}}`), 0o600))
	key, err := ReadServiceKey(path)
	require.NoError(t, err)
	creds, err := key.Credentials()
	require.NoError(t, err)
	assert.Equal(t, "https://acme.authentication.eu10.hana.ondemand.com/oauth/token", creds.TokenURL)
	require.NoError(t, os.WriteFile(path, []byte(`{"uaa":{"clientsecret":"s3cret"}}`), 0o600))
	_, err = ReadServiceKey(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "url, uaa.clientid")
	assert.NotContains(t, err.Error(), "s3cret")
}
