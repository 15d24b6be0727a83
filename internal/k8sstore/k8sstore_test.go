package k8sstore

import (
	"bytes"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/sapcpi-otel/sapcpireceiver/internal/k8sstore/k8sstoretest"
)

const ns, name = "sapcpi", "sapcpi-prod-checkpoints"

func stored(t *testing.T, cs *fake.Clientset) *corev1.ConfigMap {
	t.Helper()
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(t.Context(), name, metav1.GetOptions{})
	require.NoError(t, err)
	return cm
}

func TestConfigMapStoreRoundTripsAndIsSharedBetweenClients(t *testing.T) {
	cs := k8sstoretest.NewAPIServer()
	a := New(cs.CoreV1(), ns, name, Options{Owner: "sapcpi-prod"})
	b := New(cs.CoreV1(), ns, name, Options{Owner: "sapcpi-prod"})
	v, err := a.Get(t.Context(), "messages")
	require.NoError(t, err)
	assert.Nil(t, v, "no ConfigMap yet: no value")

	require.NoError(t, a.Set(t.Context(), "inventory/runtime_artifacts", []byte(`{"x":1}`)))
	require.NoError(t, a.Set(t.Context(), "messages", []byte(`{"watermark":"w"}`)))
	v, err = b.Get(t.Context(), "inventory/runtime_artifacts")
	require.NoError(t, err)
	assert.JSONEq(t, `{"x":1}`, string(v), "the next leader reads what the last one wrote")

	get := storage.GetOperation("messages")
	require.NoError(t, b.Batch(t.Context(), storage.DeleteOperation("inventory/runtime_artifacts"), get))
	assert.JSONEq(t, `{"watermark":"w"}`, string(get.Value))
	v, err = a.Get(t.Context(), "inventory/runtime_artifacts")
	require.NoError(t, err)
	assert.Nil(t, v)
	assert.Equal(t, "sapcpi-prod", stored(t, cs).Annotations[OwnerAnnotation], "the ConfigMap names its tenant")
	require.NoError(t, a.Close(t.Context()))
}

// What the README says of the fake clientset, proved: alone it lets a write based on a stale read win;
// the test API server, like a real one, answers 409.
func TestFakeClientsetAloneDoesNotEnforceResourceVersion(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cs       *fake.Clientset
		conflict bool
	}{
		{"fake.NewClientset", fake.NewClientset(), false},
		{"k8sstoretest.NewAPIServer", k8sstoretest.NewAPIServer(), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cms := tc.cs.CoreV1().ConfigMaps(ns)
			_, err := cms.Create(t.Context(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
			require.NoError(t, err)
			first, err := cms.Get(t.Context(), name, metav1.GetOptions{})
			require.NoError(t, err)
			second := first.DeepCopy()
			first.Data = map[string]string{"by": "first"}
			_, err = cms.Update(t.Context(), first, metav1.UpdateOptions{})
			require.NoError(t, err)
			second.Data = map[string]string{"by": "second, from a stale read"}
			_, err = cms.Update(t.Context(), second, metav1.UpdateOptions{})
			if tc.conflict {
				assert.True(t, apierrors.IsConflict(err), "a stale resourceVersion is refused: %v", err)
			} else {
				assert.NoError(t, err, "the fake clientset lets the stale write win")
				assert.Empty(t, first.ResourceVersion, "and sets no resourceVersion at all")
			}
		})
	}
}

