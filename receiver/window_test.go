package sapcpireceiver

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sapcpi-otel/sapcpireceiver/internal/checkpoint"
)

type stamped struct {
	id string
	at time.Time
}

func testIncremental() *incremental[stamped] {
	return &incremental[stamped]{window: checkpoint.NewWindow(), stamp: func(e *stamped) time.Time { return e.at }}
}

var stampedSink = sink[stamped]{bits: 1, key: func(e *stamped) checkpoint.Key { return checkpoint.KeyOf(e.id) }}

// A backfill page repeats nothing, so its sink gets the page as it is, with every key computed once.
func TestFreshPassesAPageWithoutRepeatsAsItIs(t *testing.T) {
	s := testIncremental()
	t0 := time.Unix(1_700_000_000, 0)
	page := []stamped{{"a", t0}, {"b", t0}, {"c", t0.Add(time.Second)}}
	fresh, keys := s.fresh(page, &stampedSink, t0.Add(time.Hour))
	require.Equal(t, &page[0], &fresh[0], "no copy")
	require.Len(t, fresh, 3)
	require.Equal(t, []checkpoint.Key{checkpoint.KeyOf("a"), checkpoint.KeyOf("b"), checkpoint.KeyOf("c")}, keys)
}

// What was accepted before, and what the page repeats, is dropped into a copy; the page stays as it was.
func TestFreshDropsRepeatsIntoACopyAndLeavesThePage(t *testing.T) {
	s := testIncremental()
	t0 := time.Unix(1_700_000_000, 0)
	s.window.Add(checkpoint.KeyOf("b"), t0, stampedSink.bits)
	page := []stamped{{"a", t0}, {"b", t0}, {"a", t0}, {"c", t0}}
	before := append([]stamped(nil), page...)
	fresh, keys := s.fresh(page, &stampedSink, t0.Add(time.Hour))
	require.Equal(t, []stamped{{"a", t0}, {"c", t0}}, fresh)
	require.Equal(t, []checkpoint.Key{checkpoint.KeyOf("a"), checkpoint.KeyOf("c")}, keys)
	require.Equal(t, before, page)

	// The scratch is reused: the next page is judged on its own.
	fresh, _ = s.fresh([]stamped{{"a", t0}}, &stampedSink, t0.Add(time.Hour))
	require.Len(t, fresh, 1)
}

func TestFreshAsksTheSinkWhatItWants(t *testing.T) {
	s := testIncremental()
	t0 := time.Unix(1_700_000_000, 0)
	picky := stampedSink
	picky.want = func(e *stamped, _ time.Time) bool { return e.id != "skip" }
	fresh, keys := s.fresh([]stamped{{"skip", t0}, {"x", t0}}, &picky, t0)
	require.Equal(t, []stamped{{"x", t0}}, fresh)
	require.Len(t, keys, 1)
}
