package checkpoint

import (
	"strconv"
	"time"

	"github.com/cespare/xxhash/v2"
)

// Key identifies one delivered record: a 64-bit hash of what makes it unique (for an MPL state:
// MessageGuid, Status and LogEnd). Eight bytes instead of a 50-byte string keep the checkpoint small; at
// the window sizes the receiver keeps (tens of thousands of keys) a collision is a 1-in-10^14 event.
type Key uint64

// KeyOf hashes the parts of a record's identity, joined by "|" (so KeyOf("a", "b") is the hash of "a|b").
func KeyOf(parts ...string) Key {
	var d xxhash.Digest
	d.Reset()
	for i, p := range parts {
		if i > 0 {
			_, _ = d.WriteString("|")
		}
		_, _ = d.WriteString(p)
	}
	return Key(d.Sum64())
}

// StateKey is the key of one MPL state: MessageGuid, Status and LogEnd in Unix milliseconds. It is the
// hash of the string "guid|status|ms" that earlier checkpoints stored, so they load into the same keys.
func StateKey(guid, status string, logEnd time.Time) Key {
	// One call over the joined bytes on the stack: the streaming digest copies each part into its own
	// buffer first, and this runs for every record of every page.
	var buf [128]byte
	b := append(buf[:0], guid...)
	b = append(b, '|')
	b = append(b, status...)
	b = append(b, '|')
	b = strconv.AppendInt(b, logEnd.UnixMilli(), 10)
	return Key(xxhash.Sum64(b))
}

// Sinks is the set of consumers (one bit each) that accepted a record. A source that feeds two pipelines
// (message logs and message traces) commits each one's progress separately, so that a refusal by one
// never makes the other receive a record twice.
type Sinks uint8

// AllSinks marks a record as accepted everywhere (keys of checkpoints written before sinks existed).
const AllSinks Sinks = 0xff

// Window is the progress through a time-ordered source: everything up to Watermark has been delivered,
// and the window holds the keys of the records delivered near it, so that reading that stretch again
// (to catch records written late) repeats nothing.
//
// Keys are kept in segments, one per commit, in the order they were delivered. A commit writes only the
// segment of new keys and a small head (see Store.SaveWindow), and pruning drops whole segments once all
// their keys are older than what the next read can return: the cost of a commit grows with the keys it
// adds, not with the window.
type Window struct {
	// Watermark is the newest timestamp delivered; zero before the first delivery.
	Watermark time.Time
	// Horizon is until − overlap of the poll that moved the watermark last: records older than it had
	// had their time to appear when they were read, so a later read need not start before it.
	Horizon time.Time

	index   map[Key]slot
	segs    []*segment // committed, oldest first
	pending *segment   // added since the last commit; nil when none
	dropped []uint64   // ids of segments pruned since the last commit
	nextID  uint64
}

type slot struct {
	seg   uint64
	sinks Sinks
}

type entry struct {
	key   Key
	ts    int64 // Unix milliseconds
	sinks Sinks
}

type segment struct {
	id      uint64
	maxTS   int64
	entries []entry
}

// NewWindow returns an empty window.
func NewWindow() *Window { return &Window{index: map[Key]slot{}, nextID: 1} }

// Has reports whether every sink in s accepted the record with key k.
func (w *Window) Has(k Key, s Sinks) bool {
	sl, ok := w.index[k]
	return ok && sl.sinks&s == s
}

// Add records that the sinks s accepted the record with key k and timestamp ts. It does not move the
// watermark: a source moves it (Advance) once everything before the new watermark is delivered.
func (w *Window) Add(k Key, ts time.Time, s Sinks) {
	if w.pending == nil {
		w.pending = &segment{id: w.nextID}
		w.nextID++
	}
	if sl, ok := w.index[k]; ok {
		// The key may sit in an older, committed segment: its combined sinks are written again with
		// the new segment, and the newer copy is the one that counts.
		s |= sl.sinks
	}
	ms := ts.UnixMilli()
	w.pending.entries = append(w.pending.entries, entry{key: k, ts: ms, sinks: s})
	w.pending.maxTS = max(w.pending.maxTS, ms)
	w.index[k] = slot{seg: w.pending.id, sinks: s}
}

// Advance moves the watermark to ts (never back).
func (w *Window) Advance(ts time.Time) {
	if ts.After(w.Watermark) {
		w.Watermark = ts.UTC()
	}
}

// PruneBefore forgets keys with timestamps before limit: the next read cannot return them. Committed
// keys go in whole segments, so a segment with one key at or after limit keeps the rest too, which only
// costs bytes. The keys not yet committed go one by one: while storage refuses commits they all gather
// in the pending segment, whose newest key is always recent, and it must not grow with the outage.
func (w *Window) PruneBefore(limit time.Time) {
	ms := limit.UnixMilli()
	kept := w.segs[:0]
	for _, sg := range w.segs {
		if sg.maxTS >= ms {
			kept = append(kept, sg)
			continue
		}
		w.forget(sg)
		w.dropped = append(w.dropped, sg.id)
	}
	clear(w.segs[len(kept):])
	w.segs = kept
	if p := w.pending; p != nil {
		w.prunePending(ms)
	}
}

// prunePending drops the pending keys older than ms (never committed: nothing to delete in storage).
func (w *Window) prunePending(ms int64) {
	p := w.pending
	if p.maxTS < ms {
		w.forget(p)
		w.pending = nil
		return
	}
	kept := p.entries[:0]
	for _, e := range p.entries {
		if e.ts >= ms {
			kept = append(kept, e)
			continue
		}
		if sl, ok := w.index[e.key]; ok && sl.seg == p.id {
			delete(w.index, e.key)
		}
	}
	clear(p.entries[len(kept):])
	p.entries = kept
}

func (w *Window) forget(sg *segment) {
	for _, e := range sg.entries {
		if sl, ok := w.index[e.key]; ok && sl.seg == sg.id {
			delete(w.index, e.key)
		}
	}
}

// Len is the number of keys the window holds.
func (w *Window) Len() int { return len(w.index) }

// mergeLimit: the keys of a small commit join the newest segment while the two together stay this
// small, so that many small commits (a push of one event a request) do not make as many segments, each
// an entry of the head that every commit writes.
const mergeLimit = 512

// toWrite is the segment a commit writes for the pending keys: the pending segment itself, or the newest
// committed one with the pending keys appended (same id, written over). Nil when nothing is pending.
func (w *Window) toWrite() *segment {
	p := w.pending
	if p == nil {
		return nil
	}
	if n := len(w.segs); n > 0 {
		last := w.segs[n-1]
		if len(last.entries)+len(p.entries) <= mergeLimit {
			// A new array: the committed segment stays as it was if the write fails.
			entries := append(last.entries[:len(last.entries):len(last.entries)], p.entries...)
			return &segment{id: last.id, maxTS: max(last.maxTS, p.maxTS), entries: entries}
		}
	}
	return p
}

// sealed marks the written segment committed; the store calls it after a successful write.
func (w *Window) sealed(written *segment) {
	if p := w.pending; p != nil {
		if written.id == p.id {
			w.segs = append(w.segs, p)
		} else {
			w.segs[len(w.segs)-1] = written
			for _, e := range p.entries {
				if sl := w.index[e.key]; sl.seg == p.id {
					w.index[e.key] = slot{seg: written.id, sinks: sl.sinks}
				}
			}
		}
		w.pending = nil
	}
	w.dropped = w.dropped[:0]
}
