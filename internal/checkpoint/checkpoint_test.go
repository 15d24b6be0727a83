package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
)

var base = time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)

const logs Sinks = 1

func memClient() storage.Client {
	return storagetest.NewInMemoryClient(component.KindReceiver, component.MustNewID("sapcpi"), "")
}

func TestWindowPrunesWholeSegmentsOnlyOnceAllTheirKeysAreOld(t *testing.T) {
	s := NewStore(memClient())
	w := NewWindow()
	w.Add(KeyOf("old"), base, logs)
	w.Add(KeyOf("edge"), base.Add(50*time.Second), logs)
	for i := range mergeLimit {
		w.Add(KeyOf("filler", fmt.Sprint(i)), base.Add(time.Duration(i)*time.Millisecond), logs)
	}
	require.NoError(t, s.SaveWindow(t.Context(), "k", w)) // one segment: old, edge and the filler
	w.Add(KeyOf("new"), base.Add(2*time.Minute), logs)
	require.NoError(t, s.SaveWindow(t.Context(), "k", w)) // the first is full: a segment of its own

	w.PruneBefore(base.Add(50 * time.Second))
	assert.True(t, w.Has(KeyOf("old"), logs), "old shares a segment with edge, which the next read can return")
	assert.True(t, w.Has(KeyOf("edge"), logs), "the boundary is inclusive, like the ge of the next query")
	w.PruneBefore(base.Add(51 * time.Second))
	assert.False(t, w.Has(KeyOf("old"), logs))
	assert.False(t, w.Has(KeyOf("edge"), logs))
	assert.True(t, w.Has(KeyOf("new"), logs))
	assert.Equal(t, 1, w.Len())
}

// Many commits of a key or two (a push of one event a request) join the newest segment until it holds
// mergeLimit keys: the head, which every commit writes, stays small, and every key survives a reload and
// is pruned when old.
func TestSmallCommitsShareSegments(t *testing.T) {
	rec := &recordingClient{Client: memClient()}
	s := NewStore(rec)
	w := NewWindow()
	const commits = 5000
	for i := range commits {
		w.Add(KeyOf(fmt.Sprint(i)), base.Add(time.Duration(i)*time.Second), logs)
		require.NoError(t, s.SaveWindow(t.Context(), "push", w))
	}
	assert.LessOrEqual(t, len(w.segs), commits/mergeLimit+1)
	rec.written = 0
	w.Add(KeyOf("one more"), base.Add(commits*time.Second), logs)
	require.NoError(t, s.SaveWindow(t.Context(), "push", w))
	assert.Less(t, rec.written, 12*mergeLimit+200, "a small commit rewrites at most one segment and the head")

	got, _, err := s.LoadWindow(t.Context(), "push")
	require.NoError(t, err)
	assert.Equal(t, commits+1, got.Len())
	for i := range commits {
		require.True(t, got.Has(KeyOf(fmt.Sprint(i)), logs), "key %d", i)
	}
	got.PruneBefore(base.Add(commits / 2 * time.Second))
	assert.InDelta(t, commits/2, got.Len(), mergeLimit, "pruned by whole segments")
	assert.True(t, got.Has(KeyOf("one more"), logs))
	require.NoError(t, s.SaveWindow(t.Context(), "push", got))
	again, _, err := s.LoadWindow(t.Context(), "push")
	require.NoError(t, err)
	assert.Equal(t, got.Len(), again.Len())
}

func TestWindowNeverMovesBack(t *testing.T) {
	w := NewWindow()
	w.Advance(base)
	w.Add(KeyOf("k"), base.Add(-time.Hour), logs)
	w.Advance(base.Add(-time.Minute))
	assert.Equal(t, base, w.Watermark)
	assert.True(t, w.Has(KeyOf("k"), logs), "adding a key does not move the watermark")
}

func TestWindowTracksEachSinkOnItsOwn(t *testing.T) {
	const traces Sinks = 2
	w := NewWindow()
	k := StateKey("AGuid", "FAILED", base)
	w.Add(k, base, logs)
	assert.True(t, w.Has(k, logs))
	assert.False(t, w.Has(k, traces))
	assert.False(t, w.Has(k, logs|traces))
	w.Add(k, base, traces)
	assert.True(t, w.Has(k, logs|traces), "sinks accumulate")
}

