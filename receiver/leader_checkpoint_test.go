package sapcpireceiver

import (
	"bytes"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/sapcpi-otel/sapcpireceiver/internal/checkpoint"
	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/k8sstore"
	"github.com/sapcpi-otel/sapcpireceiver/internal/k8sstore/k8sstoretest"
	"github.com/sapcpi-otel/sapcpireceiver/internal/metadata"
)

const checkpointCM = "sapcpi-prod-checkpoints"

// configMapBytes is what Kubernetes counts against a ConfigMap's 1 MiB (its values), and the keys.
func configMapBytes(t *testing.T, cs *fake.Clientset) (values, keys int) {
	t.Helper()
	cm, err := cs.CoreV1().ConfigMaps(testNamespace).Get(t.Context(), checkpointCM, metav1.GetOptions{})
	require.NoError(t, err)
	for k, v := range cm.BinaryData {
		values += len(v)
		keys += len(k)
	}
	return values, keys
}

// The figure docs/benchmarks.md quotes: the bytes one busy tenant's message checkpoint takes in its
// ConfigMap at 100 MPLs per second with the default message settings (overlap 2m, settle 1m, poll 1m,
// pages of 1000), over three polls after a first poll that reads the two minutes the stream has run (the window is
// full after two).
func TestConfigMapCheckpointBytesPerTenantAtOneHundredMPLsPerSecond(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{Rate: 100, Start: t0.Add(-2 * time.Minute)})
	api := k8sstoretest.NewAPIServer()
	store := k8sstore.New(api.CoreV1(), testNamespace, checkpointCM, k8sstore.Options{Owner: "sapcpi-prod"})
	cfg := createDefaultConfig().(*Config).Messages
	cfg.ErrorDetails.Enabled = false // error texts do not touch the checkpoint; leaving them out keeps the test short
	// No logs pipeline: the records are counted and committed, not mapped, which the checkpoint does
	// not depend on.
	src := tt.source(t, cfg, nil, store)

	require.NoError(t, src.poll(t.Context()))
	backfill, _ := configMapBytes(t, api)
	backfillWrites := store.Writes()
	var peak, last, keys, peakKeys int
	const polls = 3
	for range polls {
		tt.clock.Advance(cfg.PollInterval)
		require.NoError(t, src.poll(t.Context()))
		last, keys = configMapBytes(t, api)
		if last > peak {
			peak, peakKeys = last, src.window.Len()
		}
	}
	perPoll := float64(store.Writes()-backfillWrites) / polls
	t.Logf("at 100 MPL/s: after the first poll %d bytes; steady state %d bytes, peak %d bytes (%d window keys, %.1f bytes per key) + %d bytes of ConfigMap keys; %.1f commits per poll",
		backfill, last, peak, peakKeys, float64(peak)/float64(peakKeys), keys, perPoll)
	assert.Less(t, peak, 256<<10, "a quarter of what a ConfigMap may hold, at most")
	assert.Greater(t, peak, 100*int(cfg.Overlap/time.Second)*8, "the overlap's keys are in it (the measure measures something)")
}

