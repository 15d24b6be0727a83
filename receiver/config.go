package sapcpireceiver

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/metadata"
)

// Config is the configuration of one sapcpi receiver, which watches one tenant.
type Config struct {
	// ClientConfig is the full confighttp client: endpoint (the tenant URL; /api/v1 is appended),
	// timeout, tls, proxy_url, headers, and auth (an authenticator extension such as oauth2client).
	confighttp.ClientConfig `mapstructure:",squash"`

	// ServiceKeyFile is the service key JSON of a Process Integration Runtime instance (plan api), as
	// downloaded from the BTP cockpit. endpoint defaults to its oauth.url.
	ServiceKeyFile string `mapstructure:"service_key_file"`
	// OAuth2 is client-credentials authentication (Cloud Foundry XSUAA or Neo token endpoints).
	OAuth2 *OAuth2Config `mapstructure:"oauth2"`
	// Basic is user and password authentication (Neo users).
	Basic *BasicAuthConfig `mapstructure:"basic"`

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
	// CloudALM configures the SAP Cloud ALM Analytics source (off by default).
	CloudALM CloudALMConfig `mapstructure:"cloud_alm"`

	// CollectionInterval is how often the metrics pipeline receives the receiver's metrics.
	CollectionInterval time.Duration `mapstructure:"collection_interval"`
	// MetricsBuilderConfig enables or disables single metrics and resource attributes.
	metadata.MetricsBuilderConfig `mapstructure:",squash"`
}

// OAuth2Config is OAuth2 client credentials.
type OAuth2Config struct {
	ClientID     string              `mapstructure:"client_id"`
	ClientSecret configopaque.String `mapstructure:"client_secret"`
	// TokenURL is the service key's oauth.tokenurl (…/oauth/token), or on Neo
	// https://oauthasservices-<account>.<host>/oauth2/api/v1/token.
	TokenURL string `mapstructure:"token_url"`
}

// BasicAuthConfig is HTTP Basic authentication.
type BasicAuthConfig struct {
	Username string              `mapstructure:"username"`
	Password configopaque.String `mapstructure:"password"`
}

// RateLimit is a token bucket: requests_per_second with a burst.
type RateLimit struct {
	RequestsPerSecond float64 `mapstructure:"requests_per_second"`
	Burst             int     `mapstructure:"burst"`
}

// RateLimitsConfig holds one limit per API group.
type RateLimitsConfig struct {
	MessageProcessingLogs RateLimit `mapstructure:"message_processing_logs"`
	RuntimeArtifacts      RateLimit `mapstructure:"runtime_artifacts"`
	SecurityContent       RateLimit `mapstructure:"security_content"`
	DesignTime            RateLimit `mapstructure:"design_time"`
	Monitoring            RateLimit `mapstructure:"monitoring"`
	AuditLogs             RateLimit `mapstructure:"audit_logs"`
}

func (r RateLimitsConfig) byGroup() map[string]RateLimit {
	return map[string]RateLimit{
		cpi.GroupMessages.Name:         r.MessageProcessingLogs,
		cpi.GroupRuntimeArtifacts.Name: r.RuntimeArtifacts,
		cpi.GroupSecurityContent.Name:  r.SecurityContent,
		cpi.GroupDesignTime.Name:       r.DesignTime,
		cpi.GroupMonitoring.Name:       r.Monitoring,
		cpi.GroupAudit.Name:            r.AuditLogs,
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

// MessagesConfig configures the incremental read of MessageProcessingLogs by LogEnd.
type MessagesConfig struct {
	Enabled      bool          `mapstructure:"enabled"`
	PollInterval time.Duration `mapstructure:"poll_interval"`
	// SettleDelay keeps the newest entries out of a poll: an MPL whose LogEnd is younger may still be
	// being written.
	SettleDelay time.Duration `mapstructure:"settle_delay"`
	// Overlap is re-read on every poll to catch entries that appear late; de-duplication drops repeats.
	Overlap time.Duration `mapstructure:"overlap"`
	// InitialLookback is how far back the first poll reads when there is no checkpoint (max 30 days,
	// the MPL retention).
	InitialLookback time.Duration `mapstructure:"initial_lookback"`
	// PageSize is $top per request (1..1000; CPI pages at 1000).
	PageSize int `mapstructure:"page_size"`

	IncludeIFlows   []string `mapstructure:"include_iflows"`
	ExcludeIFlows   []string `mapstructure:"exclude_iflows"`
	IncludeStatuses []string `mapstructure:"include_statuses"`
	ExcludeStatuses []string `mapstructure:"exclude_statuses"`

	ErrorDetails           ErrorDetailsConfig  `mapstructure:"error_details"`
	CustomHeaderProperties CustomHeadersConfig `mapstructure:"custom_header_properties"`
}

// ErrorDetailsConfig controls fetching ErrorInformation/$value for messages in error.
type ErrorDetailsConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// Statuses whose error text is fetched; DISCARDED has none, and asking for it only loads the tenant.
	Statuses []string `mapstructure:"statuses"`
	// MaxConcurrency bounds the parallel requests per page.
	MaxConcurrency int `mapstructure:"max_concurrency"`
	// MaxSize caps the text in bytes; a longer text is cut and marked truncated.
	MaxSize int `mapstructure:"max_size"`
}

// CustomHeadersConfig controls the opt-in custom header properties.
type CustomHeadersConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// Include is the allow-list of header names; "*" allows every name.
	Include []string `mapstructure:"include"`
}

