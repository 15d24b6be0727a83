package sapcpireceiver

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/confmap"

	"github.com/sapcpi-otel/sapcpireceiver/internal/btpaudit"
	"github.com/sapcpi-otel/sapcpireceiver/internal/calm"
	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/metadata"
)

// Config is the configuration of one sapcpi receiver, which watches one tenant.
type Config struct {
	// Credentials reach the tenant: the full confighttp client (endpoint — the tenant URL, /api/v1 is
	// appended —, timeout, tls, proxy_url, headers, auth) and service_key_file, oauth2 or basic.
	Credentials `mapstructure:",squash"`

	// TenantName is written as sap.cpi.tenant.name on every resource (e.g. prod).
	TenantName string `mapstructure:"tenant_name"`
	// StorageID names a storage extension (file_storage) for checkpoints; without one they live in memory.
	StorageID *component.ID `mapstructure:"storage"`

	// RateLimits are client-side limits per API group, below SAP's documented per-user limits.
	RateLimits RateLimitsConfig `mapstructure:"rate_limits"`
	// Retry bounds the repeats of a call that failed with 429, 5xx, a timeout or a cut-off body.
	Retry RetryConfig `mapstructure:"retry_on_failure"`
	// MaxResponseSize caps a response body; a larger answer is an error, never silently truncated.
	MaxResponseSize int64 `mapstructure:"max_response_size"`

	// Messages configures the message processing log source.
	Messages MessagesConfig `mapstructure:"messages"`
	// Inventory configures runtime artifacts, service endpoints, keystores, packages and JMS.
	Inventory InventoryConfig `mapstructure:"inventory"`
	// AuditLogs configures the audit trail (Neo AuditLogs; BTP Audit Log retrieval API for Cloud Foundry).
	AuditLogs AuditLogsConfig `mapstructure:"audit_logs"`
	// LogFiles configures the system log files (http access and trace).
	LogFiles LogFilesConfig `mapstructure:"log_files"`
	// LeaderElection lets the pods of a DaemonSet share one tenant: only the leader polls.
	LeaderElection LeaderElectionConfig `mapstructure:"leader_election"`
	// CloudALM configures the SAP Cloud ALM Analytics source (on when it has credentials).
	CloudALM CloudALMConfig `mapstructure:"cloud_alm"`
	// Traces configures message processing as spans, for a traces pipeline.
	Traces TracesConfig `mapstructure:"traces"`
	// Push configures the endpoint SAP's External Logging pushes MPLs to (off by default).
	Push PushConfig `mapstructure:"push"`
	// Operations configures the tenant's operational state: data stores, number ranges, resource usage,
	// archiving, External Logging health, JMS queues, certificate-to-user mappings, access policies.
	Operations OperationsConfig `mapstructure:"operations"`

	// CollectionInterval is how often the metrics pipeline receives the receiver's metrics.
	CollectionInterval time.Duration `mapstructure:"collection_interval"`
	// MetricsBuilderConfig switches single metrics and resource attributes (for metrics and log records).
	metadata.MetricsBuilderConfig `mapstructure:",squash"`
	// Events switches single log events (event.name) off, as documentation.md lists them.
	Events metadata.EventsConfig `mapstructure:"events"`
}

// apiKind says which API a Credentials block reaches: each has its own service key format.
type apiKind int

const (
	tenantAPI apiKind = iota
	btpAuditAPI
	cloudALMAPI
)

// serviceKey is what every service key gives: client credentials and the API's base URL.
type serviceKey interface {
	Credentials() (httpapi.OAuth2Credentials, error)
	BaseURL() string
}

func (k apiKind) readKey(path string) (serviceKey, error) {
	switch k {
	case btpAuditAPI:
		return btpaudit.ReadServiceKey(path)
	case cloudALMAPI:
		return calm.ReadServiceKey(path)
	}
	return cpi.ReadServiceKey(path)
}