// The 1 MiB edge: a tenant whose checkpoint no longer fits its ConfigMap gets a poll error that names
// the limit and the fix; the stored checkpoint stays at its last write, and a restart from it delivers
// everything after it again — at-least-once, nothing silently lost.
func TestCheckpointPastTheConfigMapLimitIsAClearErrorAndLosesNothing(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{Rate: 30, LiveFor: 5 * time.Minute, Start: t0})
	api := k8sstoretest.NewAPIServer()
	// Most of the ConfigMap is taken already (here by a blob of another kind, as a busy tenant with a
	// long overlap would take it with keys), so that the window's growth reaches the edge in a few polls.
	_, err := api.CoreV1().ConfigMaps(testNamespace).Create(t.Context(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: checkpointCM, Annotations: map[string]string{k8sstore.OwnerAnnotation: "sapcpi-prod"}},
		BinaryData: map[string][]byte{"ballast": bytes.Repeat([]byte{0}, k8sstore.MaxSize-30<<10)},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	cfg := createDefaultConfig().(*Config).Messages
	cfg.ErrorDetails.Enabled = false
	cfg.InitialLookback = time.Minute
	first := &consumertest.LogsSink{}
	src := tt.source(t, cfg, first, k8sstore.New(api.CoreV1(), testNamespace, checkpointCM, k8sstore.Options{Owner: "sapcpi-prod"}))

	var pollErr error
	for range 10 {
		tt.clock.Advance(cfg.PollInterval)
		if pollErr = src.poll(t.Context()); pollErr != nil {
			break
		}
	}
	require.Error(t, pollErr, "the window outgrew the ConfigMap")
	require.ErrorIs(t, pollErr, k8sstore.ErrTooLarge)
	assert.Contains(t, pollErr.Error(), "over the 1 MiB Kubernetes allows a ConfigMap")
	assert.Contains(t, pollErr.Error(), "its own leader_election.checkpoint_configmap, or lower the overlap")
	values, _ := configMapBytes(t, api)
	assert.LessOrEqual(t, values, k8sstore.MaxSize, "the ConfigMap stays within the limit")
	// The next poll fails the same way: the error stays visible while the cause lasts.
	tt.clock.Advance(cfg.PollInterval)
	require.ErrorIs(t, src.poll(t.Context()), k8sstore.ErrTooLarge)
	reader := checkpoint.NewStore(k8sstore.New(api.CoreV1(), testNamespace, checkpointCM, k8sstore.Options{Owner: "sapcpi-prod"}))
	w, found, err := reader.LoadWindow(t.Context(), messagesCheckpointKey)
	require.NoError(t, err)
	require.True(t, found)
	stored, delivered0 := w.Watermark, src.window.Watermark
	assert.True(t, stored.Before(delivered0), "the stored checkpoint holds at the last commit that fit (%s), behind what was delivered (%s)", stored, delivered0)

	// The pod restarts (or another leads) from what the ConfigMap holds: the last checkpoint that fit.
	again := &consumertest.LogsSink{}
	next := tt.source(t, cfg, again, k8sstore.New(api.CoreV1(), testNamespace, checkpointCM, k8sstore.Options{Owner: "sapcpi-prod"}))
	assert.Equal(t, stored, next.window.Watermark, "resumes at the last checkpoint written")
	require.ErrorIs(t, next.poll(t.Context()), k8sstore.ErrTooLarge, "it delivers on from there; its own commit meets the limit again")
	got := append(delivered(first.AllLogs()), delivered(again.AllLogs())...)
	assert.Zero(t, missing(tt.sim.Truth(), got)-missingAfter(tt.sim.Truth(), got, delivered0),
		"every final state up to the furthest delivered arrived (some twice)")
	assert.Greater(t, len(got), len(delivered(first.AllLogs())), "the restart delivered again what the stored checkpoint does not hold")
}

// missingAfter counts the missing final states written at or after until (not yet readable).
func missingAfter(truth []fakecpi.Truth, got []stateKey, until time.Time) int {
	seen := map[stateKey]bool{}
	for _, k := range got {
		seen[k] = true
	}
	n := 0
	for _, m := range truth {
		f := m.Final()
		if !f.LogEnd.Before(until) && !seen[stateKey{m.MessageGUID, f.Status, f.LogEnd.UTC()}] {
			n++
		}
	}
	return n
}