const maxLookback = 30 * 24 * time.Hour

var (
	errNoCredentials   = errors.New("no credentials: set exactly one of service_key_file, oauth2, basic, or auth (an authenticator extension such as oauth2client)")
	errNoEndpoint      = errors.New("endpoint: required unless service_key_file is set; use the tenant's API URL (the service key's oauth.url)")
	errPositiveRetries = errors.New("retry_on_failure: max_retries must be 0 or more, and initial_interval, max_interval and max_retry_after positive")
)

// Validate reports every problem at once, each naming the field and the fix.
func (cfg *Config) Validate() error {
	var errs []error
	errs = append(errs, cfg.validateAuth()...)
	if cfg.Endpoint == "" && cfg.ServiceKeyFile == "" {
		errs = append(errs, errNoEndpoint)
	} else if cfg.Endpoint != "" {
		if _, err := cpi.ServiceRoot(cfg.Endpoint); err != nil {
			errs = append(errs, fmt.Errorf("endpoint: %w", err))
		}
	}
	if cfg.MaxResponseSize < 1<<20 {
		errs = append(errs, fmt.Errorf("max_response_size: must be at least 1 MiB (a 1000-entry page is several MiB), got %d", cfg.MaxResponseSize))
	}
	if cfg.Retry.MaxRetries < 0 || cfg.Retry.InitialInterval <= 0 || cfg.Retry.MaxInterval <= 0 || cfg.Retry.MaxRetryAfter <= 0 {
		errs = append(errs, errPositiveRetries)
	}
	for name, lim := range cfg.RateLimits.byGroup() {
		if lim.RequestsPerSecond <= 0 || lim.Burst < 1 {
			errs = append(errs, fmt.Errorf("rate_limits.%s: requests_per_second must be > 0 and burst ≥ 1, got %g and %d", name, lim.RequestsPerSecond, lim.Burst))
		}
	}
	if cfg.CollectionInterval <= 0 {
		errs = append(errs, fmt.Errorf("collection_interval: must be positive, got %s", cfg.CollectionInterval))
	}
	errs = append(errs, cfg.Messages.validate()...)
	errs = append(errs, cfg.Inventory.validate()...)
	errs = append(errs, cfg.AuditLogs.validate()...)
	errs = append(errs, cfg.LogFiles.validate()...)
	errs = append(errs, cfg.LeaderElection.validate()...)
	errs = append(errs, cfg.CloudALM.validate()...)
	return errors.Join(errs...)
}

