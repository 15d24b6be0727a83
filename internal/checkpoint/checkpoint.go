// Package checkpoint holds the receiver's progress through incremental sources: a watermark with the
// de-duplication keys of its overlap window, persisted as JSON in a storage extension.
package checkpoint

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/extension/xextension/storage"
)

// Store reads and writes JSON documents in a storage client.
type Store struct {
	client storage.Client
}

// NewStore wraps a storage client (storage.NewNopClient() when nothing should persist).
func NewStore(client storage.Client) *Store { return &Store{client: client} }

// Load reads key into v and reports whether it existed.
func (s *Store) Load(ctx context.Context, key string, v any) (bool, error) {
	raw, err := s.client.Get(ctx, key)
	if err != nil {
		return false, fmt.Errorf("reading checkpoint %q: %w", key, err)
	}
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("checkpoint %q is not readable (%w); delete it to start over", key, err)
	}
	return true, nil
}

// Save writes v under key.
func (s *Store) Save(ctx context.Context, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding checkpoint %q: %w", key, err)
	}
	if err := s.client.Set(ctx, key, raw); err != nil {
		return fmt.Errorf("writing checkpoint %q: %w", key, err)
	}
	return nil
}

// Window is the progress through a time-ordered source: everything up to Watermark has been delivered,
// and Seen holds the keys delivered within the overlap window before it, so that re-reading that window
// (to catch entries written late) repeats nothing.
type Window struct {
	// Watermark is the newest timestamp delivered; zero before the first delivery.
	Watermark time.Time `json:"watermark"`
	// Seen maps a record key to its timestamp in Unix milliseconds.
	Seen map[string]int64 `json:"seen"`
	// Horizon is until − overlap of the poll that moved the watermark last: entries older than it had
	// had their time to appear when they were read, so a later read need not start before it.
	Horizon time.Time `json:"horizon,omitempty"`
}

// NewWindow returns an empty window.
func NewWindow() *Window { return &Window{Seen: map[string]int64{}} }

// Has reports whether key was delivered.
func (w *Window) Has(key string) bool {
	_, ok := w.Seen[key]
	return ok
}

// Add records a delivered key with its timestamp and moves the watermark forward to it.
func (w *Window) Add(key string, ts time.Time) {
	if w.Seen == nil {
		w.Seen = map[string]int64{}
	}
	w.Seen[key] = ts.UnixMilli()
	if ts.After(w.Watermark) {
		w.Watermark = ts.UTC()
	}
}

// Remember records a delivered key without moving the watermark: for sources whose pages are not in
// time order, where the watermark may only move once a whole time window is read.
func (w *Window) Remember(key string, ts time.Time) {
	if w.Seen == nil {
		w.Seen = map[string]int64{}
	}
	w.Seen[key] = ts.UnixMilli()
}

// Advance moves the watermark to ts (never back): used when a page held nothing new up to ts.
func (w *Window) Advance(ts time.Time) {
	if ts.After(w.Watermark) {
		w.Watermark = ts.UTC()
	}
}

// Prune forgets keys older than the overlap window; they can no longer be read again.
func (w *Window) Prune(overlap time.Duration) { w.PruneBefore(w.Watermark.Add(-overlap)) }

// PruneBefore forgets keys with timestamps before limit: the next read starts at or after it.
func (w *Window) PruneBefore(limit time.Time) {
	w.prune(limit.UnixMilli())
}

func (w *Window) prune(limit int64) {
	for k, ts := range w.Seen {
		if ts < limit {
			delete(w.Seen, k)
		}
	}
}