// A pod that leads a tenant again after another pod led it meanwhile resumes from the checkpoint that
// pod left, not from its own state at the end of its last term: every state once across both pods.
// The sources are those of the tenant's, reused term after term; endTerms is what a term's end runs.
func TestATenantLedAgainResumesFromTheOtherLeadersCheckpoint(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{Seed: 37, Rate: 6, LiveFor: 2 * time.Minute, TimeScale: 4 * time.Second, Backlog: 200})
	st := storagetest.NewInMemoryClient(component.KindReceiver, component.MustNewID("file_storage"), "")
	cfg := testMessagesConfig()
	sinkA, sinkB := &consumertest.LogsSink{}, &consumertest.LogsSink{}
	podA := tt.source(t, cfg, sinkA, st)
	term := func(src *messageSource, polls int) {
		require.NoError(t, src.load(t.Context()))
		for range polls {
			tt.clock.Advance(time.Second)
			require.NoError(t, src.poll(t.Context()))
		}
		endTerms([]source{src})
	}
	term(podA, 20)
	podB := tt.source(t, cfg, sinkB, st)
	term(podB, 40) // B leads for longer than the overlap: A's window is stale by then
	term(podA, 20)
	for range 3 {
		tt.clock.Advance(time.Second)
		require.NoError(t, podA.load(t.Context()))
		require.NoError(t, podA.poll(t.Context()))
	}
	got := append(delivered(sinkA.AllLogs()), delivered(sinkB.AllLogs())...)
	require.NotEmpty(t, delivered(sinkB.AllLogs()))
	checkExactlyOnce(t, tt.sim.Truth(), got, tt.clock.Now().Add(-cfg.SettleDelay))
}

// A pod writes its last commits when its pollers stop only while it still holds the tenant's Lease
// with time to spare: once the Lease expired (its renewals failed), another pod may lead already, and
// the late write would land over that pod's checkpoint. The commits are dropped instead.
func TestACheckpointIsNotWrittenAfterTheLeaseExpired(t *testing.T) {
	cs := fake.NewClientset()
	le := testElection("pod-a", "prod")
	cand := &candidate{pod: &electionPod{key: podKey{namespace: testNamespace, identity: "pod-a"}, cfg: le,
		kube: kubeClients{Core: cs.CoreV1(), Coordination: cs.CoordinationV1()}}, lease: le.LeaseName}
	lease := func(holder string, renewed time.Time) {
		l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: le.LeaseName, Namespace: testNamespace},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: refOf(int32(3)), RenewTime: &metav1.MicroTime{Time: renewed}}}
		leases := cs.CoordinationV1().Leases(testNamespace)
		if _, err := leases.Update(t.Context(), l, metav1.UpdateOptions{}); err != nil {
			_, err = leases.Create(t.Context(), l, metav1.CreateOptions{})
			require.NoError(t, err)
		}
	}
	assert.False(t, cand.holdsLease(t.Context()), "no Lease at all")
	lease("pod-a", time.Now())
	assert.True(t, cand.holdsLease(t.Context()), "held and renewed just now")
	lease("pod-a", time.Now().Add(-2900*time.Millisecond))
	assert.False(t, cand.holdsLease(t.Context()), "held, but expiring within a retry period")
	lease("pod-b", time.Now())
	assert.False(t, cand.holdsLease(t.Context()), "another pod's")

	store := k8sstore.New(cs.CoreV1(), testNamespace, le.CheckpointConfigMap, k8sstore.Options{Owner: le.LeaseName, FlushInterval: time.Hour})
	tn := &tenant{set: receivertest.NewNopSettings(metadata.Type), storage: store, holdsLease: cand.holdsLease}
	require.NoError(t, store.Set(t.Context(), "messages", []byte("late")))
	tn.stopPollersAndWait()
	_, err := cs.CoreV1().ConfigMaps(testNamespace).Get(t.Context(), le.CheckpointConfigMap, metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "nothing written for a Lease another pod holds")
	got, err := store.Get(t.Context(), "messages")
	require.NoError(t, err)
	assert.Nil(t, got, "the dropped commit is not served from memory either")

	lease("pod-a", time.Now())
	require.NoError(t, store.Set(t.Context(), "messages", []byte("in time")))
	tn.stopPollersAndWait()
	cm, err := cs.CoreV1().ConfigMaps(testNamespace).Get(t.Context(), le.CheckpointConfigMap, metav1.GetOptions{})
	require.NoError(t, err)
	assert.NotEmpty(t, cm.BinaryData, "written while the Lease is held")
}
