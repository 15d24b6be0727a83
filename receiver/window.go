package sapcpireceiver

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/sapcpi-otel/sapcpireceiver/internal/checkpoint"
)

// A tenant may store timestamps at whole seconds and compare a $filter literal at second precision,
// rounding the literal either way: `LogEnd ge datetime'…T19:54:34.612'` can then return the rows of
// 19:54:34.000. Two rules make the reads exact whatever the tenant does:
//   - every literal the receiver sends is a whole second, so no rounding can move it, and whole-second
//     bounds select the same rows whether the tenant compares milliseconds or seconds;
//   - a de-duplication key is kept until it is older than the next read's start minus one second, so a
//     row the next query can return is never forgotten, even where a tenant rounds stored values.
const filterPrecision = time.Second

// keepFrom is the oldest timestamp whose keys must be kept when the next read starts at from.
func keepFrom(from time.Time) time.Time { return from.Truncate(filterPrecision).Add(-filterPrecision) }

// sink is one consumer of an incremental source's entries. A source may feed several (message logs and
// message traces); each keeps its own progress in the checkpoint, so that one's refusal never makes the
// other receive an entry twice.
type sink[T any] struct {
	bits checkpoint.Sinks
	// key identifies what this sink must receive once (for logs: the MPL state; for spans: the MPL).
	key func(*T) checkpoint.Key
	// want, when set, selects the entries this sink takes; until is the end of the poll's read.
	want func(e *T, until time.Time) bool
	// deliver hands entries on; fresh may be the page itself, so it is read, never kept or changed.
	deliver func(ctx context.Context, fresh []T) error
	// delivered, when set, tells after a successful deliver which entries it really handed on; the others
	// are offered again on the next read (spans whose runs failed to read for a transient reason).
	delivered func(e *T) bool
}

// incremental reads a time-ordered entity set page by page and delivers each entry once to each sink.
//
// A poll reads [watermark − overlap, now − settle_delay) oldest first. It pages by the timestamp itself
// (the next page starts at the second of the last timestamp seen) instead of following a server offset,
// because the tenant moves entries while we page: an MPL whose status changes gets a new LogEnd, which
// would shift every later entry of an offset-based page. The entries of that second already read are
// stepped over by $skip; what the page boundary or the overlap repeats is dropped by key. After each page
// the entries go to the sinks; only when a sink accepted do its keys join the window, and the watermark
// moves when all of them did.
type incremental[T any] struct {
	label, key string
	cfg        WindowConfig
	pageSize   int
	every      time.Duration
	// read returns up to top entries with from ≤ stamp < until, oldest first, skipping skip of them, and
	// whether the server holds more (it may cap a page below top and send a next link).
	read  func(ctx context.Context, from, until time.Time, top, skip int) (entries []T, more bool, err error)
	stamp func(*T) time.Time
	sinks []sink[T]

	store  *checkpoint.Store
	tel    *telemetry
	logger *zap.Logger
	now    func() time.Time

	// retain, when set, keeps keys at least this long after their timestamp, whatever the next read: for
	// a window that another path (the push endpoint) also delivers through, and that can repeat a state
	// later than this source re-reads.
	retain time.Duration

	// mu is held while entries are checked against the window, delivered and committed: the poll and the
	// push endpoint deliver through the same window, and a state must not slip past both checks.
	mu sync.Mutex
	// window is the committed progress: it only ever holds keys a sink accepted.
	window *checkpoint.Window
	loaded bool
	// firstFrom pins where the very first read starts, so that a first poll that fails does not let
	// initial_lookback slide.
	firstFrom time.Time

	// inPage and keys are fresh's scratch, kept from page to page.
	inPage map[checkpoint.Key]struct{}
	keys   []checkpoint.Key
}

func (s *incremental[T]) name() string { return s.label }

func (s *incremental[T]) interval() time.Duration { return s.every }

// load reads the checkpoint, once: later calls return at once.
func (s *incremental[T]) load(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loadLocked(ctx)
}

