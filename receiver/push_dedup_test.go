package sapcpireceiver

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/xextension/storage"

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

// refusingStorage fails every write while refuse is set.
type refusingStorage struct {
	storage.Client
	refuse atomic.Bool
}

func (r *refusingStorage) Batch(ctx context.Context, ops ...*storage.Operation) error {
	for _, op := range ops {
		if op.Type != storage.Get && r.refuse.Load() {
			return errors.New("disk full")
		}
	}
	return r.Client.Batch(ctx, ops...)
}

// The checkpoint is read once, by whichever comes first, the push endpoint or the poller: a second read
// would replace the keys delivered since (here one whose commit failed) with what storage holds, and
// SAP's redelivery of that state would be emitted again.
func TestTheCheckpointIsReadOnceSoKeysDeliveredSinceAreKept(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{})
	sink := &consumertest.LogsSink{}
	st := &refusingStorage{Client: storagetest.NewInMemoryClient(component.KindReceiver, component.MustNewID("file_storage"), "")}
	cfg := pushConfig()
	cfg.Messages.Enabled = false
	pt := tt.pushed(t, cfg, sink, st)
	earlier := strings.Replace(pushedMPL, "AGpushed", "AGearlier", 1)
	status, _ := post(t, pt.base+"/sapcpi/v1/mpl", "application/json", earlier, false)
	require.Equal(t, http.StatusNoContent, status, "committed: storage holds a checkpoint")
	st.refuse.Store(true)
	status, _ = post(t, pt.base+"/sapcpi/v1/mpl", "application/json", pushedMPL, false)
	require.Equal(t, http.StatusServiceUnavailable, status, "accepted downstream but not committed: SAP is asked to send it again")
	require.Equal(t, 2, sink.LogRecordCount())

	require.NoError(t, pt.src.load(t.Context()), "the poller's start-up read, after the push's")
	st.refuse.Store(false)
	status, _ = post(t, pt.base+"/sapcpi/v1/mpl", "application/json", pushedMPL, false)
	assert.Equal(t, http.StatusNoContent, status)
	assert.Equal(t, 2, sink.LogRecordCount(), "the redelivery is a duplicate: the key delivered before is still known")
}
