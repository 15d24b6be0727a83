package fakecpi

import (
	"slices"
	"strings"
	"time"
)

// PushState is one state of a simulated MPL, as SAP's External Logging pushes it when it happens.
type PushState struct {
	MessageGuid string
	Status      string
	LogEnd      time.Time
	// VisibleAt is when the state became readable by the pull API, and so pushable; after LogEnd for a
	// late write.
	VisibleAt time.Time
	// Entity is the state as GET MessageProcessingLogs?$expand=CustomHeaderProperties serves it: one OData
	// V2 JSON entry, which cpi.MessageProcessingLog decodes.
	Entity []byte
	// AdapterAttributes exist only for the push: the simulated pull API does not serve them.
	AdapterAttributes []AdapterAttribute
}

// AdapterAttribute is one MessageProcessingLogAdapterAttribute.
type AdapterAttribute struct {
	AdapterId, AdapterMessageId, Name, Value string
}

// StatesSince returns every state that became visible after `after` and by the tenant's now, in the
// order they became visible, together with that now. Passing it back as `after` next time misses and
// repeats nothing. tenantURL (e.g. "http://127.0.0.1:8765") goes into AlternateWebLink, as the
// request's host does for the pull API.
func (s *Server) StatesSince(after time.Time, tenantURL string) ([]PushState, time.Time) {
	type due struct {
		m *message
		i int
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.ensureStarted(now)
	s.store.advance(now)
	var states []due
	for _, m := range s.store.all {
		for i := range m.states {
			if at := m.states[i].visibleAt; at.After(after) && !at.After(now) {
				states = append(states, due{m, i})
			}
		}
	}
	slices.SortFunc(states, func(a, b due) int {
		if c := a.m.states[a.i].visibleAt.Compare(b.m.states[b.i].visibleAt); c != 0 {
			return c
		}
		if c := strings.Compare(a.m.guid, b.m.guid); c != 0 {
			return c
		}
		return a.i - b.i
	})
	base := strings.TrimSuffix(tenantURL, "/") + "/api/v1/"
	q := &mplQuery{expandCHP: true}
	out := make([]PushState, 0, len(states))
	for _, d := range states {
		st := &d.m.states[d.i]
		out = append(out, PushState{
			MessageGuid:       d.m.guid,
			Status:            st.status,
			LogEnd:            st.logEnd,
			VisibleAt:         st.visibleAt,
			Entity:            appendMPL(nil, base, mplView{m: d.m, s: st}, q),
			AdapterAttributes: adapterAttributes(d.m, st),
		})
	}
	return out, now
}

// adapterAttributes makes up what a receiver adapter would record, from the message alone so that the
// generator's random sequence (and so every other test's data) stays as it is.
func adapterAttributes(m *message, st *state) []AdapterAttribute {
	if m.receiver == "" {
		return nil
	}
	code := "200"
	switch st.status {
	case "FAILED", "RETRY", "ESCALATED", "ABANDONED":
		code = "500"
	}
	return []AdapterAttribute{{AdapterId: "HTTP Receiver", AdapterMessageId: m.transactionID[:16], Name: "ResponseCode", Value: code}}
}
