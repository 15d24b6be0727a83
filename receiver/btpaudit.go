package sapcpireceiver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"

	"github.com/sapcpi-otel/sapcpireceiver/internal/btpaudit"
	"github.com/sapcpi-otel/sapcpireceiver/internal/checkpoint"
	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/mapping"
)

// BTPAuditConfig configures the BTP Audit Log retrieval API (Cloud Foundry tenants).
type BTPAuditConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// ClientConfig is the HTTP client: endpoint (the service key's url), timeout, tls, proxy, auth.
	confighttp.ClientConfig `mapstructure:",squash"`
	// ServiceKeyFile is an auditlog-management service key (url, uaa.clientid/clientsecret/url or the certificate variant).
	ServiceKeyFile string        `mapstructure:"service_key_file"`
	OAuth2         *OAuth2Config `mapstructure:"oauth2"`
	// Categories filter the records (audit.security-events, audit.configuration, audit.data-access,
	// audit.data-modification); empty reads all.
	Categories   []string      `mapstructure:"categories"`
	PollInterval time.Duration `mapstructure:"poll_interval"`
	// SettleDelay covers the service's ingestion delay: younger records are read on a later poll.
	SettleDelay     time.Duration `mapstructure:"settle_delay"`
	Overlap         time.Duration `mapstructure:"overlap"`
	InitialLookback time.Duration `mapstructure:"initial_lookback"`
	// Window bounds one query's time range; a catch-up is read and committed window by window.
	Window    time.Duration `mapstructure:"window"`
	RateLimit RateLimit     `mapstructure:"rate_limit"`
}

func defaultBTPAuditConfig() BTPAuditConfig {
	client := confighttp.NewDefaultClientConfig()
	client.Timeout = time.Minute
	return BTPAuditConfig{
		ClientConfig: client, PollInterval: 5 * time.Minute, SettleDelay: 5 * time.Minute, Overlap: 10 * time.Minute,
		InitialLookback: 24 * time.Hour, Window: time.Hour, RateLimit: RateLimit{RequestsPerSecond: 2, Burst: 4},
	}
}

func (c *BTPAuditConfig) validate() []error {
	if !c.Enabled {
		return nil
	}
	var errs []error
	set := 0
	if c.ServiceKeyFile != "" {
		set++
		if _, err := btpaudit.ReadServiceKey(c.ServiceKeyFile); err != nil {
			errs = append(errs, fmt.Errorf("audit_logs.btp.service_key_file: %w", err))
		}
	}
	if c.OAuth2 != nil {
		set++
	}
	if c.Auth.HasValue() {
		set++
	}
	if set != 1 {
		errs = append(errs, errors.New("audit_logs.btp: set exactly one of service_key_file, oauth2 or auth (the auditlog-management service key's credentials)"))
	}
	if c.ServiceKeyFile == "" && c.Endpoint == "" {
		errs = append(errs, errors.New("audit_logs.btp.endpoint: required unless service_key_file is set (the key's url)"))
	}
	if c.PollInterval < time.Second || c.Window < time.Minute || c.InitialLookback <= 0 || c.InitialLookback > 90*24*time.Hour {
		errs = append(errs, errors.New("audit_logs.btp: poll_interval ≥ 1s, window ≥ 1m and initial_lookback up to 2160h (the 90-day retention) are required"))
	}
	if c.SettleDelay < 0 || c.Overlap < 0 {
		errs = append(errs, errors.New("audit_logs.btp: settle_delay and overlap must not be negative"))
	}
	if c.RateLimit.RequestsPerSecond <= 0 || c.RateLimit.Burst < 1 {
		errs = append(errs, errors.New("audit_logs.btp.rate_limit: requests_per_second must be > 0 and burst ≥ 1"))
	}
	return errs
}

