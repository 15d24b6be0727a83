package sapcpireceiver

import (
	"context"
	"fmt"
	"time"

	"github.com/sapcpi-otel/sapcpireceiver/internal/checkpoint"
	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/mapping"
)

// AuditLogsConfig configures the audit trail: the tenant's AuditLogs entity set (Neo), and the BTP
// Audit Log retrieval API (Cloud Foundry, where CPI writes its audit events).
type AuditLogsConfig struct {
	Enabled      bool `mapstructure:"enabled"`
	WindowConfig `mapstructure:",squash"`
	PageSize     int            `mapstructure:"page_size"`
	BTP          BTPAuditConfig `mapstructure:"btp"`
}

// neoAuditRetention is how long a Neo tenant keeps its audit log.
const neoAuditRetention = 30 * 24 * time.Hour

func defaultAuditLogsConfig() AuditLogsConfig {
	return AuditLogsConfig{
		Enabled: true,
		WindowConfig: WindowConfig{
			PollInterval: 5 * time.Minute, SettleDelay: time.Minute, Overlap: 5 * time.Minute, InitialLookback: 24 * time.Hour,
		},
		PageSize: 500,
		BTP:      defaultBTPAuditConfig(),
	}
}

// Validate checks the Neo audit settings; the btp section validates itself.
func (c *AuditLogsConfig) Validate() error {
	if !c.Enabled {
		return nil
	}
	errs := c.WindowConfig.validate(neoAuditRetention, "the 30-day Neo audit retention")
	if c.PageSize < 1 || c.PageSize > 1000 {
		errs = append(errs, fmt.Errorf("page_size: must be between 1 and 1000, got %d", c.PageSize))
	}
	return sectionErrors(errs)
}

// auditClient is the part of the CPI client the Neo audit source needs.
type auditClient interface {
	AuditLogs(ctx context.Context, from, until time.Time, top, skip int) ([]cpi.AuditLog, bool, error)
}

const auditCheckpointKey = "audit_logs"

func neoAuditSources(e *sourceEnv) ([]source, error) {
	if !e.cfg.AuditLogs.Enabled {
		return nil, nil
	}
	return []source{newNeoAuditSource(e.cfg.AuditLogs, e.client, e)}, nil
}

// newNeoAuditSource reads AuditLogs incrementally by Timestamp, de-duplicated on ChangeId, with the same
// watermark, overlap and commit rules as the messages.
func newNeoAuditSource(cfg AuditLogsConfig, client auditClient, e *sourceEnv) *incremental[cpi.AuditLog] {
	return &incremental[cpi.AuditLog]{
		label: "audit_logs", key: auditCheckpointKey,
		cfg: cfg.WindowConfig, pageSize: cfg.PageSize, every: cfg.PollInterval,
		read:  client.AuditLogs,
		stamp: func(a *cpi.AuditLog) time.Time { return a.Timestamp.Time },
		sinks: []sink[cpi.AuditLog]{{
			bits: checkpoint.AllSinks,
			key:  func(a *cpi.AuditLog) checkpoint.Key { return checkpoint.KeyOf(a.ChangeId) },
			deliver: func(ctx context.Context, fresh []cpi.AuditLog) error {
				entries := make([]mapping.AuditEntry, len(fresh))
				for i, a := range fresh {
					entries[i] = mapping.AuditFromOData(a)
				}
				return e.out.consumeLogs(ctx, formatOData, e.mapper.Audit(entries, e.now()), "audit entries")
			},
		}},
		store: e.store, tel: e.tel, logger: e.logger("audit_logs"), now: e.now,
		window: checkpoint.NewWindow(),
	}
}
