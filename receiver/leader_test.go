package sapcpireceiver

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/metadata"
)

// Two collectors (a DaemonSet's pods) watch one tenant: only the leader polls; when it stops, the other
// takes over within the lease time and resumes from the checkpoint in the ConfigMap, so the messages of
// both together arrive once each.
func TestLeaderElectionOnePodPollsAndTheNextResumesWithoutGapsOrRepeats(t *testing.T) {
	cs := fake.NewClientset()
	kubeClient = func() (kubeClients, error) {
		return kubeClients{Core: cs.CoreV1(), Coordination: cs.CoordinationV1()}, nil
	}
	t.Cleanup(func() { kubeClient = defaultKubeClient })

	start := time.Now()
	cfgA, sim := simConfig(t, fakecpi.Options{Backlog: 300, BacklogSpan: 10 * time.Minute, Rate: 20, LiveFor: 8 * time.Second, TimeScale: time.Second})
	for _, c := range []*Config{cfgA} {
		c.LeaderElection = LeaderElectionConfig{Enabled: true, LeaseName: "sapcpi-sim", Namespace: "sapcpi", Identity: "pod-a",
			CheckpointConfigMap: "sapcpi-sim-checkpoints", LeaseDuration: 1500 * time.Millisecond, RenewDeadline: time.Second, RetryPeriod: 200 * time.Millisecond}
		c.Messages.SettleDelay = 500 * time.Millisecond
		require.NoError(t, c.Validate())
	}
	cfgB := *cfgA
	cfgB.LeaderElection.Identity = "pod-b"
	f := NewFactory()
	sinkA, sinkB := &consumertest.LogsSink{}, &consumertest.LogsSink{}
	a, err := f.CreateLogs(t.Context(), receivertest.NewNopSettings(metadata.Type), cfgA, sinkA)
	require.NoError(t, err)
	b, err := f.CreateLogs(t.Context(), receivertest.NewNopSettings(metadata.Type), &cfgB, sinkB)
	require.NoError(t, err)

	require.NoError(t, a.Start(t.Context(), componenttest.NewNopHost()))
	require.Eventually(t, func() bool { return sinkA.LogRecordCount() >= 300 }, 10*time.Second, 20*time.Millisecond, "pod-a leads and catches up")
	require.NoError(t, b.Start(t.Context(), componenttest.NewNopHost()))
	time.Sleep(time.Second)
	assert.Zero(t, sinkB.LogRecordCount(), "pod-b does not poll while pod-a leads")

	require.NoError(t, a.Shutdown(t.Context())) // releases the Lease after its pollers stopped
	stopped := time.Now()
	require.Eventually(t, func() bool { return sinkB.LogRecordCount() > 0 }, 5*time.Second, 20*time.Millisecond, "pod-b takes over")
	assert.Less(t, time.Since(stopped), 3*time.Second, "within the lease time")

	time.Sleep(time.Until(start.Add(8*time.Second + 4*time.Second)))
	require.Eventually(t, func() bool {
		return missing(sim.Truth(), append(delivered(sinkA.AllLogs()), delivered(sinkB.AllLogs())...)) == 0
	}, 10*time.Second, 100*time.Millisecond, "every final state arrives")
	require.NoError(t, b.Shutdown(t.Context()))
	checkExactlyOnce(t, sim.Truth(), append(delivered(sinkA.AllLogs()), delivered(sinkB.AllLogs())...), time.Now())
	cm, err := cs.CoreV1().ConfigMaps("sapcpi").Get(t.Context(), "sapcpi-sim-checkpoints", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Contains(t, cm.BinaryData, "messages", "the checkpoint is in the ConfigMap")
}

func missing(truth []fakecpi.Truth, got []stateKey) int {
	seen := map[stateKey]bool{}
	for _, k := range got {
		seen[k] = true
	}
	n := 0
	for _, m := range truth {
		f := m.Final()
		if !seen[stateKey{m.MessageGUID, f.Status, f.LogEnd.UTC()}] {
			n++
		}
	}
	return n
}
