package fakecpi

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStatesSinceHandsOutEachStateOnceAsThePullAPIServesIt(t *testing.T) {
	start := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	clock := start
	sim := New(Options{Seed: 3, Rate: 20, Start: start, TimeScale: time.Second, LateBy: 2 * time.Second, Now: func() time.Time { return clock }})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()

	type key struct {
		guid, status string
		end          time.Time
	}
	seen := map[key]int{}
	var cursor time.Time
	for range 40 {
		clock = clock.Add(250 * time.Millisecond)
		states, until := sim.StatesSince(cursor, srv.URL)
		assert.Equal(t, clock, until)
		for _, st := range states {
			assert.True(t, st.VisibleAt.After(cursor) && !st.VisibleAt.After(until), "%s visible at %s, window (%s, %s]", st.MessageGuid, st.VisibleAt, cursor, until)
			seen[key{st.MessageGuid, st.Status, st.LogEnd}]++
		}
		cursor = until
	}
	want := 0
	for _, tr := range sim.Truth() {
		for _, st := range tr.States {
			if n, ok := seen[key{tr.MessageGUID, st.Status, st.LogEnd}]; ok {
				want++
				assert.Equal(t, 1, n, "each state once")
			}
		}
	}
	require.NotZero(t, want)
	assert.Equal(t, want, len(seen))
	again, _ := sim.StatesSince(cursor, srv.URL)
	assert.Empty(t, again, "nothing new without time passing")

	// The entity of a message's current state is the entry the pull API serves for it.
	all, _ := sim.StatesSince(time.Time{}, srv.URL)
	last := map[string]PushState{}
	for _, st := range all {
		last[st.MessageGuid] = st
	}
	_, body := get(t, srv, sim, "MessageProcessingLogs", url.Values{"$expand": {"CustomHeaderProperties"}, "$top": {"1000"}})
	results := body["d"].(map[string]any)["results"].([]any)
	require.NotEmpty(t, results)
	for _, r := range results {
		entry := r.(map[string]any)
		st, ok := last[entry["MessageGuid"].(string)]
		require.True(t, ok)
		var pushed map[string]any
		require.NoError(t, json.Unmarshal(st.Entity, &pushed))
		assert.Equal(t, entry, pushed)
	}
}