// keyHint names the service key, the field holding its API URL and an example URL, for error messages.
func (k apiKind) keyHint() (keyName, urlField, example string) {
	switch k {
	case btpAuditAPI:
		return "the auditlog-management service key", "url", "https://auditlog-management.cfapps.<region>.hana.ondemand.com"
	case cloudALMAPI:
		return "the SAP Cloud ALM API service key", "endpoints.Api", "https://<tenant>.eu10.alm.cloud.sap/api"
	}
	return "the Process Integration Runtime (plan api) service key", "oauth.url", "https://<tenant>.it-cpi018.cfapps.eu10.hana.ondemand.com"
}

// Credentials is how the receiver reaches one API — the tenant, the BTP Audit Log service or SAP Cloud
// ALM: the HTTP client settings and exactly one way in (a service key file, OAuth2 client credentials,
// HTTP Basic where the API accepts it, or an authenticator extension through confighttp's auth).
type Credentials struct {
	confighttp.ClientConfig `mapstructure:",squash"`

	// ServiceKeyFile is the service key JSON as downloaded from the BTP cockpit; endpoint defaults to
	// its API URL.
	ServiceKeyFile string `mapstructure:"service_key_file"`
	// OAuth2 is client-credentials authentication.
	OAuth2 *OAuth2Config `mapstructure:"oauth2"`
	// Basic is user and password authentication (Neo users; the tenant only).
	Basic *BasicAuthConfig `mapstructure:"basic"`

	api apiKind
}

// OAuth2Config is OAuth2 client credentials.
type OAuth2Config struct {
	ClientID     string              `mapstructure:"client_id"`
	ClientSecret configopaque.String `mapstructure:"client_secret"`
	// TokenURL is the service key's token endpoint (…/oauth/token), or on Neo
	// https://oauthasservices-<account>.<host>/oauth2/api/v1/token.
	TokenURL string `mapstructure:"token_url"`
}

// BasicAuthConfig is HTTP Basic authentication.
type BasicAuthConfig struct {
	Username string              `mapstructure:"username"`
	Password configopaque.String `mapstructure:"password"`
}

// configured reports whether any way in is set: for the optional APIs that is what switches them on.
func (c *Credentials) configured() bool {
	return c.ServiceKeyFile != "" || c.OAuth2 != nil || c.Basic != nil || c.Auth.HasValue()
}

// validate checks the one way in and the endpoint; every API's configuration calls it.
func (c *Credentials) validate() []error {
	keyName, urlField, example := c.api.keyHint()
	var set []string
	if c.ServiceKeyFile != "" {
		set = append(set, "service_key_file")
	}
	if c.OAuth2 != nil {
		set = append(set, "oauth2")
	}
	if c.Basic != nil {
		set = append(set, "basic")
	}
	if c.Auth.HasValue() {
		set = append(set, "auth")
	}
	ways := "service_key_file, oauth2, basic or auth (an authenticator extension such as oauth2client)"
	if c.api != tenantAPI {
		ways = "service_key_file, oauth2 or auth"
	}
	var errs []error
	switch {
	case len(set) == 0:
		errs = append(errs, fmt.Errorf("no credentials: set exactly one of %s, with %s", ways, keyName))
	case len(set) > 1:
		errs = append(errs, fmt.Errorf("credentials: set only one of %s; found %s", ways, strings.Join(set, " and ")))
	}
	if c.Basic != nil && c.api != tenantAPI {
		errs = append(errs, fmt.Errorf("basic: not accepted by this API; use service_key_file with %s", keyName))
	}
	if c.ServiceKeyFile != "" {
		if _, err := c.api.readKey(c.ServiceKeyFile); err != nil {
			errs = append(errs, fmt.Errorf("service_key_file: %w", err))
		}
	} else if c.Endpoint == "" {
		errs = append(errs, fmt.Errorf("endpoint: required unless service_key_file is set (%s's %s)", keyName, urlField))
	}
	if c.Endpoint != "" {
		if _, err := httpapi.ParseBaseURL("endpoint", c.Endpoint, example); err != nil {
			errs = append(errs, err)
		}
	}
	if o := c.OAuth2; o != nil {
		if o.ClientID == "" {
			errs = append(errs, errors.New("oauth2.client_id: required (the service key's client id)"))
		}
		if o.ClientSecret == "" {
			errs = append(errs, errors.New("oauth2.client_secret: required (the service key's client secret; use ${env:…} or ${file:…} to keep it out of the file)"))
		}
		if u, err := url.Parse(o.TokenURL); o.TokenURL == "" || err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			errs = append(errs, fmt.Errorf("oauth2.token_url: must be an absolute URL such as https://<subdomain>.authentication.<region>.hana.ondemand.com/oauth/token, got %q", o.TokenURL))
		}
	}
	if b := c.Basic; b != nil && (b.Username == "" || b.Password == "") {
		errs = append(errs, errors.New("basic: username and password are both required"))
	}
	return errs
}

