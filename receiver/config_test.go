package sapcpireceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/sapcpi-otel/sapcpireceiver/internal/metadata"
)

func loadConfig(t *testing.T, name string) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("..", "testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
	require.NoError(t, err)
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))
	// Paths in the test file are relative to the repository root.
	if cfg.ServiceKeyFile != "" {
		cfg.ServiceKeyFile = filepath.Join("..", cfg.ServiceKeyFile)
	}
	if cfg.AuditLogs.BTP.ServiceKeyFile != "" {
		cfg.AuditLogs.BTP.ServiceKeyFile = filepath.Join("..", cfg.AuditLogs.BTP.ServiceKeyFile)
	}
	if cfg.CloudALM.ServiceKeyFile != "" {
		cfg.CloudALM.ServiceKeyFile = filepath.Join("..", cfg.CloudALM.ServiceKeyFile)
	}
	return cfg
}

func TestConfigDefaultsNeedOnlyAServiceKey(t *testing.T) {
	cfg := loadConfig(t, "defaults")
	require.NoError(t, confmap.Validate(cfg))
	m := cfg.Messages
	assert.True(t, m.Enabled)
	assert.Equal(t, time.Minute, m.PollInterval)
	assert.Equal(t, time.Minute, m.SettleDelay)
	assert.Equal(t, 2*time.Minute, m.Overlap)
	assert.Equal(t, time.Hour, m.InitialLookback)
	assert.Equal(t, 1000, m.PageSize)
	assert.True(t, m.ErrorDetails.Enabled)
	assert.False(t, m.CustomHeaderProperties.Enabled, "custom headers are opt-in")
	assert.Nil(t, m.customHeaderFilter())
	assert.Equal(t, 30*time.Second, cfg.Timeout)
	assert.False(t, cfg.TLS.InsecureSkipVerify, "TLS verification stays on")
	assert.Less(t, cfg.RateLimits.MessageProcessingLogs.RequestsPerSecond, 100.0, "below SAP's per-user MPL limit")
	assert.Less(t, cfg.RateLimits.SecurityContent.RequestsPerSecond, 10.0, "below SAP's per-user security content limit")
	assert.Less(t, cfg.RateLimits.DesignTime.RequestsPerSecond, 10.0)
}

func TestConfigFullRoundTrip(t *testing.T) {
	cfg := loadConfig(t, "full")
	require.NoError(t, confmap.Validate(cfg))
	assert.Equal(t, "prod", cfg.TenantName)
	require.NotNil(t, cfg.StorageID)
	assert.Equal(t, component.MustNewID("file_storage"), *cfg.StorageID)
	assert.Equal(t, 45*time.Second, cfg.Timeout)
	assert.Equal(t, RateLimit{RequestsPerSecond: 50, Burst: 20}, cfg.RateLimits.MessageProcessingLogs)
	assert.Equal(t, RateLimit{RequestsPerSecond: 10, Burst: 5}, cfg.RateLimits.RuntimeArtifacts, "untouched groups keep their defaults")
	assert.Equal(t, 3, cfg.Retry.MaxRetries)
	assert.Equal(t, 500, cfg.Messages.PageSize)
	assert.Equal(t, []string{"FAILED"}, cfg.Messages.ErrorDetails.Statuses)
	assert.Equal(t, 30*time.Second, cfg.CollectionInterval)
	assert.False(t, cfg.Metrics.SapcpiAPIThrottled.Enabled)
	allow := cfg.Messages.customHeaderFilter()
	require.NotNil(t, allow)
	assert.True(t, allow("po_number"))
	assert.False(t, allow("customer_email"))
}

func TestConfigCloudALMIsOffByDefaultAndReadsItsOwnKey(t *testing.T) {
	assert.False(t, loadConfig(t, "defaults").CloudALM.Enabled)
	assert.Equal(t, "hourly", loadConfig(t, "defaults").CloudALM.Resolution)
	cfg := loadConfig(t, "cloud_alm")
	require.NoError(t, confmap.Validate(cfg))
	c := cfg.CloudALM
	assert.Equal(t, "daily", c.Resolution)
	assert.Equal(t, 2*time.Hour, c.CloseDelay)
	assert.True(t, c.HealthMonitoring.Enabled)
	assert.Equal(t, []string{"0c5f6b2e-3d1a-4b8e-9f70-2a6c1d4e5b33"}, c.ServiceIDs)
	assert.Equal(t, 24, c.BucketsPerRequest, "defaults kept")
}

func TestConfigInventoryDefaultsNeedOnlyTheMinimumRole(t *testing.T) {
	inv := loadConfig(t, "defaults").Inventory
	assert.True(t, inv.Enabled)
	assert.Equal(t, time.Hour, inv.SnapshotInterval)
	assert.Equal(t, 5*time.Minute, inv.RuntimeArtifacts.Interval)
	assert.Equal(t, time.Hour, inv.Keystores.Interval)
	assert.Equal(t, []string{"system"}, inv.Keystores.Names)
	assert.False(t, inv.Packages.Enabled, "design-time content needs more than MonitoringDataRead")
	assert.True(t, inv.JMS.Enabled)

	cfg := loadConfig(t, "inventory")
	require.NoError(t, confmap.Validate(cfg))
	assert.Equal(t, 6*time.Hour, cfg.Inventory.SnapshotInterval)
	assert.Equal(t, []string{"system", "backup_admin_system"}, cfg.Inventory.Keystores.Names)
	assert.True(t, cfg.Inventory.Packages.Enabled)
	assert.False(t, cfg.Inventory.JMS.Enabled)
	assert.True(t, cfg.Inventory.ServiceEndpoints.Enabled, "untouched sources keep their defaults")
}

