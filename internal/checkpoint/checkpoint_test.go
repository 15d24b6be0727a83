package checkpoint

import (
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
)

var base = time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)

func TestWindowKeepsKeysOfTheOverlapOnly(t *testing.T) {
	w := NewWindow()
	w.Add("old", base)
	w.Add("edge", base.Add(50*time.Second))
	w.Add("new", base.Add(2*time.Minute))
	assert.Equal(t, base.Add(2*time.Minute), w.Watermark)
	w.Prune(70 * time.Second) // keeps keys at or after watermark − 70s = base+50s
	assert.False(t, w.Has("old"))
	assert.True(t, w.Has("edge"), "the boundary is inclusive, like the ge of the next query")
	assert.True(t, w.Has("new"))
}

func TestWindowNeverMovesBack(t *testing.T) {
	w := NewWindow()
	w.Advance(base)
	w.Add("k", base.Add(-time.Hour))
	w.Advance(base.Add(-time.Minute))
	assert.Equal(t, base, w.Watermark)
	assert.True(t, w.Has("k"))
}

func TestStoreRoundTripsAndReportsCorruption(t *testing.T) {
	client := storagetest.NewInMemoryClient(component.KindReceiver, component.MustNewID("sapcpi"), "")
	s := NewStore(client)
	w := NewWindow()
	found, err := s.Load(t.Context(), "messages", w)
	require.NoError(t, err)
	assert.False(t, found)

	w.Add("guid|COMPLETED|1", base)
	require.NoError(t, s.Save(t.Context(), "messages", w))
	got := NewWindow()
	found, err = s.Load(t.Context(), "messages", got)
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, w.Watermark, got.Watermark)
	assert.True(t, got.Has("guid|COMPLETED|1"))

	require.NoError(t, client.Set(t.Context(), "messages", []byte("{not json")))
	_, err = s.Load(t.Context(), "messages", NewWindow())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "delete it to start over")
}
