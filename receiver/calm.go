package sapcpireceiver

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"

	"github.com/sapcpi-otel/sapcpireceiver/internal/calm"
	"github.com/sapcpi-otel/sapcpireceiver/internal/checkpoint"
	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/mapping"
	"github.com/sapcpi-otel/sapcpireceiver/internal/metadata"
)

// CloudALMConfig configures the SAP Cloud ALM Analytics source: execution counts of provider
// CPI_MESSAGES per flow and bucket, and optionally health-monitoring figures (certificates, JMS). It is
// on as soon as it has credentials, unless enabled: false says otherwise.
type CloudALMConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// Credentials of an SAP Cloud ALM API service key: service_key_file (or oauth2, or auth) and the HTTP
	// client (endpoint — the key's endpoints.Api —, timeout, tls, proxy).
	Credentials `mapstructure:",squash"`
	// Resolution is the bucket size: hourly or daily.
	Resolution   string        `mapstructure:"resolution"`
	PollInterval time.Duration `mapstructure:"poll_interval"`
	// CloseDelay: a bucket is emitted this long after its end, when Cloud ALM has collected its late data.
	CloseDelay time.Duration `mapstructure:"close_delay"`
	// InitialLookback is how far back the first poll reads when there is no checkpoint.
	InitialLookback time.Duration `mapstructure:"initial_lookback"`
	// MaxCatchUp bounds how far back the receiver reads after an outage (Cloud ALM's retention).
	MaxCatchUp time.Duration `mapstructure:"max_catch_up"`
	// BucketsPerRequest bounds one request's time range, so a catch-up is read (and committed) in steps.
	BucketsPerRequest int `mapstructure:"buckets_per_request"`
	// ServiceIDs keeps only these Cloud ALM services (serviceId); empty reads all.
	ServiceIDs       []string               `mapstructure:"service_ids"`
	HealthMonitoring HealthMonitoringConfig `mapstructure:"health_monitoring"`
	RateLimit        RateLimit              `mapstructure:"rate_limit"`
}

// HealthMonitoringConfig switches the HM_ANALYTICS_DP provider on.
type HealthMonitoringConfig struct {
	Enabled bool `mapstructure:"enabled"`
}

func defaultCloudALMConfig() CloudALMConfig {
	client := confighttp.NewDefaultClientConfig()
	client.Timeout = time.Minute
	return CloudALMConfig{
		Credentials:       Credentials{ClientConfig: client, api: cloudALMAPI},
		Resolution:        calm.Hourly.Name,
		PollInterval:      15 * time.Minute,
		CloseDelay:        30 * time.Minute,
		InitialLookback:   24 * time.Hour,
		MaxCatchUp:        7 * 24 * time.Hour,
		BucketsPerRequest: 24,
		RateLimit:         RateLimit{RequestsPerSecond: 1, Burst: 2},
	}
}

// Unmarshal turns the source on when credentials are configured without an explicit enabled switch.
func (c *CloudALMConfig) Unmarshal(conf *confmap.Conf) error {
	type plain CloudALMConfig
	if err := conf.Unmarshal((*plain)(c)); err != nil {
		return err
	}
	enableWhenConfigured(conf, &c.Credentials, &c.Enabled)
	return nil
}

// Validate checks the section; the collector prefixes the errors with "cloud_alm".
func (c *CloudALMConfig) Validate() error {
	if !c.Enabled {
		return nil
	}
	errs := c.Credentials.validate()
	res, err := calm.ParseResolution(c.Resolution)
	if err != nil {
		errs = append(errs, fmt.Errorf("resolution: %w", err))
	}
	if c.PollInterval < time.Minute {
		errs = append(errs, fmt.Errorf("poll_interval: must be at least 1m, got %s", c.PollInterval))
	}
	if c.CloseDelay < 0 {
		errs = append(errs, fmt.Errorf("close_delay: must not be negative, got %s", c.CloseDelay))
	}
	if c.InitialLookback <= 0 || c.InitialLookback > c.MaxCatchUp {
		errs = append(errs, fmt.Errorf("initial_lookback: must be positive and at most max_catch_up (%s), got %s", c.MaxCatchUp, c.InitialLookback))
	}
	if err == nil && c.MaxCatchUp < res.Size {
		errs = append(errs, fmt.Errorf("max_catch_up: must cover at least one %s bucket, got %s", res.Name, c.MaxCatchUp))
	}
	if c.BucketsPerRequest < 1 || c.BucketsPerRequest > 744 {
		errs = append(errs, fmt.Errorf("buckets_per_request: must be between 1 and 744, got %d", c.BucketsPerRequest))
	}
	if err := c.RateLimit.validate(); err != nil {
		errs = append(errs, fmt.Errorf("rate_limit: %w", err))
	}
	return sectionErrors(errs)
}

