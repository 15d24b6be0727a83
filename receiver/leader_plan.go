package sapcpireceiver

import "sort"

// spread is one pod's view of how the leases of the tenants it runs are spread over the pods that run
// the same tenants: how many it holds, how many each other live pod holds, how many nobody holds.
//
// The rules that follow from it keep leadership at about ⌈N/P⌉ per pod while moving as few tenants as
// possible, because a move stops a tenant's pollers for a moment and re-reads its overlap:
//   - free leases are spread over the pods below their share, the least loaded first, so that after a
//     pod left its leases go where they even the spread out (and all at once, not one per round);
//   - a pod above its share (a pod joined, or it took leases while it was alone) hands the excess over,
//     but no more than the pods below their share can take;
//   - when every lease is held and two pods differ by two or more, the most loaded one (the first by
//     name among equals) hands one over to the least loaded, one lease per round.
//
// A hand-over names the pod it is meant for, and the other pods leave that lease alone for a while, so
// that it goes where it evens the spread out instead of to whichever pod polls first. A pod that leaves
// releases its leases without naming anyone (or they expire), and the pods below their share take
// them: nobody else gives anything up.
type spread struct {
	self string
	// tenants is N, the number of leader-elected tenants every pod of the group runs.
	tenants int
	// mine is the number of leases this pod holds (or is acquiring).
	mine int
	// others maps every other live pod of the group to the number of the group's leases it holds.
	others map[string]int
	// free is the number of the group's leases that no live pod holds.
	free int
}

// pods is P, the live pods of the group, this one included.
func (s spread) pods() int { return len(s.others) + 1 }

// share is ⌈N/P⌉, the most leases a pod should hold.
func (s spread) share() int { return (s.tenants + s.pods() - 1) / s.pods() }

// allotment is how many of the free leases this pod should take: every pod works the same sum, handing
// each free lease in turn to the least loaded pod below its share (the first by name among equals).
func (s spread) allotment() int {
	share := s.share()
	ids := make([]string, 0, s.pods())
	load := map[string]int{s.self: s.mine}
	ids = append(ids, s.self)
	for id, n := range s.others {
		ids = append(ids, id)
		load[id] = n
	}
	sort.Strings(ids)
	got := 0
	for range s.free {
		best := ""
		for _, id := range ids {
			if load[id] < share && (best == "" || load[id] < load[best]) {
				best = id
			}
		}
		if best == "" {
			break
		}
		load[best]++
		if best == s.self {
			got++
		}
	}
	return got
}

// handOver names, for each lease this pod should give up now, the pod it is meant for.
func (s spread) handOver() []string {
	share := s.share()
	byLoad := make([]string, 0, len(s.others))
	for id := range s.others {
		byLoad = append(byLoad, id)
	}
	sort.Slice(byLoad, func(i, j int) bool {
		a, b := byLoad[i], byLoad[j]
		if s.others[a] != s.others[b] {
			return s.others[a] < s.others[b]
		}
		return a < b
	})
	if s.mine > share {
		// Only what the others can take, after the free leases: a lease handed over that nobody may take
		// would only stop a poller.
		var to []string
		skip := s.free
		for _, id := range byLoad {
			for range max(0, share-s.others[id]) {
				if skip > 0 {
					skip--
					continue
				}
				if len(to) < s.mine-share {
					to = append(to, id)
				}
			}
		}
		return to
	}
	if s.free > 0 || len(byLoad) == 0 {
		// Free leases go to the pods below their share first; evening out waits until they are taken.
		return nil
	}
	for id, n := range s.others {
		if n > s.mine || (n == s.mine && id < s.self) {
			return nil // another pod is the one to give
		}
	}
	if least := byLoad[0]; s.mine-s.others[least] >= 2 {
		return []string{least}
	}
	return nil
}
