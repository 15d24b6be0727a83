package sapcpireceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/filter"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/mapping"
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

func TestConfigOperationsDefaultsNeedOnlyTheMinimumRole(t *testing.T) {
	cfg := loadConfig(t, "defaults")
	ops := cfg.Operations
	assert.True(t, ops.Enabled)
	// What MonitoringDataRead reads is on …
	assert.Equal(t, OperationsSourceConfig{Enabled: true, Interval: time.Hour}, ops.NumberRanges)
	assert.Equal(t, OperationsSourceConfig{Enabled: true, Interval: time.Hour}, ops.Archiving)
	assert.True(t, ops.ResourceUsage.Enabled)
	assert.Equal(t, 15*time.Minute, ops.ResourceUsage.Interval)
	assert.Equal(t, 10*time.Minute, ops.ResourceUsage.CloseDelay)
	assert.Equal(t, 24*time.Hour, ops.ResourceUsage.InitialLookback)
	assert.Equal(t, 168*time.Hour, ops.ResourceUsage.MaxCatchUp)
	assert.Equal(t, cpi.ResourceUsageTypes, ops.ResourceUsage.Types)
	assert.Equal(t, OperationsSourceConfig{Enabled: true, Interval: time.Hour}, ops.CertificateUserMappings, "Neo only; a Cloud Foundry tenant answers 404 once")
	// … what needs another role is opt-in.
	assert.False(t, ops.DataStores.Enabled, "DataStoresAndQueuesRead")
	assert.Equal(t, 15*time.Minute, ops.DataStores.Interval)
	assert.True(t, ops.DataStores.Entries)
	assert.False(t, ops.DataStores.OverdueOnly)
	assert.False(t, ops.Queues.Enabled, "DataStoresAndQueuesRead")
	assert.Equal(t, 5*time.Minute, ops.Queues.Interval)
	assert.False(t, ops.ExternalLogging.Enabled, "ExternalLoggingActivationRead")
	assert.Equal(t, 5*time.Minute, ops.ExternalLogging.Interval)
	assert.False(t, ops.AccessPolicies.Enabled, "AccessPoliciesRead")
	assert.Equal(t, time.Hour, ops.AccessPolicies.Interval)
	// Their API groups have rate limits below SAP's per-user limits (number ranges: 5/s).
	assert.Less(t, cfg.RateLimits.NumberRanges.RequestsPerSecond, 5.0)
	for _, l := range []RateLimit{cfg.RateLimits.DataStores, cfg.RateLimits.NumberRanges, cfg.RateLimits.ExternalLogging} {
		assert.Positive(t, l.RequestsPerSecond)
		assert.Positive(t, l.Burst)
	}
	groups := cfg.RateLimits.byGroup()
	for _, g := range []string{cpi.GroupDataStores.Name, cpi.GroupNumberRanges.Name, cpi.GroupExternalLogging.Name, cpi.GroupResourceUsage.Name,
		cpi.GroupArchiving.Name, cpi.GroupAccessPolicies.Name, cpi.GroupCertificateUserMappings.Name} {
		assert.Contains(t, groups, g, "every API group of the operational sources has a limit")
	}
}

