// Package sapcpireceiver is the OpenTelemetry Collector receiver for SAP Cloud Integration: it polls a
// tenant's OData API and emits message processing logs, inventory, audit and log-file records as logs,
// message processing as traces, and metrics derived from both.
package sapcpireceiver

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/scraper"
	"go.opentelemetry.io/collector/scraper/scraperhelper"

	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/metadata"
)

// NewFactory returns the factory of the sapcpi receiver.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(
		metadata.Type,
		createDefaultConfig,
		receiver.WithLogs(createLogs, metadata.LogsStability),
		receiver.WithMetrics(createMetrics, metadata.MetricsStability),
		receiver.WithTraces(createTraces, metadata.TracesStability),
	)
}

func createDefaultConfig() component.Config {
	client := confighttp.NewDefaultClientConfig()
	client.Timeout = 30 * time.Second
	return &Config{
		Credentials: Credentials{ClientConfig: client, api: tenantAPI},
		// Defaults sit well below SAP's per-user limits (MPL 100/s, runtime artifacts 50/s, security
		// content 10/s, design-time 10/s, number ranges 5/s), leaving room for the tenant's other API
		// users. SAP documents no limit for data stores and External Logging; their sources make a few
		// calls per poll.
		RateLimits: RateLimitsConfig{
			MessageProcessingLogs: RateLimit{RequestsPerSecond: 20, Burst: 10},
			RuntimeArtifacts:      RateLimit{RequestsPerSecond: 10, Burst: 5},
			SecurityContent:       RateLimit{RequestsPerSecond: 2, Burst: 2},
			DesignTime:            RateLimit{RequestsPerSecond: 2, Burst: 2},
			Monitoring:            RateLimit{RequestsPerSecond: 5, Burst: 5},
			AuditLogs:             RateLimit{RequestsPerSecond: 2, Burst: 2},
			DataStores:            RateLimit{RequestsPerSecond: 2, Burst: 2},
			NumberRanges:          RateLimit{RequestsPerSecond: 1, Burst: 1},
			ExternalLogging:       RateLimit{RequestsPerSecond: 1, Burst: 2},
		},
		Retry: RetryConfig{
			MaxRetries:      5,
			InitialInterval: time.Second,
			MaxInterval:     30 * time.Second,
			MaxRetryAfter:   5 * time.Minute,
		},
		MaxResponseSize:      httpapi.DefaultMaxBodySize,
		Messages:             defaultMessagesConfig(),
		Inventory:            defaultInventoryConfig(),
		AuditLogs:            defaultAuditLogsConfig(),
		LogFiles:             defaultLogFilesConfig(),
		LeaderElection:       defaultLeaderElectionConfig(),
		CloudALM:             defaultCloudALMConfig(),
		Traces:               defaultTracesConfig(),
		Push:                 defaultPushConfig(),
		Operations:           defaultOperationsConfig(),
		CollectionInterval:   time.Minute,
		MetricsBuilderConfig: metadata.NewDefaultMetricsBuilderConfig(),
		Events:               metadata.DefaultEventsConfig(),
	}
}

func createLogs(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Logs) (receiver.Logs, error) {
	t := tenants.acquire(cfg.(*Config), set)
	t.setLogs(next)
	return &signalReceiver{tenant: t}, nil
}

func createTraces(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Traces) (receiver.Traces, error) {
	t := tenants.acquire(cfg.(*Config), set)
	t.setTraces(next)
	return &signalReceiver{tenant: t}, nil
}

func createMetrics(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Metrics) (receiver.Metrics, error) {
	c := cfg.(*Config)
	t := tenants.acquire(c, set)
	t.setMetrics(next)
	s, err := scraper.NewMetrics(t.scrapeMetrics,
		scraper.WithStart(t.start),
		scraper.WithShutdown(func(ctx context.Context) error { return tenants.release(ctx, c, t) }))
	if err != nil {
		return nil, err
	}
	ctrl := scraperhelper.NewDefaultControllerConfig()
	ctrl.CollectionInterval = c.CollectionInterval
	return scraperhelper.NewMetricsController(&ctrl, set, next, scraperhelper.AddMetricsScraper(metadata.Type, s))
}

// signalReceiver is the logs or traces face of a shared tenant.
type signalReceiver struct {
	tenant *tenant
}

func (r *signalReceiver) Start(ctx context.Context, host component.Host) error {
	return r.tenant.start(ctx, host)
}

func (r *signalReceiver) Shutdown(ctx context.Context) error {
	return tenants.release(ctx, r.tenant.cfg, r.tenant)
}