func TestConfigAuditAndLogFiles(t *testing.T) {
	def := loadConfig(t, "defaults")
	assert.True(t, def.AuditLogs.Enabled, "Neo AuditLogs on; a Cloud Foundry tenant answers 404 once and is checked rarely")
	assert.False(t, def.AuditLogs.BTP.Enabled, "the BTP API needs its own service key")
	assert.True(t, def.LogFiles.Enabled)
	assert.Equal(t, []string{"http", "trace"}, def.LogFiles.Types)

	cfg := loadConfig(t, "audit_and_logs")
	require.NoError(t, confmap.Validate(cfg))
	assert.Equal(t, 168*time.Hour, cfg.AuditLogs.InitialLookback)
	assert.True(t, cfg.AuditLogs.BTP.Enabled)
	assert.Equal(t, []string{"audit.security-events", "audit.configuration"}, cfg.AuditLogs.BTP.Categories)
	assert.Equal(t, 10*time.Minute, cfg.AuditLogs.BTP.SettleDelay)
	assert.Equal(t, time.Hour, cfg.AuditLogs.BTP.Window, "defaults kept")
	assert.Equal(t, []string{"trace"}, cfg.LogFiles.Types)
}

func TestConfigLeaderElectionDefaults(t *testing.T) {
	assert.False(t, loadConfig(t, "defaults").LeaderElection.Enabled)
	cfg := loadConfig(t, "leader_election")
	require.NoError(t, confmap.Validate(cfg))
	le := cfg.LeaderElection
	assert.Equal(t, 15*time.Second, le.LeaseDuration)
	assert.Equal(t, 10*time.Second, le.RenewDeadline)
	assert.Equal(t, 2*time.Second, le.RetryPeriod)
	t.Setenv("POD_NAMESPACE", "sapcpi")
	t.Setenv("POD_NAME", "otelcol-sapcpi-x7k2p")
	assert.Equal(t, "sapcpi", le.namespace())
	assert.Equal(t, "otelcol-sapcpi-x7k2p", le.identity())
}

func TestConfigSecretsAreOpaque(t *testing.T) {
	cfg := loadConfig(t, "full")
	out, err := cfg.OAuth2.ClientSecret.MarshalText()
	require.NoError(t, err)
	assert.Equal(t, "[REDACTED]", string(out))
	cfg = loadConfig(t, "basic")
	out, err = cfg.Basic.Password.MarshalText()
	require.NoError(t, err)
	assert.Equal(t, "[REDACTED]", string(out))
}

func TestConfigAcceptsEachAuthenticationAlone(t *testing.T) {
	for _, name := range []string{"defaults", "full", "basic", "extension"} {
		assert.NoError(t, confmap.Validate(loadConfig(t, name)), name)
	}
}

func TestConfigErrorsNameTheFieldAndTheFix(t *testing.T) {
	tests := map[string][]string{
		"no_credentials":   {"no credentials: set exactly one of service_key_file, oauth2, basic, or auth"},
		"two_credentials":  {"set only one of service_key_file, oauth2, basic and auth; found oauth2 and basic"},
		"missing_key_file": {"service_key_file: reading service key"},
		"audit_and_logs_bad": {
			"audit_logs.page_size: must be between 1 and 1000, got 0",
			"audit_logs.btp: set exactly one of service_key_file, oauth2 or auth",
			"audit_logs.btp.endpoint: required unless service_key_file is set",
			"audit_logs.btp: poll_interval ≥ 1s, window ≥ 1m",
			"log_files.types: unknown type \"gc\"; use http or trace",
			"log_files.batch_size: must be between 1 and 100000, got 0",
		},
		"leader_election_bad": {
			"leader_election.lease_name: required",
			"leader_election.checkpoint_configmap: required",
			"leader_election: need 0 < retry_period < renew_deadline < lease_duration",
		},
		"inventory_bad": {
			"inventory.snapshot_interval: must be at least 1m, got 10s",
			"inventory.expiry_warning: must be positive",
			"inventory.runtime_artifacts.interval: must be at least 10s, got 1s",
			"inventory.keystores.names: name at least one keystore",
		},
		"cloud_alm_bad": {
			"cloud_alm: set exactly one of service_key_file, oauth2 or auth",
			"cloud_alm.endpoint: required unless service_key_file is set",
			"cloud_alm.resolution: resolution must be hourly or daily, got \"weekly\"",
			"cloud_alm.poll_interval: must be at least 1m, got 10s",
			"cloud_alm.initial_lookback: must be positive and at most max_catch_up",
			"cloud_alm.buckets_per_request: must be between 1 and 744, got 0",
		},
		"bad_values": {
			"endpoint: endpoint \"acme.example.com\" must be an absolute http(s) URL",
			"oauth2.client_id: required",
			"oauth2.client_secret: required",
			"oauth2.token_url: must be an absolute URL",
			"messages.poll_interval: must be at least 1s, got 100ms",
			"messages.initial_lookback: must be between 1ms and 720h",
			"messages.page_size: must be between 1 and 1000 (CPI pages at 1000), got 5000",
			"messages.include_statuses: unknown status \"ERROR\"",
			"include_iflows and exclude_iflows cannot both be set",
			"messages.error_details.max_concurrency: must be between 1 and 16, got 0",
			"messages.error_details.max_size: must be at least 64 bytes, got 10",
			"messages.custom_header_properties.include: list the header names",
			"rate_limits.security_content: requests_per_second must be > 0 and burst ≥ 1",
		},
	}
	for name, wants := range tests {
		t.Run(name, func(t *testing.T) {
			err := confmap.Validate(loadConfig(t, name))
			require.Error(t, err)
			for _, want := range wants {
				assert.Contains(t, err.Error(), want)
			}
			assert.NotContains(t, err.Error(), "made-up", "no secret in an error")
		})
	}
}
