package sapcpireceiver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"

	"github.com/sapcpi-otel/sapcpireceiver/internal/checkpoint"
	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/mapping"
)

// source is one thing the receiver reads from a tenant. Every source has the same life: load its
// checkpoint once, then poll on its interval; a poll reads, maps, hands the data to the next consumer and
// commits its checkpoint only after the consumer accepted. What differs between sources is data: what
// they read, how they key it, how they map it.
type source interface {
	name() string
	interval() time.Duration
	load(ctx context.Context) error
	poll(ctx context.Context) error
}

// termEnder is a source that keeps progress in memory beyond what load restores. When a leadership
// term ends it forgets it, so that the next term's load reads the checkpoint the last leader left
// instead of resuming from this pod's own older state (and repeating what the other pod delivered).
type termEnder interface {
	endTerm()
}

// endTerms ends the term of every source that needs it; the pollers have stopped.
func endTerms(sources []source) {
	for _, s := range sources {
		if te, ok := s.(termEnder); ok {
			te.endTerm()
		}
	}
}

// sourceBuilders is every kind of source, in start order. Each builds its sources from the
// configuration (none when switched off). Adding a source is one file and one entry here.
var sourceBuilders = []func(*sourceEnv) ([]source, error){
	messageSources,
	neoAuditSources,
	btpAuditSources,
	logFileSources,
	inventorySources,
	operationsSources,
	cloudALMSources,
}

// sourceEnv is what a source is built from: the configuration, the tenant's client, the mapping, the
// consumers, the checkpoint store and the receiver's own telemetry.
type sourceEnv struct {
	ctx       context.Context
	cfg       *Config
	set       receiver.Settings
	host      component.Host
	client    *cpi.Client
	mapper    *mapping.Mapper
	out       *output
	store     *checkpoint.Store
	tel       *telemetry
	inventory *inventoryCache
	now       func() time.Time
	// servers are what sources serve while the receiver runs (the push endpoint).
	servers []server
}

func (e *sourceEnv) logger(source string) *zap.Logger {
	return e.set.Logger.With(zap.String("source", source))
}

// Transport formats, as the collector's own receiver telemetry reports them.
const (
	formatOData    = "odata_v2"
	formatLogFile  = "log_file"
	formatBTPAudit = "btp_audit_log"
	formatCloudALM = "cloud_alm_analytics"
)

// output is the one way data leaves the receiver: to the next consumer of its signal, counted by the
// collector's obsreport. A refusal is an error wrapping errConsumer; the caller then commits nothing.
type output struct {
	logs    consumer.Logs
	metrics consumer.Metrics
	traces  consumer.Traces
	obs     *receiverhelper.ObsReport
}

var errConsumer = errors.New("the next consumer refused the data")

func refused(n int, what string, err error) error {
	return fmt.Errorf("%w: %d %s held back for the next poll: %w", errConsumer, n, what, err)
}

// consumeLogs hands records on; without a logs pipeline, or with nothing to hand on, it succeeds.
func (o *output) consumeLogs(ctx context.Context, format string, ld plog.Logs, what string) error {
	n := ld.LogRecordCount()
	if o.logs == nil || n == 0 {
		return nil
	}
	opCtx := o.obs.StartLogsOp(ctx)
	err := o.logs.ConsumeLogs(opCtx, ld)
	o.obs.EndLogsOp(opCtx, format, n, err)
	if err != nil {
		return refused(n, what, err)
	}
	return nil
}

func (o *output) consumeMetrics(ctx context.Context, format string, md pmetric.Metrics, what string) error {
	n := md.DataPointCount()
	if o.metrics == nil || n == 0 {
		return nil
	}
	opCtx := o.obs.StartMetricsOp(ctx)
	err := o.metrics.ConsumeMetrics(opCtx, md)
	o.obs.EndMetricsOp(opCtx, format, n, err)
	if err != nil {
		return refused(n, what, err)
	}
	return nil
}

func (o *output) consumeTraces(ctx context.Context, format string, td ptrace.Traces, what string) error {
	n := td.SpanCount()
	if o.traces == nil || n == 0 {
		return nil
	}
	opCtx := o.obs.StartTracesOp(ctx)
	err := o.traces.ConsumeTraces(opCtx, td)
	o.obs.EndTracesOp(opCtx, format, n, err)
	if err != nil {
		return refused(n, what, err)
	}
	return nil
}

// rareInterval is how often a source the tenant does not offer, or the credentials may not read, is
// tried again: often enough to notice a role being added, rarely enough not to flood the log or tenant.
const rareInterval = 15 * time.Minute

// poller runs one source: load its checkpoint, then poll on the source's interval. Whatever a poll did
// not commit, the next poll reads again.
type poller struct {
	src    source
	logger *zap.Logger
	// rare replaces rareInterval in tests.
	rare time.Duration

	lastErr string
}

func (p *poller) run(ctx context.Context) {
	// Polling without the checkpoint would repeat what was delivered before, so a storage failure at
	// start-up is retried rather than ignored.
	for {
		err := p.src.load(ctx)
		if err == nil {
			break
		}
		p.logger.Error("Cannot read the checkpoint; retrying", zap.Error(err))
		if !sleep(ctx, p.src.interval()) {
			return
		}
	}
	for {
		wait := p.report(ctx, p.src.poll(ctx))
		if !sleep(ctx, wait) {
			return
		}
	}
}

// report logs a failure once (repeats of the same error go to debug) and picks the next wait.
func (p *poller) report(ctx context.Context, err error) time.Duration {
	interval := p.src.interval()
	if err == nil {
		if p.lastErr != "" {
			p.logger.Info("Source recovered")
			p.lastErr = ""
		}
		return interval
	}
	if ctx.Err() != nil {
		return interval
	}
	msg := err.Error()
	kind := httpapi.KindOf(err)
	if msg != p.lastErr {
		fields := []zap.Field{zap.Error(err)}
		var apiErr *httpapi.Error
		if errors.As(err, &apiErr) {
			fields = append(fields, zap.String("kind", apiErr.Kind.String()))
		}
		switch kind {
		case httpapi.KindNotFound:
			// Expected where the tenant lacks the API (Neo vs Cloud Foundry): say so once, not as a failure.
			p.logger.Warn("Source not available on this tenant; checking again rarely", fields...)
		case httpapi.KindForbidden:
			p.logger.Warn("Source not readable with these credentials; checking again rarely", fields...)
		default:
			p.logger.Error("Poll failed; will retry", fields...)
		}
		p.lastErr = msg
	} else {
		p.logger.Debug("Poll failed again", zap.Error(err))
	}
	switch kind {
	case httpapi.KindNotFound, httpapi.KindForbidden:
		rare := p.rare
		if rare == 0 {
			rare = rareInterval
		}
		return max(interval, rare)
	}
	return interval
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