func TestStateKeyIsTheHashOfTheStringEarlierCheckpointsStored(t *testing.T) {
	logEnd := time.UnixMilli(1780000000123)
	assert.Equal(t, KeyOf("AGuid|COMPLETED|1780000000123"), StateKey("AGuid", "COMPLETED", logEnd))
	assert.Equal(t, KeyOf("a", "b"), KeyOf("a|b"))
	assert.NotEqual(t, StateKey("AGuid", "COMPLETED", logEnd), StateKey("AGuid", "FAILED", logEnd))
}

func TestWindowRoundTripsThroughStorageWithItsSinksAndBounds(t *testing.T) {
	const traces Sinks = 2
	client := memClient()
	s := NewStore(client)
	w, found, err := s.LoadWindow(t.Context(), "messages")
	require.NoError(t, err)
	assert.False(t, found)

	w.Add(StateKey("a", "COMPLETED", base), base, logs)
	w.Add(StateKey("b", "FAILED", base.Add(time.Second)), base.Add(time.Second), logs|traces)
	w.Advance(base.Add(time.Second))
	w.Horizon = base.Add(-time.Minute)
	require.NoError(t, s.SaveWindow(t.Context(), "messages", w))
	w.Add(StateKey("a", "COMPLETED", base), base, traces) // a later commit adds a sink to an old key
	require.NoError(t, s.SaveWindow(t.Context(), "messages", w))

	got, found, err := s.LoadWindow(t.Context(), "messages")
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, w.Watermark, got.Watermark)
	assert.Equal(t, w.Horizon, got.Horizon)
	assert.True(t, got.Has(StateKey("a", "COMPLETED", base), logs|traces))
	assert.True(t, got.Has(StateKey("b", "FAILED", base.Add(time.Second)), logs|traces))
	assert.Equal(t, 2, got.Len())

	// New keys after a load go to a new segment, not over a loaded one.
	got.Add(KeyOf("c"), base.Add(2*time.Second), logs)
	require.NoError(t, s.SaveWindow(t.Context(), "messages", got))
	again, _, err := s.LoadWindow(t.Context(), "messages")
	require.NoError(t, err)
	assert.Equal(t, 3, again.Len())
}

func TestSaveWindowWritesOnlyTheNewSegmentAndDeletesPrunedOnes(t *testing.T) {
	rec := &recordingClient{Client: memClient()}
	s := NewStore(rec)
	w := NewWindow()
	for i := range 1000 {
		w.Add(KeyOf(fmt.Sprint(i)), base.Add(time.Duration(i)*time.Millisecond), logs)
	}
	require.NoError(t, s.SaveWindow(t.Context(), "messages", w))
	w.Add(KeyOf("one more"), base.Add(time.Minute), logs)
	rec.written = 0
	require.NoError(t, s.SaveWindow(t.Context(), "messages", w))
	assert.Less(t, rec.written, 100, "a commit of one key writes a few dozen bytes, not the window")

	w.PruneBefore(base.Add(time.Second))
	rec.deleted = nil
	require.NoError(t, s.SaveWindow(t.Context(), "messages", w))
	assert.Equal(t, []string{"messages.1"}, rec.deleted)
	got, _, err := s.LoadWindow(t.Context(), "messages")
	require.NoError(t, err)
	assert.Equal(t, 1, got.Len())
}

func TestAFailedCommitIsWrittenWholeByTheNextOne(t *testing.T) {
	rec := &recordingClient{Client: memClient()}
	s := NewStore(rec)
	w := NewWindow()
	w.Add(KeyOf("a"), base, logs)
	rec.fail = true
	require.Error(t, s.SaveWindow(t.Context(), "messages", w))
	rec.fail = false
	w.Add(KeyOf("b"), base, logs)
	require.NoError(t, s.SaveWindow(t.Context(), "messages", w))
	got, _, err := s.LoadWindow(t.Context(), "messages")
	require.NoError(t, err)
	assert.True(t, got.Has(KeyOf("a"), logs))
	assert.True(t, got.Has(KeyOf("b"), logs))
}

