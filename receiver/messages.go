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

// messageSource reads MessageProcessingLogs incrementally by LogEnd.
//
// A poll reads the window [watermark − overlap, now − settle_delay) oldest first. It pages by LogEnd
// itself (the next page starts at the last LogEnd seen) instead of following $skiptoken, because the
// tenant moves entries while we page: an MPL whose status changes gets a new LogEnd, which shifts every
// later entry of an offset-based page. Entries at the page boundary are read twice and dropped by key
// (MessageGuid, Status, LogEnd), as are the entries of the overlap window seen in the previous poll.
type messageSource struct {
	cfg    MessagesConfig
	client messageClient
	mapper *mapping.Mapper
	logs   consumer.Logs // nil when only a metrics pipeline uses the receiver
	obs    *receiverhelper.ObsReport
	store  *checkpoint.Store
	tel    *telemetry
	logger *zap.Logger
	now    func() time.Time

	// window is the committed progress: it only ever holds keys the next consumer accepted.
	window *checkpoint.Window
}

func newMessageSource(cfg MessagesConfig, client messageClient, mapper *mapping.Mapper, logs consumer.Logs,
	obs *receiverhelper.ObsReport, store *checkpoint.Store, tel *telemetry, logger *zap.Logger,
) *messageSource {
	return &messageSource{cfg: cfg, client: client, mapper: mapper, logs: logs, obs: obs, store: store, tel: tel,
		logger: logger, now: time.Now, window: checkpoint.NewWindow()}
}

func (s *messageSource) name() string { return "messages" }

// messageKey identifies one state of one MPL.
func messageKey(m *cpi.MessageProcessingLog) string {
	return m.MessageGuid + "|" + m.Status + "|" + strconv.FormatInt(m.LogEnd.UnixMilli(), 10)
}

func (s *messageSource) load(ctx context.Context) error {
	w := checkpoint.NewWindow()
	found, err := s.store.Load(ctx, messagesCheckpointKey, w)
	if err != nil {
		return err
	}
	if found {
		s.window = w
		s.logger.Info("Resuming from checkpoint", zap.Time("watermark", w.Watermark), zap.Int("overlap_keys", len(w.Seen)))
	}
	s.tel.setWatermark(s.name(), s.window.Watermark)
	return nil
}

func (s *messageSource) query(from, until time.Time) cpi.MessageQuery {
	return cpi.MessageQuery{
		From: from, Until: until,
		IFlows: s.cfg.IncludeIFlows, ExcludeIFlows: s.cfg.ExcludeIFlows,
		Statuses: s.cfg.IncludeStatuses, ExcludeStatuses: s.cfg.ExcludeStatuses,
		Top:           s.cfg.PageSize,
		CustomHeaders: s.cfg.CustomHeaderProperties.Enabled,
	}
}

func (s *messageSource) poll(ctx context.Context) error {
	now := s.now().UTC()
	until := now.Add(-s.cfg.SettleDelay).Truncate(time.Millisecond)
	from := now.Add(-s.cfg.InitialLookback)
	if !s.window.Watermark.IsZero() {
		from = s.window.Watermark.Add(-s.cfg.Overlap)
	}
	if !from.Before(until) {
		return nil
	}
	cursor, skip := from, 0
	for {
		q := s.query(cursor, until)
		q.Skip = skip
		page, err := s.client.MessageProcessingLogs(ctx, q)
		if err != nil {
			return err
		}
		fresh := s.fresh(page.Results)
		if len(fresh) > 0 {
			if err := s.deliver(ctx, fresh); err != nil {
				return err
			}
		}
		for i := range fresh {
			s.window.Add(messageKey(&fresh[i]), fresh[i].LogEnd.Time)
		}
		full := len(page.Results) >= s.cfg.PageSize
		if !full {
			// Everything before until has been read: the watermark can move there even on a quiet tenant.
			s.window.Advance(until)
		} else if n := len(page.Results); n > 0 {
			s.window.Advance(page.Results[n-1].LogEnd.Time)
		}
		if err := s.commit(ctx); err != nil {
			return err
		}
		if !full {
			return nil
		}
		last := page.Results[len(page.Results)-1].LogEnd.Time
		if last.After(cursor) {
			cursor, skip = last, 0
		} else {
			// A whole page shares one LogEnd: step over it by offset, the only way forward.
			skip += len(page.Results)
		}
	}
}

// fresh drops the states delivered before (and repeats within the page).
func (s *messageSource) fresh(page []cpi.MessageProcessingLog) []cpi.MessageProcessingLog {
	out := make([]cpi.MessageProcessingLog, 0, len(page))
	inPage := make(map[string]struct{}, len(page))
	for i := range page {
		k := messageKey(&page[i])
		if s.window.Has(k) {
			continue
		}
		if _, dup := inPage[k]; dup {
			continue
		}
		inPage[k] = struct{}{}
		out = append(out, page[i])
	}
	return out
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

func (s *messageSource) commit(ctx context.Context) error {
	s.window.Prune(s.cfg.Overlap)
	s.tel.setWatermark(s.name(), s.window.Watermark)
	return s.store.Save(ctx, messagesCheckpointKey, s.window)
}
