package sapcpireceiver

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/sapcpi-otel/sapcpireceiver/internal/checkpoint"
)

// windowConfig is how an incremental source reads its time-ordered entity set.
type windowConfig struct {
	// SettleDelay keeps entries younger than this out of a poll: they may still be being written.
	SettleDelay time.Duration
	// Overlap is re-read on every poll to catch entries that appear late; repeats are dropped by key.
	Overlap time.Duration
	// InitialLookback is how far back the first poll reads without a checkpoint.
	InitialLookback time.Duration
	// PageSize is the number of entries asked for per request.
	PageSize int
}

// incremental reads a time-ordered entity set page by page and delivers each entry once.
//
// A poll reads [watermark − overlap, now − settle_delay) oldest first. It pages by the timestamp itself
// (the next page starts at the last timestamp seen) instead of following a server offset, because the
// tenant moves entries while we page: an MPL whose status changes gets a new LogEnd, which would shift
// every later entry of an offset-based page. Entries at a page boundary are read twice and dropped by
// key, as are the entries of the overlap window seen in the previous poll. After each page the entries
// go to deliver; only when it returns nil do their keys join the window and the checkpoint move.
type incremental[T any] struct {
	name string
	key  string // checkpoint key
	cfg  windowConfig
	// read returns up to top entries with from ≤ stamp < until, oldest first, skipping skip of them, and
	// whether the server holds more (it may cap a page below top and send a next link).
	read    func(ctx context.Context, from, until time.Time, top, skip int) (entries []T, more bool, err error)
	id      func(*T) string
	stamp   func(*T) time.Time
	deliver func(ctx context.Context, fresh []T) error

	store  *checkpoint.Store
	tel    *telemetry
	logger *zap.Logger
	now    func() time.Time

	// window is the committed progress: it only ever holds keys the next consumer accepted.
	window *checkpoint.Window
}

func (s *incremental[T]) load(ctx context.Context) error {
	w := checkpoint.NewWindow()
	found, err := s.store.Load(ctx, s.key, w)
	if err != nil {
		return err
	}
	if found {
		s.window = w
		s.logger.Info("Resuming from checkpoint", zap.Time("watermark", w.Watermark), zap.Int("overlap_keys", len(w.Seen)))
	} else if s.window == nil {
		s.window = checkpoint.NewWindow()
	}
	s.tel.setWatermark(s.name, s.window.Watermark)
	return nil
}

// rereadFrom is where the next read starts after the committed watermark. Normally it is
// watermark − overlap, to catch entries written late. When the watermark was committed far behind (a
// backfill or a catch-up), the entries before the horizon of that poll had had their time to appear
// when they were read, so re-reading them would only repeat work: the read starts at the horizon (at
// most at the watermark), and the checkpoint keeps only the keys from there on instead of a whole
// overlap window of keys per page.
func (s *incremental[T]) rereadFrom() time.Time {
	w := s.window.Watermark
	from := w.Add(-s.cfg.Overlap)
	if h := s.window.Horizon; from.Before(h) {
		from = h
	}
	if from.After(w) {
		from = w
	}
	return from
}

func (s *incremental[T]) poll(ctx context.Context) error {
	now := s.now().UTC()
	until := now.Add(-s.cfg.SettleDelay).Truncate(time.Millisecond)
	from := now.Add(-s.cfg.InitialLookback)
	if !s.window.Watermark.IsZero() {
		from = s.rereadFrom()
	}
	if !from.Before(until) {
		return nil
	}
	cursor, skip := from, 0
	for {
		page, more, err := s.read(ctx, cursor, until, s.cfg.PageSize, skip)
		if err != nil {
			return err
		}
		fresh := s.fresh(page)
		if len(fresh) > 0 {
			if err := s.deliver(ctx, fresh); err != nil {
				return err
			}
		}
		for i := range fresh {
			s.window.Add(s.id(&fresh[i]), s.stamp(&fresh[i]))
		}
		// A short page ends the window only if the server says nothing follows: a tenant may page below $top.
		full := (more || len(page) >= s.cfg.PageSize) && len(page) > 0
		if !full {
			// Everything before until has been read: the watermark can move there even on a quiet tenant.
			s.window.Advance(until)
		} else {
			s.window.Advance(s.stamp(&page[len(page)-1]))
		}
		if err := s.commit(ctx, until.Add(-s.cfg.Overlap)); err != nil {
			return err
		}
		if !full {
			return nil
		}
		if last := s.stamp(&page[len(page)-1]); last.After(cursor) {
			cursor, skip = last, 0
		} else {
			// A whole page shares one timestamp: step over it by offset, the only way forward.
			skip += len(page)
		}
	}
}

// fresh drops the entries delivered before (and repeats within the page).
func (s *incremental[T]) fresh(page []T) []T {
	out := make([]T, 0, len(page))
	inPage := make(map[string]struct{}, len(page))
	for i := range page {
		k := s.id(&page[i])
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

func (s *incremental[T]) commit(ctx context.Context, horizon time.Time) error {
	if horizon.After(s.window.Horizon) {
		s.window.Horizon = horizon
	}
	// Keys before where the next read starts cannot be read again.
	s.window.PruneBefore(s.rereadFrom())
	s.tel.setWatermark(s.name, s.window.Watermark)
	return s.store.Save(ctx, s.key, s.window)
}