func (t *tenant) newBTPAuditClient(ctx context.Context, host component.Host) (*btpaudit.Client, error) {
	c := t.cfg.AuditLogs.BTP
	creds, endpoint, err := keyOrOAuth2(c.ServiceKeyFile, btpaudit.ReadServiceKey, c.OAuth2, c.Endpoint)
	if err != nil {
		return nil, err
	}
	settings, err := t.apiSettings(ctx, host, c.ClientConfig, endpoint, creds, nil)
	if err != nil {
		return nil, err
	}
	settings.RateLimits = map[string]httpapi.RateLimit{btpaudit.Group.Name: {RequestsPerSecond: c.RateLimit.RequestsPerSecond, Burst: c.RateLimit.Burst}}
	return btpaudit.NewClient(endpoint, settings)
}

// btpAuditClient is the part of the retrieval client the source needs.
type btpAuditClient interface {
	Page(ctx context.Context, from, to time.Time, handle string, categories []string) ([]btpaudit.Record, string, error)
}

// btpAuditSource reads the retrieval API window by window. Within a window the API pages by an opaque
// handle, not by time, so the watermark moves only when a whole window is read; each page's records are
// delivered and their uuids committed (without moving the watermark) so that a failure repeats nothing.
type btpAuditSource struct {
	cfg    BTPAuditConfig
	client btpAuditClient
	mapper *mapping.Mapper
	logs   consumer.Logs
	obs    *receiverhelper.ObsReport
	store  *checkpoint.Store
	tel    *telemetry
	logger *zap.Logger
	now    func() time.Time
	window *checkpoint.Window
}

const btpAuditCheckpointKey = "audit_logs/btp"

func (s *btpAuditSource) name() string { return "audit_logs/btp" }

func (s *btpAuditSource) load(ctx context.Context) error {
	w := checkpoint.NewWindow()
	found, err := s.store.Load(ctx, btpAuditCheckpointKey, w)
	if err != nil {
		return err
	}
	if found {
		s.window = w
	}
	s.tel.setWatermark(s.name(), s.window.Watermark)
	return nil
}

func (s *btpAuditSource) poll(ctx context.Context) error {
	now := s.now().UTC()
	// The API's times have second precision.
	until := now.Add(-s.cfg.SettleDelay).Truncate(time.Second)
	from := now.Add(-s.cfg.InitialLookback).Truncate(time.Second)
	if !s.window.Watermark.IsZero() {
		from = s.window.Watermark.Add(-s.cfg.Overlap).Truncate(time.Second)
	}
	for from.Before(until) {
		to := from.Add(s.cfg.Window)
		if to.After(until) {
			to = until
		}
		handle := ""
		for {
			recs, next, err := s.client.Page(ctx, from, to, handle, s.cfg.Categories)
			if err != nil {
				return err
			}
			if err := s.deliver(ctx, recs); err != nil {
				return err
			}
			if next == "" {
				break
			}
			handle = next
		}
		s.window.Advance(to)
		if err := s.commit(ctx); err != nil {
			return err
		}
		from = to
	}
	return nil
}

func (s *btpAuditSource) deliver(ctx context.Context, recs []btpaudit.Record) error {
	var entries []mapping.AuditEntry
	var keys []string
	var stamps []time.Time
	seen := map[string]bool{}
	for _, r := range recs {
		if s.window.Has(r.MessageUUID) || seen[r.MessageUUID] {
			continue
		}
		seen[r.MessageUUID] = true
		e := r.Parse()
		entries = append(entries, mapping.AuditFromBTP(e))
		keys, stamps = append(keys, r.MessageUUID), append(stamps, e.Time)
	}
	if len(entries) == 0 {
		return nil
	}
	if err := consumeLogs(ctx, s.logs, s.obs, s.mapper.Audit(entries, s.now()), "BTP audit records"); err != nil {
		return err
	}
	for i, k := range keys {
		s.window.Remember(k, stamps[i])
	}
	return s.commit(ctx)
}

func (s *btpAuditSource) commit(ctx context.Context) error {
	s.window.Prune(s.cfg.Overlap)
	s.tel.setWatermark(s.name(), s.window.Watermark)
	return s.store.Save(ctx, btpAuditCheckpointKey, s.window)
}
