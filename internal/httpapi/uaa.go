package httpapi

import (
	"crypto/tls"
	"errors"
	"strings"
)

// UAA is the xsuaa section ("uaa") of a BTP service key, as SAP Cloud ALM API and auditlog-management
// keys carry it: client credentials with a secret, or an X.509 certificate and key (mTLS to certurl).
type UAA struct {
	ClientID     string `json:"clientid"`
	ClientSecret string `json:"clientsecret"`
	URL          string `json:"url"`
	CertURL      string `json:"certurl"`
	Certificate  string `json:"certificate"`
	Key          string `json:"key"`
}

// Missing names the fields a usable key lacks (never their values).
func (u UAA) Missing() []string {
	var missing []string
	if u.ClientID == "" {
		missing = append(missing, "uaa.clientid")
	}
	if u.URL == "" && u.CertURL == "" {
		missing = append(missing, "uaa.url")
	}
	if u.ClientSecret == "" && (u.Certificate == "" || u.Key == "") {
		missing = append(missing, "uaa.clientsecret (or uaa.certificate and uaa.key)")
	}
	return missing
}

// Credentials derives the token endpoint: url + /oauth/token with the secret, or certurl with the
// key's certificate.
func (u UAA) Credentials() (OAuth2Credentials, error) {
	creds := OAuth2Credentials{ClientID: u.ClientID, ClientSecret: u.ClientSecret, TokenURL: tokenURL(u.URL)}
	if u.ClientSecret == "" {
		cert, err := tls.X509KeyPair([]byte(PEMText(u.Certificate)), []byte(PEMText(u.Key)))
		if err != nil {
			return OAuth2Credentials{}, errors.New("uaa.certificate and uaa.key do not form a valid PEM certificate and key pair")
		}
		creds.ClientCert = &cert
		if u.CertURL != "" {
			creds.TokenURL = tokenURL(u.CertURL)
		}
	}
	return creds, nil
}

func tokenURL(base string) string {
	base = strings.TrimRight(base, "/")
	if strings.HasSuffix(base, "/oauth/token") {
		return base
	}
	return base + "/oauth/token"
}