// endTerm forgets the window: the next load reads the checkpoint again (leader election only, where no
// push endpoint shares the window).
func (s *incremental[T]) endTerm() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.window, s.loaded = nil, false
}

func (s *incremental[T]) loadLocked(ctx context.Context) error {
	if s.loaded {
		// The push endpoint or the poller loaded it first: reading it again would replace keys
		// delivered since with what storage holds.
		return nil
	}
	w, found, err := s.store.LoadWindow(ctx, s.key)
	if err != nil {
		return err
	}
	if found {
		s.window = w
		s.logger.Info("Resuming from checkpoint", zap.Time("watermark", w.Watermark), zap.Int("overlap_keys", w.Len()))
	} else if s.window == nil {
		s.window = checkpoint.NewWindow()
	}
	s.loaded = true
	s.tel.setWatermark(s.label, s.window.Watermark)
	return nil
}

// readFrom is where the next read starts. Normally it is watermark − overlap, to catch entries written
// late. When the watermark was committed far behind (a backfill or a catch-up), the entries before the
// horizon of that poll had had their time to appear when they were read, so re-reading them would only
// repeat work: the read starts at the horizon (at most at the watermark), and the checkpoint keeps only
// the keys from there on instead of a whole overlap window of keys per page.
func (s *incremental[T]) readFrom() time.Time {
	w := s.window.Watermark
	from := w.Add(-s.cfg.Overlap)
	if h := s.window.Horizon; from.Before(h) {
		from = h
	}
	if from.After(w) {
		from = w
	}
	return from.Truncate(filterPrecision)
}

func (s *incremental[T]) poll(ctx context.Context) error {
	now := s.now().UTC()
	until := now.Add(-s.cfg.SettleDelay).Truncate(filterPrecision)
	var from time.Time
	if s.window.Watermark.IsZero() {
		if s.firstFrom.IsZero() {
			s.firstFrom = now.Add(-s.cfg.InitialLookback).Truncate(filterPrecision)
		}
		from = s.firstFrom
	} else {
		from = s.readFrom()
	}
	if !from.Before(until) {
		return nil
	}
	cursor, skip := from, 0
	for {
		page, more, err := s.read(ctx, cursor, until, s.pageSize, skip)
		if err != nil {
			return err
		}
		if len(page) == 0 && more {
			// Nothing to step from, and ending the window here could pass over what the link promises.
			return errEmptyPageWithNext
		}
		// A short page ends the window only if the server says nothing follows: a tenant may page below $top.
		full := (more || len(page) >= s.pageSize) && len(page) > 0
		if err := s.deliverPage(ctx, page, until, full); err != nil {
			return err
		}
		if !full {
			return nil
		}
		last := s.stamp(&page[len(page)-1]).Truncate(filterPrecision)
		if last.After(cursor) {
			// The next page starts at the last entry's second and reads that second again: the
			// window drops what this page delivered. Stepping over this page's share of it by
			// $skip would trust the tenant to order entries of one LogEnd the same way on every
			// request, and no entry of that second to move away meanwhile (a status change moves
			// LogEnd); either would shift the offset past an entry not read yet.
			cursor, skip = last, 0
		} else {
			// The whole page lies in the cursor's second: step over it by offset, the only way forward.
			skip += len(page)
		}
	}
}

// errRangeNotReady: a windowed source's range has no figures yet; the poll ends there, and the next one
// reads the range again.
var errRangeNotReady = errors.New("range not ready")

// errEmptyPageWithNext: the tenant said more follows but sent nothing; the watermark stays where it is.
var errEmptyPageWithNext = errors.New("the tenant answered an empty page with a next link; the watermark stays, and the window is read again next poll")

