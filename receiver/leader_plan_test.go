package sapcpireceiver

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSpreadShareAndHandOver(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    spread
		want []string
		take int
	}{
		{"alone, every lease", spread{self: "a", tenants: 6, mine: 6}, nil, 0},
		{"alone at start: takes them all", spread{self: "a", tenants: 6, free: 6}, nil, 6},
		{"three at start: a third each", spread{self: "b", tenants: 7, free: 7, others: map[string]int{"a": 0, "c": 0}}, nil, 2},
		{"a pod joined: half goes to it", spread{self: "a", tenants: 6, mine: 6, others: map[string]int{"b": 0}}, []string{"b", "b", "b"}, 0},
		{"two joined: each gets its share", spread{self: "a", tenants: 6, mine: 6, others: map[string]int{"b": 0, "c": 0}}, []string{"b", "b", "c", "c"}, 0},
		{"over share but the others are full", spread{self: "a", tenants: 6, mine: 3, others: map[string]int{"b": 2, "c": 2}}, nil, 0},
		{"free leases take the room first", spread{self: "a", tenants: 6, mine: 4, others: map[string]int{"b": 1}, free: 1}, []string{"b"}, 0},
		{"even: nothing moves", spread{self: "a", tenants: 10, mine: 4, others: map[string]int{"b": 3, "c": 3}}, nil, 0},
		{"uneven by two: the most loaded gives one", spread{self: "a", tenants: 10, mine: 3, others: map[string]int{"b": 3, "c": 3, "d": 1}}, []string{"d"}, 0},
		{"uneven by two, but another is first among the most loaded", spread{self: "b", tenants: 10, mine: 3, others: map[string]int{"a": 3, "c": 3, "d": 1}}, nil, 0},
		{"uneven by two, but a lease is still free", spread{self: "a", tenants: 10, mine: 3, others: map[string]int{"b": 3, "c": 2, "d": 1}, free: 1}, nil, 0},
		{"a pod left: the more loaded waits", spread{self: "c", tenants: 10, mine: 3, others: map[string]int{"a": 2, "d": 2}, free: 3}, nil, 0},
		{"a pod left: the least loaded take it, to an even spread", spread{self: "a", tenants: 10, mine: 2, others: map[string]int{"c": 3, "d": 2}, free: 3}, nil, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.s.handOver())
			assert.Equal(t, tc.take, tc.s.allotment())
		})
	}
}

// cluster models pods that each apply the rules to a consistent view once per round, and take free
// leases in a random order, as pods polling at the same period do.
type cluster struct {
	t      *testing.T
	rng    *rand.Rand
	holder []string         // by lease: the pod that holds it, "" when free
	hint   []string         // by lease: the pod a hand-over named
	held   map[string][]int // by pod: its leases, oldest first
	moves  int              // leases handed over by a live pod
}

func newCluster(t *testing.T, n int, seed uint64) *cluster {
	return &cluster{t: t, rng: rand.New(rand.NewPCG(seed, 1)), holder: make([]string, n), hint: make([]string, n), held: map[string][]int{}}
}

func (c *cluster) view(p string) spread {
	s := spread{self: p, tenants: len(c.holder), mine: len(c.held[p]), others: map[string]int{}}
	for q, ls := range c.held {
		if q != p {
			s.others[q] = len(ls)
		}
	}
	for _, h := range c.holder {
		if h == "" {
			s.free++
		}
	}
	return s
}

func (c *cluster) pods() []string {
	ps := make([]string, 0, len(c.held))
	for p := range c.held {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

func (c *cluster) join(p string) { c.held[p] = []int{} }

// leave removes a pod; its leases are free and name nobody (released on shutdown, or expired).
func (c *cluster) leave(p string) {
	for _, l := range c.held[p] {
		c.holder[l] = ""
	}
	delete(c.held, p)
}

func (c *cluster) release(p string, l int, to string) {
	c.holder[l], c.hint[l] = "", to
	c.held[p] = slices.DeleteFunc(c.held[p], func(x int) bool { return x == l })
	c.moves++
}

// round lets every pod hand over what its view says, then the free leases be taken; it reports whether
// anything moved.
func (c *cluster) round() bool {
	changed := false
	views := map[string]spread{}
	for _, p := range c.pods() {
		views[p] = c.view(p)
	}
	for _, p := range c.pods() {
		for _, to := range views[p].handOver() {
			// The newest lease goes: the pollers that have run longest keep running.
			ls := c.held[p]
			c.release(p, ls[len(ls)-1], to)
			changed = true
		}
	}
	free := []int{}
	for l, h := range c.holder {
		if h == "" {
			free = append(free, l)
		}
	}
	allot := map[string]int{}
	for _, p := range c.pods() {
		allot[p] = c.view(p).allotment()
	}
	c.rng.Shuffle(len(free), func(i, j int) { free[i], free[j] = free[j], free[i] })
	for _, l := range free {
		var takers []string
		for _, p := range c.pods() {
			if allot[p] > 0 && (c.hint[l] == "" || c.hint[l] == p || c.held[c.hint[l]] == nil) {
				takers = append(takers, p)
			}
		}
		c.hint[l] = ""
		if len(takers) == 0 {
			continue
		}
		p := takers[c.rng.IntN(len(takers))]
		allot[p]--
		c.holder[l] = p
		c.held[p] = append(c.held[p], l)
		changed = true
	}
	return changed
}

func (c *cluster) settle(step string) {
	c.t.Helper()
	for range 100 {
		if !c.round() {
			break
		}
	}
	require.False(c.t, c.round(), "%s: settles", step)
	share := c.view(c.pods()[0]).share()
	lo, hi := len(c.holder), 0
	for _, p := range c.pods() {
		n := len(c.held[p])
		lo, hi = min(lo, n), max(hi, n)
		assert.LessOrEqual(c.t, n, share, "%s: %s holds at most its share", step, p)
	}
	assert.LessOrEqual(c.t, hi-lo, 1, "%s: pods differ by one lease at most", step)
	for l, h := range c.holder {
		assert.NotEmpty(c.t, h, "%s: lease %d is held", step, l)
	}
}

// Pods join and leave one at a time; after each step every lease is held, every pod holds ⌊N/P⌋ or
// ⌈N/P⌉, and only what had to move moved: a joining pod's leases, and a leaving pod's.
func TestLeadershipSpreadsEvenlyAndMovesOnlyWhatMustMove(t *testing.T) {
	for _, n := range []int{1, 2, 5, 6, 10, 50} {
		for seed := range uint64(5) {
			t.Run(fmt.Sprintf("tenants=%d/seed=%d", n, seed), func(t *testing.T) {
				c := newCluster(t, n, seed)
				c.join("p1")
				c.settle("p1 alone")
				assert.Len(t, c.held["p1"], n, "a pod alone leads every tenant")
				for _, p := range []string{"p2", "p3", "p4"} {
					c.moves = 0
					c.join(p)
					c.settle("join " + p)
					assert.Equal(t, len(c.held[p]), c.moves, "join %s: every move went to the new pod", p)
					assert.Equal(t, n/len(c.held), c.moves, "join %s: it got ⌊N/P⌋, the fewest that even the spread", p)
				}
				for _, p := range []string{"p2", "p1"} {
					c.moves = 0
					c.leave(p)
					c.settle("leave " + p)
					assert.Zero(t, c.moves, "leave %s: its leases were taken, nothing else moved", p)
				}
			})
		}
	}
}