// resolve derives the OAuth2 credentials (nil for Basic or an auth extension) and the endpoint; an
// explicit endpoint wins over the key's URL.
func (c *Credentials) resolve() (*httpapi.OAuth2Credentials, string, error) {
	endpoint := c.Endpoint
	switch {
	case c.ServiceKeyFile != "":
		key, err := c.api.readKey(c.ServiceKeyFile)
		if err != nil {
			return nil, "", err
		}
		creds, err := key.Credentials()
		if err != nil {
			return nil, "", err
		}
		if endpoint == "" {
			endpoint = key.BaseURL()
		}
		return &creds, endpoint, nil
	case c.OAuth2 != nil:
		return &httpapi.OAuth2Credentials{ClientID: c.OAuth2.ClientID, ClientSecret: string(c.OAuth2.ClientSecret), TokenURL: c.OAuth2.TokenURL}, endpoint, nil
	}
	return nil, endpoint, nil
}

// enableWhenConfigured is the Unmarshal step of an optional API's section: credentials given without
// an explicit enabled switch turn the source on, so that configured credentials are never silently
// ignored; an explicit enabled: false keeps it off.
func enableWhenConfigured(conf *confmap.Conf, creds *Credentials, enabled *bool) {
	if !conf.IsSet("enabled") && creds.configured() {
		*enabled = true
	}
}

// WindowConfig is how an incremental source reads a time-ordered API: messages, the Neo audit log and
// the BTP audit log share it.
type WindowConfig struct {
	PollInterval time.Duration `mapstructure:"poll_interval"`
	// SettleDelay keeps entries younger than this out of a poll: they may still be being written.
	SettleDelay time.Duration `mapstructure:"settle_delay"`
	// Overlap is re-read on every poll to catch entries that appear late; repeats are dropped by key.
	Overlap time.Duration `mapstructure:"overlap"`
	// InitialLookback is how far back the first poll reads when there is no checkpoint.
	InitialLookback time.Duration `mapstructure:"initial_lookback"`
}

// validate checks the window against the source's retention (how far back the API can read).
func (w WindowConfig) validate(retention time.Duration, retentionName string) []error {
	var errs []error
	if w.PollInterval < time.Second {
		errs = append(errs, fmt.Errorf("poll_interval: must be at least 1s, got %s", w.PollInterval))
	}
	if w.SettleDelay < 0 {
		errs = append(errs, fmt.Errorf("settle_delay: must not be negative, got %s", w.SettleDelay))
	}
	if w.Overlap < 0 {
		errs = append(errs, fmt.Errorf("overlap: must not be negative, got %s", w.Overlap))
	}
	if w.InitialLookback <= 0 || w.InitialLookback > retention {
		errs = append(errs, fmt.Errorf("initial_lookback: must be between 1ms and %s (%s), got %s", shortDuration(retention), retentionName, w.InitialLookback))
	}
	return errs
}

// sectionErrors joins a section's problems into one line, so that the path the collector puts in front
// of it ("messages: ") names the section for every one of them.
func sectionErrors(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, err := range errs {
		msgs[i] = err.Error()
	}
	return errors.New(strings.Join(msgs, "; "))
}

func shortDuration(d time.Duration) string {
	return strings.TrimSuffix(strings.TrimSuffix(d.String(), "0s"), "0m")
}

// RateLimit is a token bucket: requests_per_second with a burst.
type RateLimit struct {
	RequestsPerSecond float64 `mapstructure:"requests_per_second"`
	Burst             int     `mapstructure:"burst"`
}

