package sapcpireceiver

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"

	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/fakepush"
)

// A state SAP pushes after the pull delivered it — later than the pull's overlap, as after an outage of
// the endpoint — is a duplicate: the keys are kept for push.dedup_window.
func TestPushOfAStatePulledLongBeforeIsADuplicate(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{Backlog: 200, Seed: 41, BacklogSpan: 10 * time.Minute, SecondPrecision: fakecpi.RoundFloor})
	sink := &consumertest.LogsSink{}
	pt := tt.pushed(t, pushConfig(), sink, nil)
	require.NoError(t, pt.src.poll(t.Context()))
	n := len(recordAttrs(sink.AllLogs()))
	require.NoError(t, pt.pusher(t, fakepush.TargetOTEL, nil).PushOnce(t.Context()))
	states := 0
	for _, m := range tt.sim.Truth() {
		states += len(m.States)
	}
	assert.Equal(t, states, len(recordAttrs(sink.AllLogs())), "the pushed states the pull had not seen (the intermediate ones), and no other")
	assert.Equal(t, states, messageRecordCount(sink.AllLogs()), "each state once")
	assert.Greater(t, states, n)
}