// deliverPage delivers one page and commits: the watermark moves to the page's last entry, or to until
// when nothing follows.
func (s *incremental[T]) deliverPage(ctx context.Context, page []T, until time.Time, full bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.deliver(ctx, page, until); err != nil {
		return err
	}
	if full {
		s.window.Advance(s.stamp(&page[len(page)-1]))
	} else {
		// Everything before until has been read: the watermark can move there even on a quiet tenant.
		s.window.Advance(until)
	}
	return s.commit(ctx, until.Add(-s.cfg.Overlap))
}

// deliver hands the page to each sink in turn; a sink gets the entries it wants and has not accepted.
// What a sink accepted is written before the next sink starts, so that a crash while a later sink
// works (the spans sink reads runs, which takes seconds) does not hand the earlier one the page again.
// Callers hold mu.
func (s *incremental[T]) deliver(ctx context.Context, page []T, until time.Time) error {
	for i := range s.sinks {
		sk := &s.sinks[i]
		fresh, keys := s.fresh(page, sk, until)
		if len(fresh) == 0 {
			continue
		}
		if err := sk.deliver(ctx, fresh); err != nil {
			return err
		}
		for j := range fresh {
			if sk.delivered != nil && !sk.delivered(&fresh[j]) {
				continue
			}
			s.window.Add(keys[j], s.stamp(&fresh[j]), sk.bits)
		}
		if i < len(s.sinks)-1 {
			if err := s.store.SaveWindow(ctx, s.key, s.window); err != nil {
				return err
			}
		}
	}
	return nil
}

// fresh drops the entries the sink does not want, accepted before, or repeated within the page, and
// returns the keys of those it keeps (valid until the next call). When it drops none, as on every page of
// a backfill, it returns the page itself rather than a copy: a sink reads what it is given and keeps
// none of it.
func (s *incremental[T]) fresh(page []T, sk *sink[T], until time.Time) ([]T, []checkpoint.Key) {
	if s.inPage == nil {
		s.inPage = make(map[checkpoint.Key]struct{}, len(page))
	} else {
		clear(s.inPage)
	}
	keys := s.keys[:0]
	var out []T // nil until an entry is dropped
	for i := range page {
		keep := sk.want == nil || sk.want(&page[i], until)
		var k checkpoint.Key
		if keep {
			k = sk.key(&page[i])
			_, dup := s.inPage[k]
			keep = !dup && !s.window.Has(k, sk.bits)
		}
		if !keep {
			if out == nil {
				out = make([]T, i, len(page))
				copy(out, page[:i])
			}
			continue
		}
		s.inPage[k] = struct{}{}
		keys = append(keys, k)
		if out != nil {
			out = append(out, page[i])
		}
	}
	s.keys = keys
	if out == nil {
		return page, keys
	}
	return out, keys
}

// commit prunes and writes the window; callers hold mu.
func (s *incremental[T]) commit(ctx context.Context, horizon time.Time) error {
	if horizon.After(s.window.Horizon) {
		s.window.Horizon = horizon
	}
	limit := keepFrom(s.readFrom())
	if s.retain > 0 {
		// Without a watermark (no poll committed yet, or a push-only window) only the retention bounds it.
		if r := s.now().Add(-s.retain); r.Before(limit) || s.window.Watermark.IsZero() {
			limit = r
		}
	}
	s.window.PruneBefore(limit)
	s.tel.setWatermark(s.label, s.window.Watermark)
	return s.store.SaveWindow(ctx, s.key, s.window)
}

