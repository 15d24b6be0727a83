package cpi

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
)

func TestServiceKeyWithClientSecret(t *testing.T) {
	key, err := ReadServiceKey(filepath.Join("testdata", "service-key.json"))
	require.NoError(t, err)
	creds, err := key.Credentials()
	require.NoError(t, err)
	assert.Equal(t, "sb-1a2b3c!b12345|it!b543", creds.ClientID)
	assert.Equal(t, "https://acme.authentication.eu10.hana.ondemand.com/oauth/token", creds.TokenURL)
	assert.Nil(t, creds.ClientCert)
	assert.Equal(t, "https://acme.it-cpi018.cfapps.eu10-003.hana.ondemand.com", key.OAuth.URL)
}

func TestServiceKeyWithCertificateAndEscapedPEM(t *testing.T) {
	certPEM, keyPEM := selfSigned(t)
	raw, err := json.Marshal(map[string]any{"oauth": map[string]string{
		"clientid": "sb-cert", "url": "https://t.example",
		"tokenurl": "https://acme.authentication.cert.eu10.hana.ondemand.com/oauth/token",
		// Some keys carry the PEM with literal \n sequences (escaped twice).
		"certificate": strings.ReplaceAll(certPEM, "\n", `\n`), "key": keyPEM,
	}})
	require.NoError(t, err)
	key, err := ParseServiceKey(raw, "cert-key.json")
	require.NoError(t, err)
	creds, err := key.Credentials()
	require.NoError(t, err)
	require.NotNil(t, creds.ClientCert)
	assert.Empty(t, creds.ClientSecret)
	assert.Contains(t, creds.TokenURL, ".cert.")
}

func TestServiceKeyErrorsNameFieldsNotValues(t *testing.T) {
	_, err := ParseServiceKey([]byte(`{"oauth":{"clientsecret":"hunter2-secret"}}`), "k.json")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "oauth.clientid")
	assert.Contains(t, err.Error(), "oauth.url")
	assert.Contains(t, err.Error(), "oauth.tokenurl")
	assert.NotContains(t, err.Error(), "hunter2")

	_, err = ParseServiceKey([]byte(`{"oauth":{"clientsecret":"hunter2-secret`), "k.json")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not valid JSON")
	assert.NotContains(t, err.Error(), "hunter2")

	_, err = ReadServiceKey(filepath.Join(t.TempDir(), "missing.json"))
	require.Error(t, err)

	bad := map[string]any{"oauth": map[string]string{"clientid": "x", "url": "https://t", "tokenurl": "https://a/oauth/token", "certificate": "nope", "key": "nope"}}
	raw, _ := json.Marshal(bad)
	key, err := ParseServiceKey(raw, "k.json")
	require.NoError(t, err)
	_, err = key.Credentials()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "valid PEM")
}

func selfSigned(t *testing.T) (string, string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sb-cert"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(priv)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
}

// A certificate service key authenticates to the token endpoint by mTLS: the endpoint sees the key's
// client certificate and the client id in the form, and no secret.
func TestCertificateServiceKeyFetchesATokenOverMutualTLS(t *testing.T) {
	certPEM, keyPEM := selfSigned(t)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM([]byte(certPEM)))
	var sawClientCert, sawSecret bool
	var sawClientID string
	tokenSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawClientCert = r.TLS != nil && len(r.TLS.PeerCertificates) == 1 && r.TLS.PeerCertificates[0].Subject.CommonName == "sb-cert"
		require.NoError(t, r.ParseForm())
		sawClientID = r.Form.Get("client_id")
		_, _, basic := r.BasicAuth()
		sawSecret = basic || r.Form.Get("client_secret") != ""
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"cert-token","token_type":"bearer","expires_in":3600}`)
	}))
	tokenSrv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, MinVersion: tls.VersionTLS12}
	tokenSrv.StartTLS()
	defer tokenSrv.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer cert-token" {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"d":{"results":[]}}`)
	}))
	defer api.Close()

	raw, err := json.Marshal(map[string]any{"oauth": map[string]string{
		"clientid": "sb-cert", "url": api.URL, "tokenurl": tokenSrv.URL + "/oauth/token", "certificate": certPEM, "key": keyPEM,
	}})
	require.NoError(t, err)
	key, err := ParseServiceKey(raw, "cert-key.json")
	require.NoError(t, err)
	creds, err := key.Credentials()
	require.NoError(t, err)
	// The token client trusts the test server's certificate, as a real one trusts SAP's CA.
	tokenClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: tokenSrv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs, MinVersion: tls.VersionTLS12}}}
	rt, ref := httpapi.NewOAuth2Transport(http.DefaultTransport, tokenClient, creds)
	c, err := NewClient(Settings{ServiceRoot: api.URL, Settings: httpapi.Settings{HTTPClient: &http.Client{Transport: rt}, Refresher: ref}})
	require.NoError(t, err)
	_, err = c.MessageProcessingLogs(t.Context(), allTime())
	require.NoError(t, err)
	assert.True(t, sawClientCert, "the token endpoint saw the key's certificate")
	assert.Equal(t, "sb-cert", sawClientID)
	assert.False(t, sawSecret, "no secret is sent with a certificate key")
}