func (cfg *Config) validateAuth() []error {
	var set []string
	if cfg.ServiceKeyFile != "" {
		set = append(set, "service_key_file")
	}
	if cfg.OAuth2 != nil {
		set = append(set, "oauth2")
	}
	if cfg.Basic != nil {
		set = append(set, "basic")
	}
	if cfg.Auth.HasValue() {
		set = append(set, "auth")
	}
	switch {
	case len(set) == 0:
		return []error{errNoCredentials}
	case len(set) > 1:
		return []error{fmt.Errorf("credentials: set only one of service_key_file, oauth2, basic and auth; found %s", strings.Join(set, " and "))}
	}
	var errs []error
	if cfg.ServiceKeyFile != "" {
		if _, err := cpi.ReadServiceKey(cfg.ServiceKeyFile); err != nil {
			errs = append(errs, fmt.Errorf("service_key_file: %w", err))
		}
	}
	if o := cfg.OAuth2; o != nil {
		if o.ClientID == "" {
			errs = append(errs, errors.New("oauth2.client_id: required (the service key's oauth.clientid)"))
		}
		if o.ClientSecret == "" {
			errs = append(errs, errors.New("oauth2.client_secret: required (the service key's oauth.clientsecret; use ${env:…} or ${file:…} to keep it out of the file)"))
		}
		if u, err := url.Parse(o.TokenURL); o.TokenURL == "" || err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			errs = append(errs, fmt.Errorf("oauth2.token_url: must be an absolute URL such as https://<subdomain>.authentication.<region>.hana.ondemand.com/oauth/token, got %q", o.TokenURL))
		}
	}
	if b := cfg.Basic; b != nil && (b.Username == "" || b.Password == "") {
		errs = append(errs, errors.New("basic: username and password are both required"))
	}
	return errs
}

func (m *MessagesConfig) validate() []error {
	if !m.Enabled {
		return nil
	}
	var errs []error
	if m.PollInterval < time.Second {
		errs = append(errs, fmt.Errorf("messages.poll_interval: must be at least 1s, got %s", m.PollInterval))
	}
	if m.SettleDelay < 0 {
		errs = append(errs, fmt.Errorf("messages.settle_delay: must not be negative, got %s", m.SettleDelay))
	}
	if m.Overlap < 0 {
		errs = append(errs, fmt.Errorf("messages.overlap: must not be negative, got %s", m.Overlap))
	}
	if m.InitialLookback <= 0 || m.InitialLookback > maxLookback {
		errs = append(errs, fmt.Errorf("messages.initial_lookback: must be between 1ms and 720h (the 30-day MPL retention), got %s", m.InitialLookback))
	}
	if m.PageSize < 1 || m.PageSize > 1000 {
		errs = append(errs, fmt.Errorf("messages.page_size: must be between 1 and 1000 (CPI pages at 1000), got %d", m.PageSize))
	}
	for _, field := range []struct {
		name   string
		values []string
	}{
		{"include_statuses", m.IncludeStatuses},
		{"exclude_statuses", m.ExcludeStatuses},
		{"error_details.statuses", m.ErrorDetails.Statuses},
	} {
		for _, s := range field.values {
			if !slices.Contains(cpi.KnownStatuses, s) {
				errs = append(errs, fmt.Errorf("messages.%s: unknown status %q; use one of %s", field.name, s, strings.Join(cpi.KnownStatuses, ", ")))
			}
		}
	}
	if len(m.IncludeIFlows) > 0 && len(m.ExcludeIFlows) > 0 {
		errs = append(errs, errors.New("messages: include_iflows and exclude_iflows cannot both be set"))
	}
	if len(m.IncludeStatuses) > 0 && len(m.ExcludeStatuses) > 0 {
		errs = append(errs, errors.New("messages: include_statuses and exclude_statuses cannot both be set"))
	}
	if d := m.ErrorDetails; d.Enabled {
		if d.MaxConcurrency < 1 || d.MaxConcurrency > 16 {
			errs = append(errs, fmt.Errorf("messages.error_details.max_concurrency: must be between 1 and 16, got %d", d.MaxConcurrency))
		}
		if d.MaxSize < 64 {
			errs = append(errs, fmt.Errorf("messages.error_details.max_size: must be at least 64 bytes, got %d", d.MaxSize))
		}
	}
	if h := m.CustomHeaderProperties; h.Enabled && len(h.Include) == 0 {
		errs = append(errs, errors.New("messages.custom_header_properties.include: list the header names to emit (they can hold personal data), or [\"*\"] for all"))
	}
	return errs
}

// customHeaderFilter returns the allow-list test, or nil when custom headers are off.
func (m *MessagesConfig) customHeaderFilter() func(string) bool {
	h := m.CustomHeaderProperties
	if !h.Enabled {
		return nil
	}
	if slices.Contains(h.Include, "*") {
		return func(string) bool { return true }
	}
	allowed := make(map[string]struct{}, len(h.Include))
	for _, n := range h.Include {
		allowed[n] = struct{}{}
	}
	return func(name string) bool {
		_, ok := allowed[name]
		return ok
	}
}
