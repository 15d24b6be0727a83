// Package checkpoint holds the receiver's progress through its sources, persisted in a storage extension:
// JSON documents for state that is small by nature (inventory, log-file offsets), and the compact,
// segmented Window of de-duplication keys for incremental sources.
package checkpoint

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/extension/xextension/storage"
)

// Store reads and writes checkpoints in a storage client.
type Store struct {
	client storage.Client
}

// NewStore wraps a storage client (storage.NewNopClient() when nothing should persist).
func NewStore(client storage.Client) *Store { return &Store{client: client} }

// Load reads the JSON document under key into v and reports whether it existed.
func (s *Store) Load(ctx context.Context, key string, v any) (bool, error) {
	raw, err := s.client.Get(ctx, key)
	if err != nil {
		return false, fmt.Errorf("reading checkpoint %q: %w", key, err)
	}
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, corrupt(key, err)
	}
	return true, nil
}

// Save writes v as a JSON document under key.
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

func corrupt(key string, err error) error {
	return fmt.Errorf("checkpoint %q is not readable (%w); delete it to start over", key, err)
}

// The binary forms of a window. The head (under the checkpoint's key) names the live segments; each
// segment (under key.<id>) holds the keys of one commit. All integers are varints.
const (
	headMagic    = 'W'
	segmentMagic = 'S'
	formatV1     = 1

	flagWatermark = 1 << 0
	flagHorizon   = 1 << 1
)

func segmentKey(key string, id uint64) string { return key + "." + strconv.FormatUint(id, 10) }

// SaveWindow commits w under key in one storage batch: the segment of keys added since the last commit,
// the deletion of pruned segments, and the head. Only after the batch succeeded are the new keys sealed
// into the window; a failed commit is written again, whole, by the next one.
func (s *Store) SaveWindow(ctx context.Context, key string, w *Window) error {
	ops := make([]*storage.Operation, 0, len(w.dropped)+2)
	seg := w.toWrite()
	if seg != nil {
		ops = append(ops, storage.SetOperation(segmentKey(key, seg.id), encodeSegment(seg)))
	}
	for _, id := range w.dropped {
		ops = append(ops, storage.DeleteOperation(segmentKey(key, id)))
	}
	ops = append(ops, storage.SetOperation(key, encodeHead(w, seg)))
	if err := s.client.Batch(ctx, ops...); err != nil {
		return fmt.Errorf("writing checkpoint %q: %w", key, err)
	}
	w.sealed(seg)
	return nil
}

// LoadWindow reads the window under key and reports whether there was one. It also reads the JSON form
// that earlier versions wrote ({"watermark", "horizon", "seen": {key: ms}}), whose keys it hashes the way
// the sources do; the next commit rewrites it in the binary form.
func (s *Store) LoadWindow(ctx context.Context, key string) (*Window, bool, error) {
	raw, err := s.client.Get(ctx, key)
	if err != nil {
		return nil, false, fmt.Errorf("reading checkpoint %q: %w", key, err)
	}
	if raw == nil {
		return NewWindow(), false, nil
	}
	if len(raw) == 0 {
		return nil, false, corrupt(key, errors.New("the stored value is empty"))
	}
	if raw[0] == '{' {
		w, err := decodeLegacy(raw)
		if err != nil {
			return nil, false, corrupt(key, err)
		}
		return w, true, nil
	}
	w, ids, err := decodeHead(raw)
	if err != nil {
		return nil, false, corrupt(key, err)
	}
	if len(ids) == 0 {
		return w, true, nil
	}
	ops := make([]*storage.Operation, len(ids))
	for i, id := range ids {
		ops[i] = storage.GetOperation(segmentKey(key, id))
	}
	if err := s.client.Batch(ctx, ops...); err != nil {
		return nil, false, fmt.Errorf("reading checkpoint %q: %w", key, err)
	}
	for i, op := range ops {
		if op.Value == nil {
			return nil, false, corrupt(key, fmt.Errorf("segment %d is missing", ids[i]))
		}
		sg, err := decodeSegment(op.Value, ids[i])
		if err != nil {
			return nil, false, corrupt(key, err)
		}
		w.segs = append(w.segs, sg)
		for _, e := range sg.entries {
			// A key written again by a later commit carries the union of its sinks.
			w.index[e.key] = slot{seg: sg.id, sinks: e.sinks | w.index[e.key].sinks}
		}
	}
	return w, true, nil
}

// EncodedSize is the number of bytes the window occupies in storage once committed.
func EncodedSize(w *Window) int {
	n := len(encodeHead(w, nil))
	for _, sg := range w.segs {
		n += len(encodeSegment(sg))
	}
	if w.pending != nil {
		n += len(encodeSegment(w.pending))
	}
	return n
}

