package cpi

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
)

// ServiceKey is the JSON a BTP cockpit downloads for a Process Integration Runtime instance of plan
// `api`. Both key types are understood: ClientId/Secret, and Certificate (PEM chain and key).
type ServiceKey struct {
	OAuth struct {
		ClientID     string `json:"clientid"`
		ClientSecret string `json:"clientsecret"`
		URL          string `json:"url"`
		TokenURL     string `json:"tokenurl"`
		CertURL      string `json:"certurl"`
		Certificate  string `json:"certificate"`
		Key          string `json:"key"`
	} `json:"oauth"`
}

// ReadServiceKey reads and checks a service key file. Errors name the file and the missing field, never
// a value from it.
func ReadServiceKey(path string) (*ServiceKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading service key: %w", err)
	}
	return ParseServiceKey(raw, path)
}

// ParseServiceKey parses service key JSON; name is used in error messages.
func ParseServiceKey(raw []byte, name string) (*ServiceKey, error) {
	var key ServiceKey
	if err := json.Unmarshal(raw, &key); err != nil {
		// The JSON error is not quoted: it can carry a fragment of the secret.
		return nil, fmt.Errorf("service key %s is not valid JSON; download it again from the BTP cockpit (Instances and Subscriptions → the api-plan instance → Service Keys)", name)
	}
	o := &key.OAuth
	var missing []string
	if o.ClientID == "" {
		missing = append(missing, "oauth.clientid")
	}
	if o.URL == "" {
		missing = append(missing, "oauth.url")
	}
	if o.TokenURL == "" && o.CertURL == "" {
		missing = append(missing, "oauth.tokenurl")
	}
	if o.ClientSecret == "" && (o.Certificate == "" || o.Key == "") {
		missing = append(missing, "oauth.clientsecret (or oauth.certificate and oauth.key)")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("service key %s lacks %s; it must be a key of a Process Integration Runtime instance with plan api", name, strings.Join(missing, ", "))
	}
	return &key, nil
}

// Credentials derives the OAuth2 credentials of a service key.
func (k *ServiceKey) Credentials() (httpapi.OAuth2Credentials, error) {
	o := k.OAuth
	creds := httpapi.OAuth2Credentials{ClientID: o.ClientID, ClientSecret: o.ClientSecret, TokenURL: o.TokenURL}
	if o.ClientSecret == "" {
		cert, err := tls.X509KeyPair([]byte(httpapi.PEMText(o.Certificate)), []byte(httpapi.PEMText(o.Key)))
		if err != nil {
			return httpapi.OAuth2Credentials{}, errors.New("service key: oauth.certificate and oauth.key do not form a valid PEM certificate and key pair")
		}
		creds.ClientCert = &cert
		if o.CertURL != "" {
			creds.TokenURL = strings.TrimRight(o.CertURL, "/") + "/oauth/token"
			if strings.HasSuffix(o.CertURL, "/oauth/token") {
				creds.TokenURL = o.CertURL
			}
		}
	}
	return creds, nil
}

// BaseURL is the tenant URL of the key (oauth.url).
func (k *ServiceKey) BaseURL() string { return k.OAuth.URL }