// windowed reads an API that answers per time range — the BTP audit log (pages by an opaque handle
// within a range) and Cloud ALM (closed buckets) — range by range. The watermark moves only when a
// whole range is read; within a range, each page's entries are delivered and their keys committed
// without moving it, so that a failure repeats nothing.
type windowed[T any] struct {
	label, key string
	every      time.Duration
	// align is the API's time precision (1s for the audit log, the bucket size for Cloud ALM); settle
	// keeps the newest stretch out (ingestion delay, close delay); overlap re-reads before the watermark.
	align, settle, overlap time.Duration
	// step bounds one range; lookback is where the first poll starts; maxCatchUp, when set, bounds how far
	// back a poll reads after an outage (the API's retention).
	step, lookback, maxCatchUp time.Duration
	// read reads the range [from, to) and hands each page to page, in order.
	read func(ctx context.Context, from, to time.Time, page func([]T) error) error
	// id keys an entry for de-duplication; nil when ranges are delivered whole and never re-read.
	id      func(*T) checkpoint.Key
	stamp   func(*T) time.Time
	deliver func(ctx context.Context, fresh []T) error

	store  *checkpoint.Store
	tel    *telemetry
	logger *zap.Logger
	now    func() time.Time

	window    *checkpoint.Window
	firstFrom time.Time
}

func (s *windowed[T]) name() string { return s.label }

func (s *windowed[T]) interval() time.Duration { return s.every }

// endTerm forgets the window: the next load reads the checkpoint again, or starts afresh without one.
func (s *windowed[T]) endTerm() { s.window = nil }

func (s *windowed[T]) load(ctx context.Context) error {
	w, found, err := s.store.LoadWindow(ctx, s.key)
	if err != nil {
		return err
	}
	if found {
		s.window = w
		s.logger.Info("Resuming from checkpoint", zap.Time("watermark", w.Watermark))
	} else if s.window == nil {
		s.window = checkpoint.NewWindow()
	}
	s.tel.setWatermark(s.label, s.window.Watermark)
	return nil
}

func (s *windowed[T]) readFrom() time.Time {
	return s.window.Watermark.Add(-s.overlap).Truncate(s.align)
}

func (s *windowed[T]) poll(ctx context.Context) error {
	now := s.now().UTC()
	until := now.Add(-s.settle).Truncate(s.align)
	var from time.Time
	if s.window.Watermark.IsZero() {
		if s.firstFrom.IsZero() {
			s.firstFrom = now.Add(-s.lookback).Truncate(s.align)
		}
		from = s.firstFrom
	} else {
		from = s.readFrom()
	}
	if s.maxCatchUp > 0 {
		if oldest := now.Add(-s.maxCatchUp).Truncate(s.align); from.Before(oldest) {
			s.logger.Warn("Ranges older than max_catch_up are skipped; they may have left the API's retention",
				zap.Time("from", from), zap.Time("resuming_at", oldest))
			from = oldest
		}
	}
	for from.Before(until) {
		to := from.Add(s.step)
		if to.After(until) {
			to = until
		}
		err := s.read(ctx, from, to, func(page []T) error {
			fresh := s.fresh(page)
			if len(fresh) == 0 {
				return nil
			}
			if err := s.deliver(ctx, fresh); err != nil {
				return err
			}
			if s.id == nil {
				return nil
			}
			for i := range fresh {
				s.window.Add(s.id(&fresh[i]), s.stamp(&fresh[i]), checkpoint.AllSinks)
			}
			return s.commit(ctx)
		})
		if errors.Is(err, errRangeNotReady) {
			return nil // read again next poll, from here
		}
		if err != nil {
			return err
		}
		s.window.Advance(to)
		if err := s.commit(ctx); err != nil {
			return err
		}
		from = to
	}
	return nil
}

func (s *windowed[T]) fresh(page []T) []T {
	if s.id == nil {
		return page
	}
	out := make([]T, 0, len(page))
	inPage := make(map[checkpoint.Key]struct{}, len(page))
	for i := range page {
		k := s.id(&page[i])
		if _, dup := inPage[k]; dup || s.window.Has(k, checkpoint.AllSinks) {
			continue
		}
		inPage[k] = struct{}{}
		out = append(out, page[i])
	}
	return out
}

func (s *windowed[T]) commit(ctx context.Context) error {
	s.window.PruneBefore(keepFrom(s.readFrom()))
	s.tel.setWatermark(s.label, s.window.Watermark)
	return s.store.SaveWindow(ctx, s.key, s.window)
}