// encodeHead writes the head as it is once written (the segment a commit writes, from Window.toWrite)
// is committed: that segment replaces the newest one when it has its id, or follows it.
func encodeHead(w *Window, written *segment) []byte {
	segs := w.segs
	if written != nil {
		if n := len(segs); n > 0 && segs[n-1].id == written.id {
			segs = append(segs[:n-1:n-1], written)
		} else {
			segs = append(segs[:len(segs):len(segs)], written)
		}
	}
	nsegs := len(segs)
	b := make([]byte, 0, 32+nsegs*12)
	b = append(b, headMagic, formatV1)
	var flags byte
	if !w.Watermark.IsZero() {
		flags |= flagWatermark
	}
	if !w.Horizon.IsZero() {
		flags |= flagHorizon
	}
	b = append(b, flags)
	if flags&flagWatermark != 0 {
		b = binary.AppendVarint(b, w.Watermark.UnixMilli())
	}
	if flags&flagHorizon != 0 {
		b = binary.AppendVarint(b, w.Horizon.UnixMilli())
	}
	b = binary.AppendUvarint(b, w.nextID)
	b = binary.AppendUvarint(b, uint64(nsegs))
	appendSeg := func(sg *segment) {
		b = binary.AppendUvarint(b, sg.id)
		b = binary.AppendVarint(b, sg.maxTS)
	}
	for _, sg := range segs {
		appendSeg(sg)
	}
	return b
}

func encodeSegment(sg *segment) []byte {
	b := make([]byte, 0, 8+len(sg.entries)*11)
	b = append(b, segmentMagic, formatV1)
	b = binary.AppendUvarint(b, uint64(len(sg.entries)))
	var prev int64
	for _, e := range sg.entries {
		// Keys arrive in time order, so the timestamp is mostly a 1-byte delta.
		b = binary.AppendVarint(b, e.ts-prev)
		prev = e.ts
		b = binary.LittleEndian.AppendUint64(b, uint64(e.key))
		b = append(b, byte(e.sinks))
	}
	return b
}

var errFormat = errors.New("unknown checkpoint format")

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.fail()
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) uint64() uint64 {
	if len(r.b) < 8 {
		r.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errors.New("checkpoint data is cut short")
	}
	r.b = nil
}

func decodeHead(raw []byte) (*Window, []uint64, error) {
	r := &reader{b: raw}
	if r.byte() != headMagic || r.byte() != formatV1 {
		return nil, nil, errFormat
	}
	w := NewWindow()
	flags := r.byte()
	if flags&flagWatermark != 0 {
		w.Watermark = time.UnixMilli(r.varint()).UTC()
	}
	if flags&flagHorizon != 0 {
		w.Horizon = time.UnixMilli(r.varint()).UTC()
	}
	w.nextID = r.uvarint()
	n := r.uvarint()
	if n > math.MaxInt32 {
		return nil, nil, errFormat
	}
	ids := make([]uint64, 0, n)
	for range n {
		ids = append(ids, r.uvarint())
		r.varint() // maxTS, recomputed from the segment
	}
	return w, ids, r.err
}

func decodeSegment(raw []byte, id uint64) (*segment, error) {
	r := &reader{b: raw}
	if r.byte() != segmentMagic || r.byte() != formatV1 {
		return nil, errFormat
	}
	n := r.uvarint()
	if n > uint64(len(raw)) {
		return nil, errFormat
	}
	sg := &segment{id: id, entries: make([]entry, 0, n), maxTS: math.MinInt64}
	var ts int64
	for range n {
		ts += r.varint()
		e := entry{ts: ts, key: Key(r.uint64()), sinks: Sinks(r.byte())}
		if r.err != nil {
			return nil, r.err
		}
		sg.entries = append(sg.entries, e)
		sg.maxTS = max(sg.maxTS, ts)
	}
	return sg, r.err
}

func decodeLegacy(raw []byte) (*Window, error) {
	var doc struct {
		Watermark time.Time        `json:"watermark"`
		Horizon   time.Time        `json:"horizon"`
		Seen      map[string]int64 `json:"seen"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	w := NewWindow()
	w.Watermark, w.Horizon = doc.Watermark.UTC(), doc.Horizon.UTC()
	for k, ms := range doc.Seen {
		// Written before there were several sinks: the record went everywhere there was to go.
		w.Add(KeyOf(k), time.UnixMilli(ms), AllSinks)
	}
	return w, nil
}
