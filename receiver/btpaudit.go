package sapcpireceiver

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/confmap"

	"github.com/sapcpi-otel/sapcpireceiver/internal/btpaudit"
	"github.com/sapcpi-otel/sapcpireceiver/internal/checkpoint"
	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/mapping"
)

// BTPAuditConfig configures the BTP Audit Log retrieval API (Cloud Foundry tenants). It is on as soon as
// it has credentials, unless enabled: false says otherwise.
type BTPAuditConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// Credentials of an auditlog-management service key: service_key_file (or oauth2, or auth) and the
	// HTTP client (endpoint — the key's url —, timeout, tls, proxy).
	Credentials  `mapstructure:",squash"`
	WindowConfig `mapstructure:",squash"`
	// Categories filter the records (audit.security-events, audit.configuration, audit.data-access,
	// audit.data-modification); empty reads all.
	Categories []string `mapstructure:"categories"`
	// Window bounds one query's time range; a catch-up is read and committed window by window.
	Window    time.Duration `mapstructure:"window"`
	RateLimit RateLimit     `mapstructure:"rate_limit"`
}

// btpAuditRetention is the free retention of the BTP Audit Log service.
const btpAuditRetention = 90 * 24 * time.Hour

func defaultBTPAuditConfig() BTPAuditConfig {
	client := confighttp.NewDefaultClientConfig()
	client.Timeout = time.Minute
	return BTPAuditConfig{
		Credentials: Credentials{ClientConfig: client, api: btpAuditAPI},
		// SettleDelay covers the service's ingestion delay: younger records are read on a later poll.
		WindowConfig: WindowConfig{PollInterval: 5 * time.Minute, SettleDelay: 5 * time.Minute, Overlap: 10 * time.Minute, InitialLookback: 24 * time.Hour},
		Window:       time.Hour,
		RateLimit:    RateLimit{RequestsPerSecond: 2, Burst: 4},
	}
}

// Unmarshal turns the source on when credentials are configured without an explicit enabled switch.
func (c *BTPAuditConfig) Unmarshal(conf *confmap.Conf) error {
	type plain BTPAuditConfig
	if err := conf.Unmarshal((*plain)(c)); err != nil {
		return err
	}
	enableWhenConfigured(conf, &c.Credentials, &c.Enabled)
	return nil
}

// Validate checks the section; the collector prefixes the errors with "audit_logs::btp".
func (c *BTPAuditConfig) Validate() error {
	if !c.Enabled {
		return nil
	}
	errs := c.Credentials.validate()
	errs = append(errs, c.WindowConfig.validate(btpAuditRetention, "the 90-day Audit Log retention")...)
	if c.Window < time.Minute {
		errs = append(errs, fmt.Errorf("window: must be at least 1m, got %s", c.Window))
	}
	if err := c.RateLimit.validate(); err != nil {
		errs = append(errs, fmt.Errorf("rate_limit: %w", err))
	}
	return sectionErrors(errs)
}

// btpAuditClient is the part of the retrieval client the source needs.
type btpAuditClient interface {
	Page(ctx context.Context, from, to time.Time, handle string, categories []string) ([]btpaudit.Record, string, error)
}

const btpAuditCheckpointKey = "audit_logs/btp"

func btpAuditSources(e *sourceEnv) ([]source, error) {
	c := e.cfg.AuditLogs.BTP
	if !c.Enabled {
		if c.configured() {
			e.set.Logger.Info("audit_logs.btp has credentials but enabled is false: the BTP audit log is not read")
		}
		return nil, nil
	}
	settings, endpoint, err := e.apiSettings(c.Credentials, map[string]httpapi.RateLimit{btpaudit.Group.Name: c.RateLimit.client()})
	if err != nil {
		return nil, err
	}
	client, err := btpaudit.NewClient(endpoint, settings)
	if err != nil {
		return nil, err
	}
	return []source{newBTPAuditSource(c, client, e)}, nil
}

// newBTPAuditSource reads the retrieval API window by window. Within a window the API pages by an opaque
// handle, not by time, so the watermark moves only when a whole window is read; each page's records are
// delivered and their uuids committed on the way.
func newBTPAuditSource(c BTPAuditConfig, client btpAuditClient, e *sourceEnv) *windowed[btpaudit.Record] {
	return &windowed[btpaudit.Record]{
		label: "audit_logs/btp", key: btpAuditCheckpointKey, every: c.PollInterval,
		// The API's times have second precision.
		align: time.Second, settle: c.SettleDelay, overlap: c.Overlap, step: c.Window, lookback: c.InitialLookback,
		read: func(ctx context.Context, from, to time.Time, page func([]btpaudit.Record) error) error {
			handle := ""
			for {
				recs, next, err := client.Page(ctx, from, to, handle, c.Categories)
				if err != nil {
					return err
				}
				if err := page(recs); err != nil {
					return err
				}
				if next == "" {
					return nil
				}
				handle = next
			}
		},
		id:    func(r *btpaudit.Record) checkpoint.Key { return checkpoint.KeyOf(r.MessageUUID) },
		stamp: func(r *btpaudit.Record) time.Time { return r.Parse().Time },
		deliver: func(ctx context.Context, fresh []btpaudit.Record) error {
			entries := make([]mapping.AuditEntry, len(fresh))
			for i, r := range fresh {
				entries[i] = mapping.AuditFromBTP(r.Parse())
			}
			return e.out.consumeLogs(ctx, formatBTPAudit, e.mapper.Audit(entries, e.now()), "BTP audit records")
		},
		store: e.store, tel: e.tel, logger: e.logger("audit_logs/btp"), now: e.now,
		window: checkpoint.NewWindow(),
	}
}
