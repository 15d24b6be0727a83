package sapcpireceiver

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"

	"github.com/sapcpi-otel/sapcpireceiver/internal/checkpoint"
	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/mapping"
)

// messageClient is the part of the CPI client the message source needs.
type messageClient interface {
	MessageProcessingLogs(ctx context.Context, q cpi.MessageQuery) (cpi.Page[cpi.MessageProcessingLog], error)
	MessageErrorText(ctx context.Context, guid string, limit int) (string, bool, error)
}

const messagesCheckpointKey = "messages"

var errConsumer = errors.New("the next consumer refused the records")

// messageSource reads MessageProcessingLogs incrementally by LogEnd (see incremental for the paging,
// de-duplication and checkpoint rules) and delivers each MPL state once: key (MessageGuid, Status,
// LogEnd), so a message yields one record per state it is seen in.
type messageSource struct {
	*incremental[cpi.MessageProcessingLog]
	cfg    MessagesConfig
	client messageClient
	mapper *mapping.Mapper
	logs   consumer.Logs // nil when only a metrics pipeline uses the receiver
	obs    *receiverhelper.ObsReport
}

func newMessageSource(cfg MessagesConfig, client messageClient, mapper *mapping.Mapper, logs consumer.Logs,
	obs *receiverhelper.ObsReport, store *checkpoint.Store, tel *telemetry, logger *zap.Logger,
) *messageSource {
	s := &messageSource{cfg: cfg, client: client, mapper: mapper, logs: logs, obs: obs}
	s.incremental = &incremental[cpi.MessageProcessingLog]{
		name: "messages", key: messagesCheckpointKey,
		cfg:     windowConfig{SettleDelay: cfg.SettleDelay, Overlap: cfg.Overlap, InitialLookback: cfg.InitialLookback, PageSize: cfg.PageSize},
		read:    s.read,
		id:      messageKey,
		stamp:   func(m *cpi.MessageProcessingLog) time.Time { return m.LogEnd.Time },
		deliver: s.deliver,
		store:   store, tel: tel, logger: logger, now: time.Now,
		window: checkpoint.NewWindow(),
	}
	return s
}

// messageKey identifies one state of one MPL.
func messageKey(m *cpi.MessageProcessingLog) string {
	return m.MessageGuid + "|" + m.Status + "|" + strconv.FormatInt(m.LogEnd.UnixMilli(), 10)
}

func (s *messageSource) read(ctx context.Context, from, until time.Time, top, skip int) ([]cpi.MessageProcessingLog, bool, error) {
	page, err := s.client.MessageProcessingLogs(ctx, cpi.MessageQuery{
		From: from, Until: until,
		IFlows: s.cfg.IncludeIFlows, ExcludeIFlows: s.cfg.ExcludeIFlows,
		Statuses: s.cfg.IncludeStatuses, ExcludeStatuses: s.cfg.ExcludeStatuses,
		Top: top, Skip: skip,
		CustomHeaders: s.cfg.CustomHeaderProperties.Enabled,
	})
	return page.Results, page.Next != "", err
}

// deliver enriches, maps and hands one page to the next consumer; only then are the metrics counted.
func (s *messageSource) deliver(ctx context.Context, mpls []cpi.MessageProcessingLog) error {
	if s.logs != nil {
		details, err := s.errorDetails(ctx, mpls)
		if err != nil {
			return err
		}
		logs := s.mapper.Messages(mpls, details, s.now())
		opCtx := s.obs.StartLogsOp(ctx)
		err = s.logs.ConsumeLogs(opCtx, logs)
		s.obs.EndLogsOp(opCtx, "odata_v2", len(mpls), err)
		if err != nil {
			return fmt.Errorf("%w: %d message records held back for the next poll: %w", errConsumer, len(mpls), err)
		}
	}
	s.tel.recordMessages(mpls)
	return nil
}

// errorDetails fetches the error text of the messages whose status asks for it, a few at a time. A text
// that cannot be fetched is logged and left out: the record itself is not held back for it.
func (s *messageSource) errorDetails(ctx context.Context, mpls []cpi.MessageProcessingLog) ([]mapping.ErrorDetail, error) {
	d := s.cfg.ErrorDetails
	if !d.Enabled {
		return nil, nil
	}
	wanted := make(map[string]bool, len(d.Statuses))
	for _, st := range d.Statuses {
		wanted[st] = true
	}
	details := make([]mapping.ErrorDetail, len(mpls))
	sem := make(chan struct{}, d.MaxConcurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures int
	var firstErr error
	for i := range mpls {
		if !wanted[mpls[i].Status] {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			text, truncated, err := s.client.MessageErrorText(ctx, mpls[i].MessageGuid, d.MaxSize)
			if err != nil {
				mu.Lock()
				failures++
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				return
			}
			details[i] = mapping.ErrorDetail{Text: text, Truncated: truncated}
		}(i)
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if failures > 0 {
		s.logger.Warn("Some error texts could not be fetched; their records go out without error_text",
			zap.Int("failed", failures), zap.Error(firstErr))
	}
	return details, nil
}
