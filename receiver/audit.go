package sapcpireceiver

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"

	"github.com/sapcpi-otel/sapcpireceiver/internal/checkpoint"
	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/mapping"
)

// AuditLogsConfig configures the audit trail: the tenant's AuditLogs entity set (Neo), and the BTP
// Audit Log retrieval API (Cloud Foundry, where CPI writes its audit events).
type AuditLogsConfig struct {
	Enabled         bool           `mapstructure:"enabled"`
	PollInterval    time.Duration  `mapstructure:"poll_interval"`
	SettleDelay     time.Duration  `mapstructure:"settle_delay"`
	Overlap         time.Duration  `mapstructure:"overlap"`
	InitialLookback time.Duration  `mapstructure:"initial_lookback"`
	PageSize        int            `mapstructure:"page_size"`
	BTP             BTPAuditConfig `mapstructure:"btp"`
}

func defaultAuditLogsConfig() AuditLogsConfig {
	return AuditLogsConfig{
		Enabled: true, PollInterval: 5 * time.Minute, SettleDelay: time.Minute, Overlap: 5 * time.Minute,
		InitialLookback: 24 * time.Hour, PageSize: 500, BTP: defaultBTPAuditConfig(),
	}
}

func (c *AuditLogsConfig) validate() []error {
	var errs []error
	if c.Enabled {
		if c.PollInterval < time.Second {
			errs = append(errs, fmt.Errorf("audit_logs.poll_interval: must be at least 1s, got %s", c.PollInterval))
		}
		if c.SettleDelay < 0 || c.Overlap < 0 {
			errs = append(errs, fmt.Errorf("audit_logs: settle_delay and overlap must not be negative"))
		}
		if c.InitialLookback <= 0 || c.InitialLookback > maxLookback {
			errs = append(errs, fmt.Errorf("audit_logs.initial_lookback: must be between 1ms and 720h (the 30-day Neo audit retention), got %s", c.InitialLookback))
		}
		if c.PageSize < 1 || c.PageSize > 1000 {
			errs = append(errs, fmt.Errorf("audit_logs.page_size: must be between 1 and 1000, got %d", c.PageSize))
		}
	}
	return append(errs, c.BTP.validate()...)
}

// auditClient is the part of the CPI client the audit source needs.
type auditClient interface {
	AuditLogs(ctx context.Context, from, until time.Time, top, skip int) ([]cpi.AuditLog, bool, error)
}

const auditCheckpointKey = "audit_logs"

// newAuditSource reads AuditLogs incrementally by Timestamp, de-duplicated on ChangeId, with the same
// watermark, overlap and commit rules as the messages.
func newAuditSource(cfg AuditLogsConfig, client auditClient, mapper *mapping.Mapper, logs consumer.Logs,
	obs *receiverhelper.ObsReport, store *checkpoint.Store, tel *telemetry, logger *zap.Logger,
) *incremental[cpi.AuditLog] {
	src := &incremental[cpi.AuditLog]{
		name: "audit_logs", key: auditCheckpointKey,
		cfg:   windowConfig{SettleDelay: cfg.SettleDelay, Overlap: cfg.Overlap, InitialLookback: cfg.InitialLookback, PageSize: cfg.PageSize},
		read:  client.AuditLogs,
		id:    func(a *cpi.AuditLog) string { return a.ChangeId },
		stamp: func(a *cpi.AuditLog) time.Time { return a.Timestamp.Time },
		store: store, tel: tel, logger: logger, now: time.Now,
		window: checkpoint.NewWindow(),
	}
	src.deliver = func(ctx context.Context, fresh []cpi.AuditLog) error {
		entries := make([]mapping.AuditEntry, len(fresh))
		for i, a := range fresh {
			entries[i] = mapping.AuditFromOData(a)
		}
		return consumeLogs(ctx, logs, obs, mapper.Audit(entries, src.now()), "audit entries")
	}
	return src
}

// consumeLogs hands records to the next consumer with the collector's own accounting; a refusal is an
// error that holds the source's checkpoint back.
func consumeLogs(ctx context.Context, next consumer.Logs, obs *receiverhelper.ObsReport, ld plog.Logs, what string) error {
	if next == nil {
		return nil
	}
	opCtx := obs.StartLogsOp(ctx)
	err := next.ConsumeLogs(opCtx, ld)
	obs.EndLogsOp(opCtx, "odata_v2", ld.LogRecordCount(), err)
	if err != nil {
		return fmt.Errorf("%w: %d %s held back for the next poll: %w", errConsumer, ld.LogRecordCount(), what, err)
	}
	return nil
}