func TestConfigMapStoreCoalescesCommitsUntilFlush(t *testing.T) {
	cs := k8sstoretest.NewAPIServer()
	s := New(cs.CoreV1(), ns, name, Options{Owner: "sapcpi-prod", FlushInterval: time.Hour})
	next := New(cs.CoreV1(), ns, name, Options{Owner: "sapcpi-prod"})
	for i := range 20 {
		// The shape of a window commit: a new segment, a pruned one, the head.
		require.NoError(t, s.Batch(t.Context(),
			storage.SetOperation("messages."+string(rune('a'+i)), []byte{byte(i)}),
			storage.DeleteOperation("messages."+string(rune('a'+i-1))),
			storage.SetOperation("messages", []byte{'h', byte(i)})))
	}
	assert.Zero(t, s.Writes(), "twenty commits wait in memory")
	v, err := s.Get(t.Context(), "messages")
	require.NoError(t, err)
	assert.Equal(t, []byte{'h', 19}, v, "the store reads its own pending writes")
	v, err = next.Get(t.Context(), "messages")
	require.NoError(t, err)
	assert.Nil(t, v, "another pod sees nothing before the flush")

	require.NoError(t, s.Flush(t.Context()))
	assert.Equal(t, 1, s.Writes(), "one update for twenty commits")
	cm := stored(t, cs)
	assert.Equal(t, map[string][]byte{"messages": {'h', 19}, "messages.t": {19}}, cm.BinaryData)
}

func TestConfigMapStoreWritesWithinTheFlushInterval(t *testing.T) {
	cs := k8sstoretest.NewAPIServer()
	s := New(cs.CoreV1(), ns, name, Options{Owner: "sapcpi-prod", FlushInterval: 50 * time.Millisecond})
	require.NoError(t, s.Set(t.Context(), "messages", []byte("head")))
	require.Eventually(t, func() bool { return s.Writes() == 1 }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, []byte("head"), stored(t, cs).BinaryData["messages"])
}

// The 1 MiB edge: a commit that would take the ConfigMap past what Kubernetes allows is refused with an
// error that says so and what to do; the checkpoint stored before stays whole, and a smaller commit
// afterwards is written.
func TestConfigMapStoreRefusesAWritePastOneMebibyteAndKeepsTheLastCheckpoint(t *testing.T) {
	for _, interval := range []time.Duration{0, time.Hour} {
		t.Run("flush_interval="+interval.String(), func(t *testing.T) {
			cs := k8sstoretest.NewAPIServer()
			s := New(cs.CoreV1(), ns, name, Options{Owner: "sapcpi-prod", FlushInterval: interval})
			seg1 := bytes.Repeat([]byte{1}, 600<<10)
			require.NoError(t, s.Batch(t.Context(), storage.SetOperation("messages.1", seg1), storage.SetOperation("messages", []byte("head 1"))))
			require.NoError(t, s.Flush(t.Context()))

			seg2 := bytes.Repeat([]byte{2}, 500<<10)
			err := s.Batch(t.Context(), storage.SetOperation("messages.2", seg2), storage.SetOperation("messages", []byte("head 2")))
			require.ErrorIs(t, err, ErrTooLarge)
			require.ErrorIs(t, err, storage.ErrStorageFull)
			assert.Contains(t, err.Error(), "sapcpi/sapcpi-prod-checkpoints")
			assert.Contains(t, err.Error(), "its own leader_election.checkpoint_configmap")
			require.NoError(t, s.Flush(t.Context()))
			cm := stored(t, cs)
			assert.Equal(t, []byte("head 1"), cm.BinaryData["messages"], "the last checkpoint holds")
			assert.Len(t, cm.BinaryData["messages.1"], len(seg1))
			assert.NotContains(t, cm.BinaryData, "messages.2", "nothing of the refused commit is written")
			v, err := s.Get(t.Context(), "messages")
			require.NoError(t, err)
			assert.Equal(t, []byte("head 1"), v, "nor kept in memory")

			// The next commit prunes the big segment and fits.
			require.NoError(t, s.Batch(t.Context(), storage.DeleteOperation("messages.1"),
				storage.SetOperation("messages.2", seg2), storage.SetOperation("messages", []byte("head 2"))))
			require.NoError(t, s.Flush(t.Context()))
			assert.Equal(t, []byte("head 2"), stored(t, cs).BinaryData["messages"])
		})
	}
}

// The store's own check counts what the API server counts (and keys besides), so the API server's 422
// is never what a user meets first — but it is there, as on a real cluster.
func TestAPIServerRefusesAConfigMapPastOneMebibyte(t *testing.T) {
	cs := k8sstoretest.NewAPIServer()
	_, err := cs.CoreV1().ConfigMaps(ns).Create(t.Context(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name},
		BinaryData: map[string][]byte{"a": bytes.Repeat([]byte{0}, MaxSize+1)}}, metav1.CreateOptions{})
	assert.True(t, apierrors.IsInvalid(err), "%v", err)
}