// almClient is the part of the Cloud ALM client a source needs.
type almClient interface {
	Data(ctx context.Context, q calm.Query) ([]calm.Point, []calm.Message, error)
}

// cloudALMSources builds one source per Cloud ALM provider; they deliver to the metrics pipeline.
func cloudALMSources(e *sourceEnv) ([]source, error) {
	c := e.cfg.CloudALM
	if !c.Enabled {
		if c.configured() {
			e.set.Logger.Info("cloud_alm has credentials but enabled is false: Cloud ALM is not read")
		}
		return nil, nil
	}
	if e.out.metrics == nil {
		e.set.Logger.Warn("cloud_alm is enabled, but this receiver is in no metrics pipeline: Cloud ALM figures are not read")
		return nil, nil
	}
	settings, endpoint, err := e.apiSettings(c.Credentials, map[string]httpapi.RateLimit{calm.GroupAnalytics.Name: c.RateLimit.client()})
	if err != nil {
		return nil, err
	}
	client, err := calm.NewClient(endpoint, settings)
	if err != nil {
		return nil, err
	}
	res, err := calm.ParseResolution(c.Resolution)
	if err != nil {
		return nil, err
	}
	providers := []string{calm.ProviderCPIMessages}
	if c.HealthMonitoring.Enabled {
		providers = append(providers, calm.ProviderHealth)
	}
	var out []source
	for _, p := range providers {
		out = append(out, newALMSource(p, c, res, client, e))
	}
	return out, nil
}

// newALMSource reads one Cloud ALM provider bucket by bucket. Its checkpoint is the end of the last
// bucket it delivered; a bucket is read once it is closed (its end plus close_delay has passed) and
// delivered exactly once. Cloud ALM may still add late data to a bucket after that; those changes are not
// re-emitted (the documented rule: choose close_delay longer than Cloud ALM's collection delay).
func newALMSource(provider string, c CloudALMConfig, res calm.Resolution, client almClient, e *sourceEnv) *windowed[calm.Point] {
	name := "cloud_alm/" + provider
	logger := e.logger(name)
	warned := map[string]bool{}
	mb := metadata.NewMetricsBuilder(e.cfg.MetricsBuilderConfig, e.set)
	query := func(from, to time.Time) calm.Query {
		q := calm.Query{Provider: provider, Resolution: res, From: from, To: to}
		if len(c.ServiceIDs) > 0 {
			q.Filters = map[string][]string{mapping.DimServiceID: c.ServiceIDs}
		}
		if provider == calm.ProviderHealth {
			q.Format, q.Dimensions, q.Measures = "table", mapping.HealthDimensions, mapping.HealthMeasures
		} else {
			q.Format, q.Dimensions, q.Measures = "time_series", mapping.CPIMessagesDimensions, []string{"Count"}
		}
		return q
	}
	return &windowed[calm.Point]{
		label: name, key: name + "/" + res.Name, every: c.PollInterval,
		align: res.Size, settle: c.CloseDelay, step: time.Duration(c.BucketsPerRequest) * res.Size,
		lookback: c.InitialLookback, maxCatchUp: c.MaxCatchUp,
		read: func(ctx context.Context, from, to time.Time, page func([]calm.Point) error) error {
			points, msgs, err := client.Data(ctx, query(from, to))
			// Each distinct warning or error of the sap-message header is logged once.
			for _, m := range msgs {
				if (m.Type == "W" || m.Type == "E") && !warned[m.Content] {
					warned[m.Content] = true
					logger.Warn("Cloud ALM sent a message with its answer", zap.String("provider", provider), zap.String("type", m.Type), zap.String("content", m.Content))
				}
			}
			if err != nil {
				return err
			}
			return page(closedOnly(points, from, to))
		},
		stamp: func(p *calm.Point) time.Time { return p.Start },
		deliver: func(ctx context.Context, points []calm.Point) error {
			resource := mapping.TenantResource(mb, e.mapper.Tenant)
			var md pmetric.Metrics
			if provider == calm.ProviderHealth {
				md = mapping.ALMHealth(mb, resource, points, res)
			} else {
				md = mapping.ALMExecutions(mb, resource, points, res)
			}
			return e.out.consumeMetrics(ctx, formatCloudALM, md, "Cloud ALM buckets")
		},
		store: e.store, tel: e.tel, logger: logger, now: e.now,
		window: checkpoint.NewWindow(),
	}
}

// closedOnly keeps the points of buckets inside [from, to): the answer can include the open bucket.
func closedOnly(points []calm.Point, from, to time.Time) []calm.Point {
	out := points[:0:0]
	for _, p := range points {
		if !p.Start.Before(from) && p.Start.Before(to) {
			out = append(out, p)
		}
	}
	return out
}