func (l RateLimit) validate() error {
	if l.RequestsPerSecond <= 0 || l.Burst < 1 {
		return fmt.Errorf("requests_per_second must be > 0 and burst ≥ 1, got %g and %d", l.RequestsPerSecond, l.Burst)
	}
	return nil
}

func (l RateLimit) client() httpapi.RateLimit {
	return httpapi.RateLimit{RequestsPerSecond: l.RequestsPerSecond, Burst: l.Burst}
}

// RateLimitsConfig holds one limit per API group of the tenant.
type RateLimitsConfig struct {
	MessageProcessingLogs RateLimit `mapstructure:"message_processing_logs"`
	RuntimeArtifacts      RateLimit `mapstructure:"runtime_artifacts"`
	SecurityContent       RateLimit `mapstructure:"security_content"`
	DesignTime            RateLimit `mapstructure:"design_time"`
	Monitoring            RateLimit `mapstructure:"monitoring"`
	AuditLogs             RateLimit `mapstructure:"audit_logs"`
	DataStores            RateLimit `mapstructure:"data_stores"`
	NumberRanges          RateLimit `mapstructure:"number_ranges"`
	ExternalLogging       RateLimit `mapstructure:"external_logging"`
}

func (r RateLimitsConfig) byGroup() map[string]RateLimit {
	return map[string]RateLimit{
		cpi.GroupMessages.Name:         r.MessageProcessingLogs,
		cpi.GroupRuntimeArtifacts.Name: r.RuntimeArtifacts,
		cpi.GroupSecurityContent.Name:  r.SecurityContent,
		cpi.GroupDesignTime.Name:       r.DesignTime,
		cpi.GroupMonitoring.Name:       r.Monitoring,
		cpi.GroupAudit.Name:            r.AuditLogs,
		cpi.GroupDataStores.Name:       r.DataStores,
		cpi.GroupNumberRanges.Name:     r.NumberRanges,
		cpi.GroupExternalLogging.Name:  r.ExternalLogging,
	}
}

// RetryConfig bounds retries with exponential back-off and jitter.
type RetryConfig struct {
	MaxRetries      int           `mapstructure:"max_retries"`
	InitialInterval time.Duration `mapstructure:"initial_interval"`
	MaxInterval     time.Duration `mapstructure:"max_interval"`
	// MaxRetryAfter caps how long a server's Retry-After may hold a call.
	MaxRetryAfter time.Duration `mapstructure:"max_retry_after"`
}

// Validate reports every problem of the tenant-level settings at once, each naming the field and the
// fix; every section validates itself and the collector prefixes its path (messages: …).
func (cfg *Config) Validate() error {
	errs := cfg.Credentials.validate()
	if cfg.MaxResponseSize < 1<<20 {
		errs = append(errs, fmt.Errorf("max_response_size: must be at least 1 MiB (a 1000-entry page is several MiB), got %d", cfg.MaxResponseSize))
	}
	if r := cfg.Retry; r.MaxRetries < 0 || r.InitialInterval <= 0 || r.MaxInterval <= 0 || r.MaxRetryAfter <= 0 {
		errs = append(errs, errors.New("retry_on_failure: max_retries must be 0 or more, and initial_interval, max_interval and max_retry_after positive"))
	}
	for name, lim := range cfg.RateLimits.byGroup() {
		if err := lim.validate(); err != nil {
			errs = append(errs, fmt.Errorf("rate_limits.%s: %w", name, err))
		}
	}
	if cfg.CollectionInterval <= 0 {
		errs = append(errs, fmt.Errorf("collection_interval: must be positive, got %s", cfg.CollectionInterval))
	}
	if d := cfg.Traces.ChangeableStatusDelay; cfg.Messages.Enabled && d >= cfg.Messages.Overlap && d > 0 {
		errs = append(errs, fmt.Errorf("traces.changeable_status_delay: must be shorter than messages.overlap (%s), within which a state is read again; got %s", cfg.Messages.Overlap, d))
	}
	if cfg.Push.Enabled && cfg.LeaderElection.Enabled {
		errs = append(errs, errors.New("push: cannot run with leader_election (SAP would reach pods that do not lead); run the push endpoint in a single-replica StatefulSet"))
	}
	return errors.Join(errs...)
}
