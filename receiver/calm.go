package sapcpireceiver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"

	"github.com/sapcpi-otel/sapcpireceiver/internal/calm"
	"github.com/sapcpi-otel/sapcpireceiver/internal/checkpoint"
	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/mapping"
	"github.com/sapcpi-otel/sapcpireceiver/internal/metadata"
)

// CloudALMConfig configures the SAP Cloud ALM Analytics source: execution counts of provider
// CPI_MESSAGES per flow and bucket, and optionally health-monitoring figures (certificates, JMS).
type CloudALMConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// ClientConfig is the HTTP client for Cloud ALM: endpoint (the key's endpoints.Api), timeout, tls, proxy, auth.
	confighttp.ClientConfig `mapstructure:",squash"`
	// ServiceKeyFile is an SAP Cloud ALM API service key (endpoints.Api, uaa.clientid/clientsecret/url, or the certificate variant).
	ServiceKeyFile string `mapstructure:"service_key_file"`
	// OAuth2 is explicit client credentials instead of a service key.
	OAuth2 *OAuth2Config `mapstructure:"oauth2"`
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
		ClientConfig:      client,
		Resolution:        calm.Hourly.Name,
		PollInterval:      15 * time.Minute,
		CloseDelay:        30 * time.Minute,
		InitialLookback:   24 * time.Hour,
		MaxCatchUp:        7 * 24 * time.Hour,
		BucketsPerRequest: 24,
		RateLimit:         RateLimit{RequestsPerSecond: 1, Burst: 2},
	}
}

func (c *CloudALMConfig) validate() []error {
	if !c.Enabled {
		return nil
	}
	var errs []error
	var set int
	if c.ServiceKeyFile != "" {
		set++
		if _, err := calm.ReadServiceKey(c.ServiceKeyFile); err != nil {
			errs = append(errs, fmt.Errorf("cloud_alm.service_key_file: %w", err))
		}
	}
	if c.OAuth2 != nil {
		set++
		if c.OAuth2.ClientID == "" || c.OAuth2.ClientSecret == "" || c.OAuth2.TokenURL == "" {
			errs = append(errs, errors.New("cloud_alm.oauth2: client_id, client_secret and token_url (the key's uaa.url + /oauth/token) are required"))
		}
	}
	if c.Auth.HasValue() {
		set++
	}
	if set != 1 {
		errs = append(errs, errors.New("cloud_alm: set exactly one of service_key_file, oauth2 or auth (the SAP Cloud ALM API service key's credentials)"))
	}
	if c.ServiceKeyFile == "" && c.Endpoint == "" {
		errs = append(errs, errors.New("cloud_alm.endpoint: required unless service_key_file is set (the key's endpoints.Api, e.g. https://<tenant>.eu10.alm.cloud.sap/api)"))
	}
	res, err := calm.ParseResolution(c.Resolution)
	if err != nil {
		errs = append(errs, fmt.Errorf("cloud_alm.resolution: %w", err))
	}
	if c.PollInterval < time.Minute {
		errs = append(errs, fmt.Errorf("cloud_alm.poll_interval: must be at least 1m, got %s", c.PollInterval))
	}
	if c.CloseDelay < 0 {
		errs = append(errs, fmt.Errorf("cloud_alm.close_delay: must not be negative, got %s", c.CloseDelay))
	}
	if c.InitialLookback <= 0 || c.InitialLookback > c.MaxCatchUp {
		errs = append(errs, fmt.Errorf("cloud_alm.initial_lookback: must be positive and at most max_catch_up (%s), got %s", c.MaxCatchUp, c.InitialLookback))
	}
	if err == nil && c.MaxCatchUp < res.Size {
		errs = append(errs, fmt.Errorf("cloud_alm.max_catch_up: must cover at least one %s bucket, got %s", res.Name, c.MaxCatchUp))
	}
	if c.BucketsPerRequest < 1 || c.BucketsPerRequest > 744 {
		errs = append(errs, fmt.Errorf("cloud_alm.buckets_per_request: must be between 1 and 744, got %d", c.BucketsPerRequest))
	}
	if c.RateLimit.RequestsPerSecond <= 0 || c.RateLimit.Burst < 1 {
		errs = append(errs, errors.New("cloud_alm.rate_limit: requests_per_second must be > 0 and burst ≥ 1"))
	}
	return errs
}

// newCloudALMClient builds the Cloud ALM client with its own credentials and HTTP settings.
func (t *tenant) newCloudALMClient(ctx context.Context, host component.Host) (*calm.Client, error) {
	c := t.cfg.CloudALM
	creds, endpoint, err := keyOrOAuth2(c.ServiceKeyFile, calm.ReadServiceKey, c.OAuth2, c.Endpoint)
	if err != nil {
		return nil, err
	}
	settings, err := t.apiSettings(ctx, host, c.ClientConfig, endpoint, creds, nil)
	if err != nil {
		return nil, err
	}
	settings.RateLimits = map[string]httpapi.RateLimit{calm.GroupAnalytics.Name: {RequestsPerSecond: c.RateLimit.RequestsPerSecond, Burst: c.RateLimit.Burst}}
	return calm.NewClient(endpoint, settings)
}

