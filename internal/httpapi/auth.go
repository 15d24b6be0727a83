package httpapi

import (
	"context"
	"crypto/tls"
	"net/http"
	"strings"
	"sync"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// OAuth2Credentials are client-credentials for a token endpoint (XSUAA on Cloud Foundry, or Neo's
// oauthasservices endpoint).
type OAuth2Credentials struct {
	ClientID     string
	ClientSecret string
	TokenURL     string
	// ClientCert, when set, authenticates the client to the token endpoint by mTLS instead of a secret.
	ClientCert *tls.Certificate
}

// PEMText turns the literal "\n" sequences that some keys carry (escaped twice) into line breaks.
func PEMText(s string) string { return strings.ReplaceAll(s, `\n`, "\n") }

// NewOAuth2Transport wraps base with client-credentials bearer tokens. Tokens are cached until shortly
// before they expire; the returned Refresher drops the cached token after a 401. tokenClient is the HTTP
// client for the token endpoint (TLS settings, proxy, timeout).
func NewOAuth2Transport(base http.RoundTripper, tokenClient *http.Client, creds OAuth2Credentials) (http.RoundTripper, Refresher) {
	cfg := clientcredentials.Config{
		ClientID:     creds.ClientID,
		ClientSecret: creds.ClientSecret,
		TokenURL:     creds.TokenURL,
	}
	if creds.ClientCert != nil {
		// The certificate key type has no secret: the client id goes in the form, the cert in TLS.
		cfg.AuthStyle = oauth2.AuthStyleInParams
		tokenClient = withClientCert(tokenClient, *creds.ClientCert)
	}
	src := &refreshableSource{cfg: cfg, ctx: context.WithValue(context.Background(), oauth2.HTTPClient, tokenClient)}
	src.Invalidate()
	return &bearerTransport{src: src, base: base}, src
}

// bearerTransport sets the Authorization header from a token source. (oauth2.Transport would do, but
// http.Client's timeout calls its deprecated CancelRequest, which logs on every timeout.)
type bearerTransport struct {
	src  oauth2.TokenSource
	base http.RoundTripper
}

func (b *bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := b.src.Token()
	if err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	tok.SetAuthHeader(r)
	return b.base.RoundTrip(r)
}

func withClientCert(c *http.Client, cert tls.Certificate) *http.Client {
	var tr *http.Transport
	if t, ok := c.Transport.(*http.Transport); ok {
		tr = t.Clone()
	} else {
		tr = http.DefaultTransport.(*http.Transport).Clone()
	}
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		tr.TLSClientConfig = tr.TLSClientConfig.Clone()
	}
	tr.TLSClientConfig.Certificates = append(tr.TLSClientConfig.Certificates, cert)
	out := *c
	out.Transport = tr
	return &out
}

// refreshableSource is a caching token source that can be told to forget its token.
type refreshableSource struct {
	cfg clientcredentials.Config
	ctx context.Context

	mu  sync.Mutex
	src oauth2.TokenSource
}

func (r *refreshableSource) Token() (*oauth2.Token, error) {
	r.mu.Lock()
	src := r.src
	r.mu.Unlock()
	return src.Token()
}

// Invalidate makes the next Token call fetch a new token.
func (r *refreshableSource) Invalidate() {
	r.mu.Lock()
	r.src = r.cfg.TokenSource(r.ctx)
	r.mu.Unlock()
}

// BasicTransport adds HTTP Basic credentials (Neo S-/P-users).
type BasicTransport struct {
	Username, Password string
	Base               http.RoundTripper
}

// RoundTrip sets the Authorization header on a copy of the request.
func (b *BasicTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.SetBasicAuth(b.Username, b.Password)
	return b.Base.RoundTrip(r)
}