// Two tenants pointed at one ConfigMap: the second neither reads nor writes the first's checkpoints.
func TestConfigMapStoreRefusesAnotherTenantsConfigMap(t *testing.T) {
	cs := k8sstoretest.NewAPIServer()
	prod := New(cs.CoreV1(), ns, name, Options{Owner: "sapcpi-prod"})
	qa := New(cs.CoreV1(), ns, name, Options{Owner: "sapcpi-qa"})
	require.NoError(t, prod.Set(t.Context(), "messages", []byte("prod head")))

	_, err := qa.Get(t.Context(), "messages")
	require.ErrorIs(t, err, ErrOwned)
	assert.Contains(t, err.Error(), "sapcpi-prod")
	assert.Contains(t, err.Error(), "give each tenant its own leader_election.checkpoint_configmap")
	require.ErrorIs(t, qa.Set(t.Context(), "messages", []byte("qa head")), ErrOwned)
	assert.Equal(t, []byte("prod head"), stored(t, cs).BinaryData["messages"], "prod's checkpoint is untouched")
}

// While the API server fails, commits are written at once, so the poller sees the failure; a flush that
// fails when the pollers stop drops what it could not write, so that a later term never writes it over a
// newer leader's checkpoint.
func TestConfigMapStoreSurfacesWriteFailuresAndDropsWhatAFinalFlushCannotWrite(t *testing.T) {
	cs := k8sstoretest.NewAPIServer()
	var failing atomic.Bool
	cs.PrependReactor("update", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		if failing.Load() {
			return true, nil, errors.New("etcdserver: request timed out")
		}
		return false, nil, nil
	})
	s := New(cs.CoreV1(), ns, name, Options{Owner: "sapcpi-prod", FlushInterval: time.Hour})
	require.NoError(t, s.Set(t.Context(), "messages", []byte("head 1")))
	require.NoError(t, s.Flush(t.Context()))

	failing.Store(true)
	require.NoError(t, s.Set(t.Context(), "messages", []byte("head 2")), "coalesced: not written yet")
	err := s.Flush(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "request timed out")
	v, err := s.Get(t.Context(), "messages")
	require.NoError(t, err)
	assert.Equal(t, []byte("head 1"), v, "what could not be written is dropped; the stored checkpoint is what counts")

	// A background flush that fails makes the next commit write at once and report it.
	require.NoError(t, s.Set(t.Context(), "messages", []byte("head 3")))
	s.flushInBackground()
	err = s.Set(t.Context(), "messages", []byte("head 4"))
	require.Error(t, err, "the poller learns that its commits are not stored")
	failing.Store(false)
	require.NoError(t, s.Set(t.Context(), "messages", []byte("head 5")), "written at once while the last write failed")
	assert.Equal(t, []byte("head 5"), stored(t, cs).BinaryData["messages"])
}

// A background write that fails is tried again after another interval, even if no commit follows (a
// tenant whose only busy source stopped): accepted progress does not wait for an hourly source.
func TestConfigMapStoreRetriesAFailedBackgroundWrite(t *testing.T) {
	cs := k8sstoretest.NewAPIServer()
	var failures atomic.Int32
	failures.Store(2)
	cs.PrependReactor("update", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		if failures.Load() > 0 {
			failures.Add(-1)
			return true, nil, errors.New("etcdserver: request timed out")
		}
		return false, nil, nil
	})
	s := New(cs.CoreV1(), ns, name, Options{Owner: "sapcpi-prod", FlushInterval: 30 * time.Millisecond})
	require.NoError(t, s.Set(t.Context(), "messages", []byte("head 1")))
	require.NoError(t, s.Flush(t.Context()))
	failures.Store(2)
	require.NoError(t, s.Set(t.Context(), "messages", []byte("head 2")))
	require.Eventually(t, func() bool { return string(stored(t, cs).BinaryData["messages"]) == "head 2" }, 5*time.Second, 10*time.Millisecond,
		"written by a later background attempt, without another commit")
}