// almClient is the part of the Cloud ALM client a source needs.
type almClient interface {
	Data(ctx context.Context, q calm.Query) ([]calm.Point, []calm.Message, error)
}

// almSource reads one Cloud ALM provider bucket by bucket. Its checkpoint is the end of the last bucket
// it delivered; a bucket is read once it is closed (its end plus close_delay has passed) and delivered
// exactly once. Cloud ALM may still add late data to a bucket after that; those changes are not
// re-emitted (the documented rule: choose close_delay longer than Cloud ALM's collection delay).
type almSource struct {
	provider string
	cfg      CloudALMConfig
	res      calm.Resolution
	client   almClient
	next     consumer.Metrics
	obs      *receiverhelper.ObsReport
	store    *checkpoint.Store
	tel      *telemetry
	logger   *zap.Logger
	mb       *metadata.MetricsBuilder
	tenant   mapping.Tenant
	now      func() time.Time

	// watermark is the end of the last delivered bucket; zero before the first.
	watermark time.Time
	warned    map[string]bool
}

type almCheckpoint struct {
	Watermark time.Time `json:"watermark"`
}

func (s *almSource) name() string { return "cloud_alm/" + s.provider }

func (s *almSource) key() string { return "cloud_alm/" + s.provider + "/" + s.res.Name }

func (s *almSource) load(ctx context.Context) error {
	var cp almCheckpoint
	found, err := s.store.Load(ctx, s.key(), &cp)
	if err != nil {
		return err
	}
	if found {
		s.watermark = cp.Watermark
		s.logger.Info("Resuming Cloud ALM buckets from checkpoint", zap.Time("watermark", cp.Watermark))
	}
	s.tel.setWatermark(s.name(), s.watermark)
	return nil
}

func (s *almSource) query(from, to time.Time) calm.Query {
	q := calm.Query{Provider: s.provider, Resolution: s.res, From: from, To: to}
	if len(s.cfg.ServiceIDs) > 0 {
		q.Filters = map[string][]string{mapping.DimServiceID: s.cfg.ServiceIDs}
	}
	if s.provider == calm.ProviderHealth {
		q.Format, q.Dimensions, q.Measures = "table", mapping.HealthDimensions, mapping.HealthMeasures
	} else {
		q.Format, q.Dimensions, q.Measures = "time_series", mapping.CPIMessagesDimensions, []string{"Count"}
	}
	return q
}

func (s *almSource) poll(ctx context.Context) error {
	now := s.now().UTC()
	closedEnd := now.Add(-s.cfg.CloseDelay).Truncate(s.res.Size)
	if s.watermark.IsZero() {
		// Fixed at the first poll, so that a failing start does not let the lookback window slide.
		s.watermark = now.Add(-s.cfg.InitialLookback).Truncate(s.res.Size)
	}
	from := s.watermark
	if oldest := now.Add(-s.cfg.MaxCatchUp).Truncate(s.res.Size); from.Before(oldest) {
		s.logger.Warn("Cloud ALM buckets older than max_catch_up are skipped; they may have left Cloud ALM's retention",
			zap.Time("from", from), zap.Time("resuming_at", oldest))
		from = oldest
	}
	step := time.Duration(s.cfg.BucketsPerRequest) * s.res.Size
	for from.Before(closedEnd) {
		to := from.Add(step)
		if to.After(closedEnd) {
			to = closedEnd
		}
		points, msgs, err := s.client.Data(ctx, s.query(from, to))
		s.report(msgs)
		if err != nil {
			return err
		}
		if err := s.deliver(ctx, closedOnly(points, from, to)); err != nil {
			return err
		}
		if err := s.store.Save(ctx, s.key(), almCheckpoint{Watermark: to}); err != nil {
			return err
		}
		s.watermark = to
		s.tel.setWatermark(s.name(), to)
		from = to
	}
	return nil
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

func (s *almSource) deliver(ctx context.Context, points []calm.Point) error {
	if len(points) == 0 {
		return nil
	}
	res := mapping.TenantResource(s.mb, s.tenant)
	var md pmetric.Metrics
	if s.provider == calm.ProviderHealth {
		md = mapping.ALMHealth(s.mb, res, points, s.res)
	} else {
		md = mapping.ALMExecutions(s.mb, res, points, s.res)
	}
	opCtx := s.obs.StartMetricsOp(ctx)
	err := s.next.ConsumeMetrics(opCtx, md)
	s.obs.EndMetricsOp(opCtx, "cloud_alm_analytics", md.DataPointCount(), err)
	if err != nil {
		return fmt.Errorf("%w: Cloud ALM buckets held back for the next poll: %w", errConsumer, err)
	}
	return nil
}

// report logs each distinct warning or error of the sap-message header once.
func (s *almSource) report(msgs []calm.Message) {
	for _, m := range msgs {
		if m.Type != "W" && m.Type != "E" || s.warned[m.Content] {
			continue
		}
		s.warned[m.Content] = true
		s.logger.Warn("Cloud ALM sent a message with its answer", zap.String("provider", s.provider), zap.String("type", m.Type), zap.String("content", m.Content))
	}
}