func TestConfigOperationsFull(t *testing.T) {
	cfg := loadConfig(t, "operations")
	require.NoError(t, confmap.Validate(cfg))
	ops := cfg.Operations
	assert.Equal(t, DataStoresConfig{OperationsSourceConfig: OperationsSourceConfig{Enabled: true, Interval: 30 * time.Minute}, Entries: false, OverdueOnly: true}, ops.DataStores)
	assert.Equal(t, OperationsSourceConfig{Enabled: true, Interval: 2 * time.Hour}, ops.NumberRanges, "enabled kept from the defaults")
	assert.Equal(t, ResourceUsageConfig{OperationsSourceConfig: OperationsSourceConfig{Enabled: true, Interval: 30 * time.Minute},
		CloseDelay: 20 * time.Minute, InitialLookback: 48 * time.Hour, MaxCatchUp: 72 * time.Hour,
		Types: []string{cpi.ResourceDBTableSize, cpi.ResourceDataStoreUsage}}, ops.ResourceUsage)
	assert.False(t, ops.Archiving.Enabled)
	assert.Equal(t, OperationsSourceConfig{Enabled: true, Interval: 10 * time.Minute}, ops.ExternalLogging)
	assert.Equal(t, OperationsSourceConfig{Enabled: true, Interval: 5 * time.Minute}, ops.Queues, "interval kept from the defaults")
	assert.Equal(t, 6*time.Hour, ops.CertificateUserMappings.Interval)
	assert.Equal(t, OperationsSourceConfig{Enabled: true, Interval: 12 * time.Hour}, ops.AccessPolicies)
	assert.Equal(t, RateLimit{RequestsPerSecond: 1, Burst: 1}, cfg.RateLimits.DataStores)

	off := loadConfig(t, "operations_off")
	require.NoError(t, confmap.Validate(off), "a switched-off section is not checked")
	assert.False(t, off.Operations.Enabled)
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

func TestConfigLogFilesLineStartPattern(t *testing.T) {
	assert.Empty(t, loadConfig(t, "defaults").LogFiles.Multiline.LineStartPattern, "the built-in timestamp rule")
	cfg := loadConfig(t, "log_files_multiline")
	require.NoError(t, confmap.Validate(cfg))
	assert.Equal(t, `^\[\d{4}-\d{2}-\d{2} `, cfg.LogFiles.Multiline.LineStartPattern)
}

func TestConfigTracesAndPayloads(t *testing.T) {
	def := loadConfig(t, "defaults")
	assert.Equal(t, []string{"FAILED", "ESCALATED"}, def.Traces.Runs.Statuses, "runs of failed and escalated messages by default")
	assert.True(t, def.Traces.Runs.Enabled)
	assert.Empty(t, def.Traces.Runs.LogLevels)
	assert.True(t, def.Messages.ErrorDetails.FromRunSteps)
	assert.False(t, def.Messages.Payloads.Enabled, "payloads are opt-in")
	assert.Empty(t, def.Messages.Payloads.IFlows, "and allow-list no iFlow")

	cfg := loadConfig(t, "traces")
	require.NoError(t, confmap.Validate(cfg))
	assert.Equal(t, 30*time.Second, cfg.Traces.ChangeableStatusDelay)
	assert.True(t, cfg.Traces.TraceparentFromHeaders)
	assert.Equal(t, []string{"DEBUG", "TRACE"}, cfg.Traces.Runs.LogLevels)
	assert.Equal(t, 500, cfg.Traces.Runs.MaxSteps)
	assert.Equal(t, 4, cfg.Traces.Runs.MaxConcurrency, "defaults kept")
	assert.False(t, cfg.Messages.ErrorDetails.FromRunSteps)
	p := cfg.Messages.Payloads
	assert.True(t, p.Enabled)
	assert.Equal(t, []string{"Replicate_PurchaseOrder_to_Supplier"}, p.IFlows)
	assert.True(t, p.MessageStore)
	assert.False(t, p.Attachments)
	assert.Equal(t, "base64", p.Binary)
	assert.Equal(t, []string{"FAILED", "ESCALATED"}, p.Statuses)
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

func TestConfigCredentialsSwitchTheOptionalAPIsOn(t *testing.T) {
	cfg := loadConfig(t, "credentials_enable")
	require.NoError(t, confmap.Validate(cfg))
	assert.True(t, cfg.AuditLogs.BTP.Enabled, "a BTP audit service key alone turns the BTP audit log on")
	assert.True(t, cfg.CloudALM.Enabled, "a Cloud ALM service key alone turns Cloud ALM on")

	off := loadConfig(t, "credentials_disabled")
	require.NoError(t, confmap.Validate(off))
	assert.False(t, off.AuditLogs.BTP.Enabled, "enabled: false wins over the credentials")
	assert.False(t, off.CloudALM.Enabled)

	def := loadConfig(t, "defaults")
	assert.False(t, def.AuditLogs.BTP.Enabled, "no credentials, no source")
	assert.False(t, def.CloudALM.Enabled)
}

func TestConfigEventAndResourceAttributeSwitchesAreAccepted(t *testing.T) {
	cfg := loadConfig(t, "switches")
	require.NoError(t, confmap.Validate(cfg))
	assert.False(t, cfg.Events.SapCpiMessage.Enabled)
	assert.False(t, cfg.Events.SapCpiLogFile.Enabled)
	assert.True(t, cfg.Events.SapCpiAudit.Enabled, "untouched events stay on")
	assert.False(t, cfg.ResourceAttributes.SapCpiTenantURL.Enabled)
	assert.True(t, cfg.ResourceAttributes.SapCpiTenantName.Enabled)
	assert.Len(t, cfg.ResourceAttributes.SapCpiKeystoreName.EventsInclude, 1)
	assert.False(t, cfg.Metrics.SapcpiAPIThrottled.Enabled)
}

func TestConfigErrorsNameTheFieldAndTheFix(t *testing.T) {
	tests := map[string][]string{
		"no_credentials":   {"no credentials: set exactly one of service_key_file, oauth2, basic or auth"},
		"two_credentials":  {"credentials: set only one of service_key_file, oauth2, basic or auth", "found oauth2 and basic"},
		"missing_key_file": {"service_key_file: reading service key"},
		"audit_and_logs_bad": {
			"audit_logs: page_size: must be between 1 and 1000, got 0",
			"audit_logs::btp: no credentials: set exactly one of service_key_file, oauth2 or auth",
			"endpoint: required unless service_key_file is set (the auditlog-management service key's url)",
			"window: must be at least 1m, got 10s",
			"log_files: types: unknown type \"gc\"; use http or trace; batch_size: must be between 1 and 100000, got 0",
		},
		"btp_empty_oauth2": {
			"audit_logs::btp: ",
			"oauth2.client_id: required",
			"oauth2.client_secret: required",
			"oauth2.token_url: must be an absolute URL",
			"endpoint: required unless service_key_file is set",
		},
		"cloud_alm_basic":         {"cloud_alm: credentials: set only one of service_key_file, oauth2 or auth; found service_key_file and basic", "basic: not accepted by this API"},
		"log_files_multiline_bad": {"log_files: multiline.line_start_pattern: not a valid regular expression: "},
		"traces_bad": {
			"traces.changeable_status_delay: must be shorter than messages.overlap (2m0s)",
			"traces: runs.statuses: \"RETRY\" does not end a message span",
			"runs.log_levels: unknown log level \"VERBOSE\"",
			"runs.max_steps: must be between 1 and 10000, got 0",
			"messages: payloads.iflows: list the iFlow ids",
			"payloads: switch on message_store, attachments or both",
			"payloads.binary: must be omit or base64, got \"hex\"",
		},
		"leader_election_bad": {
			"leader_election: lease_name: required",
			"checkpoint_configmap: required",
			"need 0 < retry_period < renew_deadline < lease_duration",
		},
		"operations_bad": {
			"operations: data_stores.interval: must be at least 10s, got 1s",
			"queues.interval: must be at least 10s, got 5s",
			"resource_usage.interval: must be at least 1m (the figures are hourly), got 30s",
			"resource_usage.close_delay: must not be negative, got -1m0s",
			"resource_usage.initial_lookback: must be at least 1h and at most max_catch_up (168h), got 200h0m0s",
			"resource_usage.types: unknown type \"heap-usage\"; use mon-db-table-size, datastore-usage, db-connection-usage, message-size-max-bytes, mpl-status-all",
			"rate_limits.number_ranges: requests_per_second must be > 0 and burst ≥ 1, got 0 and 1",
		},
		"inventory_bad": {
			"inventory: snapshot_interval: must be at least 1m, got 10s",
			"expiry_warning: must be positive",
			"runtime_artifacts.interval: must be at least 10s, got 1s",
			"keystores.names: name at least one keystore",
		},
		"cloud_alm_bad": {
			"cloud_alm: no credentials: set exactly one of service_key_file, oauth2 or auth",
			"endpoint: required unless service_key_file is set (the SAP Cloud ALM API service key's endpoints.Api)",
			"resolution: resolution must be hourly or daily, got \"weekly\"",
			"poll_interval: must be at least 1m, got 10s",
			"initial_lookback: must be positive and at most max_catch_up",
			"buckets_per_request: must be between 1 and 744, got 0",
		},
		"bad_values": {
			"endpoint \"acme.example.com\" must be an absolute http(s) URL",
			"oauth2.client_id: required",
			"oauth2.client_secret: required",
			"oauth2.token_url: must be an absolute URL",
			"messages: poll_interval: must be at least 1s, got 100ms",
			"initial_lookback: must be between 1ms and 720h",
			"page_size: must be between 1 and 1000 (CPI pages at 1000), got 5000",
			"include_statuses: unknown status \"ERROR\"",
			"include_iflows and exclude_iflows cannot both be set",
			"error_details.max_concurrency: must be between 1 and 16, got 0",
			"error_details.max_size: must be at least 64 bytes, got 10",
			"custom_header_properties.include: list the header names",
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
			// two_credentials and btp_empty_oauth2 carry secrets; none of them may appear.
			assert.NotContains(t, err.Error(), "made-up", "no secret in an error")
		})
	}
}

// The switches of documentation.md shape what a running receiver emits, for log records as for metrics.
func TestEventAndResourceAttributeSwitchesShapeTheRecords(t *testing.T) {
	cfg, _ := simConfig(t, fakecpi.Options{Backlog: 50, BacklogSpan: 10 * time.Minute})
	cfg.Inventory.Enabled = true
	cfg.Inventory.Keystores.Names = []string{"system", "backup_admin_system"}
	cfg.Events.SapCpiMessage.Enabled = false
	cfg.Events.SapCpiRuntimeArtifact.Enabled = false
	cfg.ResourceAttributes.SapCpiTenantURL.Enabled = false
	cfg.ResourceAttributes.SapCpiKeystoreName.EventsInclude = []filter.Config{{Strict: "system"}}
	f := NewFactory()
	logs, metrics := &consumertest.LogsSink{}, &consumertest.MetricsSink{}
	lr, err := f.CreateLogs(t.Context(), receivertest.NewNopSettings(metadata.Type), cfg, logs)
	require.NoError(t, err)
	mr, err := f.CreateMetrics(t.Context(), receivertest.NewNopSettings(metadata.Type), cfg, metrics)
	require.NoError(t, err)
	require.NoError(t, lr.Start(t.Context(), componenttest.NewNopHost()))
	require.NoError(t, mr.Start(t.Context(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, lr.Shutdown(t.Context())); require.NoError(t, mr.Shutdown(t.Context())) }()

	require.Eventually(t, func() bool { return messageCount(metrics.AllMetrics()) == 50 }, 10*time.Second, 20*time.Millisecond,
		"the metrics count the messages whose records are switched off")
	require.Eventually(t, func() bool { return countEvents(logs.AllLogs())[mapping.EventKeystoreEntry] > 0 }, 10*time.Second, 20*time.Millisecond)
	events := countEvents(logs.AllLogs())
	assert.Zero(t, events[mapping.EventMessage], "sap.cpi.message is switched off")
	assert.Zero(t, events[mapping.EventRuntimeArtifact], "sap.cpi.runtime_artifact is switched off")
	assert.Positive(t, events[mapping.EventServiceEndpoint], "other events stay on")
	for _, ld := range logs.AllLogs() {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			res := ld.ResourceLogs().At(i).Resource().Attributes()
			_, hasURL := res.Get(mapping.AttrTenantURL)
			assert.False(t, hasURL, "sap.cpi.tenant.url is switched off on log resources")
			name, _ := res.Get(mapping.AttrTenantName)
			assert.Equal(t, "sim", name.Str(), "sap.cpi.tenant.name stays")
			if ks, ok := res.Get(mapping.AttrKeystoreName); ok {
				assert.Equal(t, "system", ks.Str(), "events_include keeps only the system keystore's entries")
			}
		}
	}
	for _, md := range metrics.AllMetrics() {
		for i := 0; i < md.ResourceMetrics().Len(); i++ {
			_, hasURL := md.ResourceMetrics().At(i).Resource().Attributes().Get(mapping.AttrTenantURL)
			assert.False(t, hasURL, "and on metric resources")
		}
	}
}

func countEvents(all []plog.Logs) map[string]int {
	out := map[string]int{}
	for _, ld := range all {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			sls := ld.ResourceLogs().At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					out[lrs.At(k).EventName()]++
				}
			}
		}
	}
	return out
}