// While storage refuses every commit, the keys delivered meanwhile gather in the pending segment. Those
// the next read can no longer return are pruned one by one, so memory and the commit that finally
// succeeds stay the size of the overlap, not of the outage.
func TestKeysDeliveredWhileCommitsFailArePrunedWhenOld(t *testing.T) {
	rec := &recordingClient{Client: memClient()}
	s := NewStore(rec)
	w := NewWindow()
	rec.fail = true
	const overlap = 3 * time.Minute
	for i := range 3600 { // an hour, one key a second
		at := base.Add(time.Duration(i) * time.Second)
		w.Add(KeyOf(fmt.Sprint(i)), at, logs)
		w.PruneBefore(at.Add(-overlap))
		require.Error(t, s.SaveWindow(t.Context(), "messages", w))
	}
	assert.Equal(t, 181, w.Len(), "the keys of the last three minutes, its edge included")
	assert.False(t, w.Has(KeyOf("0"), logs))
	assert.True(t, w.Has(KeyOf("3599"), logs))
	assert.True(t, w.Has(KeyOf("3419"), logs))

	rec.fail = false
	require.NoError(t, s.SaveWindow(t.Context(), "messages", w))
	got, _, err := s.LoadWindow(t.Context(), "messages")
	require.NoError(t, err)
	assert.Equal(t, 181, got.Len())
	assert.True(t, got.Has(KeyOf("3599"), logs))
}

func TestLegacyJSONCheckpointsLoadIntoTheSameKeys(t *testing.T) {
	client := memClient()
	legacy := `{"watermark":"2026-06-01T10:00:00Z","seen":{"AGuid|COMPLETED|1780308000000":1780308000000,"chg-1":1780308000000},"horizon":"2026-06-01T09:58:00Z"}`
	require.NoError(t, client.Set(t.Context(), "messages", []byte(legacy)))
	s := NewStore(client)
	w, found, err := s.LoadWindow(t.Context(), "messages")
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, base, w.Watermark)
	assert.Equal(t, base.Add(-2*time.Minute), w.Horizon)
	assert.True(t, w.Has(StateKey("AGuid", "COMPLETED", time.UnixMilli(1780308000000)), AllSinks))
	assert.True(t, w.Has(KeyOf("chg-1"), logs))

	require.NoError(t, s.SaveWindow(t.Context(), "messages", w))
	raw, err := client.Get(t.Context(), "messages")
	require.NoError(t, err)
	assert.Equal(t, byte(headMagic), raw[0], "rewritten in the binary form")
}

func TestCorruptCheckpointsSayHowToStartOver(t *testing.T) {
	for name, raw := range map[string][]byte{
		"json":         []byte("{not json"),
		"binary":       {headMagic, formatV1, flagWatermark},
		"unknown":      []byte("Z1"),
		"empty":        {},
		"segment gone": encodeHead(&Window{nextID: 3, segs: []*segment{{id: 2}}}, nil),
	} {
		t.Run(name, func(t *testing.T) {
			client := memClient()
			require.NoError(t, client.Set(t.Context(), "messages", raw))
			_, _, err := NewStore(client).LoadWindow(t.Context(), "messages")
			require.Error(t, err)
			assert.Contains(t, err.Error(), "delete it to start over")
		})
	}
}

func TestJSONDocumentsRoundTrip(t *testing.T) {
	s := NewStore(memClient())
	type doc struct{ N int }
	found, err := s.Load(t.Context(), "inventory/jms", &doc{})
	require.NoError(t, err)
	assert.False(t, found)
	require.NoError(t, s.Save(t.Context(), "inventory/jms", doc{N: 3}))
	var got doc
	found, err = s.Load(t.Context(), "inventory/jms", &got)
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, 3, got.N)
}

// The checkpoint of a busy tenant: 100 MPL states per second over a 2-minute overlap and 1 minute of
// settle delay and poll interval, as the message source keeps it.
func TestWindowSizeAtOneHundredStatesPerSecond(t *testing.T) {
	w := NewWindow()
	const perSecond, seconds = 100, 180
	for i := range perSecond * seconds {
		ts := base.Add(time.Duration(i) * time.Second / perSecond)
		w.Add(StateKey(fmt.Sprintf("AG%026d", i), "COMPLETED", ts), ts, logs)
		if i%1000 == 999 {
			w.sealed(w.toWrite())
		}
	}
	size := EncodedSize(w)
	t.Logf("%d keys: %d bytes (%.1f bytes per key)", w.Len(), size, float64(size)/float64(w.Len()))
	assert.Less(t, size, 11*w.Len(), "about ten bytes per key")
}

type recordingClient struct {
	storage.Client
	written int
	deleted []string
	fail    bool
}

func (r *recordingClient) Batch(ctx context.Context, ops ...*storage.Operation) error {
	if r.fail {
		return errors.New("disk full")
	}
	for _, op := range ops {
		switch op.Type {
		case storage.Set:
			r.written += len(op.Value)
		case storage.Delete:
			r.deleted = append(r.deleted, op.Key)
		}
	}
	return r.Client.Batch(ctx, ops...)
}
