// Package simauth is the OAuth2 client-credentials token endpoint of the simulated SAP services
// (fakecpi, fakecalm): it issues opaque bearer tokens, accepts client credentials by HTTP Basic or in
// the form, and lets a simulation revoke a token to play an expired one.
package simauth

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Issuer issues and checks tokens for one client.
type Issuer struct {
	clientID, secret string
	ttl              time.Duration
	now              func() time.Time

	mu     sync.Mutex
	tokens map[string]time.Time
	issued int
}

// New returns an issuer for the client id and secret; tokens live ttl on the clock now.
func New(clientID, secret string, ttl time.Duration, now func() time.Time) *Issuer {
	return &Issuer{clientID: clientID, secret: secret, ttl: ttl, now: now, tokens: map[string]time.Time{}}
}

// ServeHTTP is the token endpoint (POST, grant_type=client_credentials).
func (i *Issuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Form.Get("grant_type") != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.Form.Get("client_id"), r.Form.Get("client_secret")
	}
	if id != i.clientID || secret != i.secret {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "Bad credentials"})
		return
	}
	var raw [24]byte
	_, _ = rand.Read(raw[:])
	tok := base64.RawURLEncoding.EncodeToString(raw[:])
	i.mu.Lock()
	i.tokens[tok] = i.now().Add(i.ttl)
	i.issued++
	i.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": int(i.ttl.Seconds()), "jti": "sim"})
}

// Bearer returns the request's bearer token and whether it is known and unexpired.
func (i *Issuer) Bearer(r *http.Request) (string, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return "", false
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	exp, known := i.tokens[tok]
	return tok, known && i.now().Before(exp)
}

// Revoke forgets a token, as when it expired early.
func (i *Issuer) Revoke(tok string) {
	i.mu.Lock()
	delete(i.tokens, tok)
	i.mu.Unlock()
}

// Issued counts the tokens handed out.
func (i *Issuer) Issued() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.issued
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
