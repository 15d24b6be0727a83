package sapcpireceiver

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/k8sstore"
	"github.com/sapcpi-otel/sapcpireceiver/internal/k8sstore/k8sstoretest"
	"github.com/sapcpi-otel/sapcpireceiver/internal/metadata"
)

// The test of record for a DaemonSet watching many tenants. Three pods run the same six tenants on one
// API server (a fake that enforces resourceVersion, as a real one does):
//   - leadership spreads to ⌈6/3⌉ = 2 tenants per pod;
//   - pod-a is stopped mid-poll: each of its tenants is in the middle of a backfill, a page waiting in
//     the next consumer;
//   - the other pods take its tenants over, in less than lease_duration because the Leases were
//     released (after the pollers stopped and the checkpoint was written), and spread to 3 each;
//   - they resume from the ConfigMap checkpoints: every final state of every tenant arrives exactly
//     once across the three pods.
func TestLeaderElectionSpreadsTenantsAndTheNextLeaderResumesMidPollWithoutGapsOrRepeats(t *testing.T) {
	names := fakecpi.TenantNames(6)
	ts, base := hostedTenants(t, names, fakecpi.Options{Backlog: 600, BacklogSpan: 10 * time.Minute, Rate: 5,
		LiveFor: 5 * time.Second, TimeScale: time.Second})
	api := k8sstoretest.NewAPIServer()
	useKube(t, func(string) *fake.Clientset { return api })
	le := testElection("", "")

	a := startPod(t, "pod-a", ts, base, 3, nil)
	b := startPod(t, "pod-b", ts, base, 0, nil)
	c := startPod(t, "pod-c", ts, base, 0, nil)
	require.Eventually(t, func() bool {
		n := perPod(leaders(t, api))
		return n["pod-a"] == 2 && n["pod-b"] == 2 && n["pod-c"] == 2
	}, 15*time.Second, 20*time.Millisecond, "each pod leads ⌈6/3⌉ = 2 tenants")

	require.Eventually(t, func() bool { return a.waiting() == 2 }, 15*time.Second, 10*time.Millisecond,
		"pod-a's two tenants are mid-backfill, a page waiting in the consumer")
	var ledByA []string
	for lease, holder := range leaders(t, api) {
		if holder == "pod-a" {
			ledByA = append(ledByA, lease)
		}
	}
	for _, lease := range ledByA {
		require.Eventually(t, func() bool {
			cm, err := api.CoreV1().ConfigMaps(testNamespace).Get(t.Context(), lease+"-checkpoints", metav1.GetOptions{})
			return err == nil && cm.BinaryData["messages"] != nil
		}, 5*le.CheckpointFlushInterval, 10*time.Millisecond, "pod-a's commits of the pages before reach the ConfigMap within the flush interval")
	}

	stopping := time.Now()
	a.shutdown(t)
	shutdownTook := time.Since(stopping)
	require.Eventually(t, func() bool {
		h := leaders(t, api)
		for _, lease := range ledByA {
			if h[lease] != "pod-b" && h[lease] != "pod-c" {
				return false
			}
		}
		return true
	}, 2*le.LeaseDuration, 5*time.Millisecond, "pod-b and pod-c take pod-a's tenants over")
	takeover := time.Since(stopping)
	t.Logf("pod-a stopped in %s (pollers, checkpoint, Leases released); its tenants were led again %s after the stop began (lease_duration %s, retry_period %s)",
		shutdownTook.Round(time.Millisecond), takeover.Round(time.Millisecond), le.LeaseDuration, le.RetryPeriod)
	assert.Less(t, takeover, le.LeaseDuration, "released, not left to expire")
	require.Eventually(t, func() bool {
		n := perPod(leaders(t, api))
		return n["pod-b"] == 3 && n["pod-c"] == 3
	}, 10*time.Second, 20*time.Millisecond, "two pods: ⌈6/2⌉ = 3 each")

	require.Eventually(t, func() bool {
		for _, name := range names {
			if missing(ts.Tenant(name).Truth(), deliveredAcross(name, a, b, c)) > 0 {
				return false
			}
		}
		return true
	}, 45*time.Second, 100*time.Millisecond, "every final state of every tenant arrives")
	b.shutdown(t)
	c.shutdown(t)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			checkExactlyOnce(t, ts.Tenant(name).Truth(), deliveredAcross(name, a, b, c), time.Now())
			cm, err := api.CoreV1().ConfigMaps(testNamespace).Get(t.Context(), "sapcpi-"+name+"-checkpoints", metav1.GetOptions{})
			require.NoError(t, err)
			assert.Equal(t, "sapcpi-"+name, cm.Annotations[k8sstore.OwnerAnnotation], "one ConfigMap per tenant")
		})
	}
	list, err := api.CoordinationV1().Leases(testNamespace).List(t.Context(), metav1.ListOptions{LabelSelector: labelRole + "=" + roleMember})
	require.NoError(t, err)
	assert.Empty(t, list.Items, "the pods deleted their membership Leases when they stopped")
}

// A pod that dies (here: cut off the API server, its consumers refusing everything) releases nothing:
// its Leases expire, and the live pods take its tenants within lease_duration and a few retry periods
// of its last renewal. Nothing is lost; what it delivered after its last written checkpoint may arrive
// twice (at-least-once at a crash).
func TestLeaderElectionTenantsOfADeadPodAreTakenOverOnceTheirLeasesExpire(t *testing.T) {
	names := fakecpi.TenantNames(4)
	ts, base := hostedTenants(t, names, fakecpi.Options{Backlog: 300, BacklogSpan: 10 * time.Minute, Rate: 5,
		LiveFor: 6 * time.Second, TimeScale: time.Second})
	api := k8sstoretest.NewAPIServer()
	clients := map[string]*k8sstoretest.Pod{"pod-a": k8sstoretest.NewPod(api), "pod-b": k8sstoretest.NewPod(api)}
	useKube(t, func(id string) *fake.Clientset { return clients[id].Clientset })
	le := testElection("", "")

	a := startPod(t, "pod-a", ts, base, 0, nil)
	b := startPod(t, "pod-b", ts, base, 0, nil)
	require.Eventually(t, func() bool {
		n := perPod(leaders(t, api))
		return n["pod-a"] == 2 && n["pod-b"] == 2
	}, 15*time.Second, 20*time.Millisecond, "2 tenants each")
	require.Eventually(t, func() bool {
		for _, s := range a.sinks {
			if s.LogRecordCount() > 0 {
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond)

	died := time.Now()
	clients["pod-a"].Cut()
	for _, s := range a.sinks {
		s.mu.Lock()
		s.blockAt = 1 // from now on it accepts nothing
		s.mu.Unlock()
	}
	require.Eventually(t, func() bool { return perPod(leaders(t, api))["pod-b"] == 4 }, 3*le.LeaseDuration, 10*time.Millisecond,
		"pod-b takes the dead pod's tenants")
	takeover := time.Since(died)
	t.Logf("pod-a's tenants were led again %s after it died (lease_duration %s, retry_period %s)", takeover.Round(time.Millisecond), le.LeaseDuration, le.RetryPeriod)
	assert.Less(t, takeover, le.LeaseDuration+4*le.RetryPeriod, "once the Leases expired, within a few retry periods")

	require.Eventually(t, func() bool {
		for _, name := range names {
			if missing(ts.Tenant(name).Truth(), deliveredAcross(name, a, b)) > 0 {
				return false
			}
		}
		return true
	}, 45*time.Second, 100*time.Millisecond, "nothing is lost")
	clients["pod-a"].Reconnect()
	a.shutdown(t)
	b.shutdown(t)
	for _, name := range names {
		seen := map[stateKey]int{}
		for _, k := range delivered(b.sinks[name].AllLogs()) {
			seen[k]++
		}
		for k, n := range seen {
			assert.Equal(t, 1, n, "%s: pod-b alone delivers no state twice: %v", name, k)
		}
	}
}

// moves counts the changes of holder the tenant Leases have seen (client-go counts them in
// leaseTransitions; a release keeps the count, the next claim adds one).
func moves(t *testing.T, cs *fake.Clientset) int {
	t.Helper()
	list, err := cs.CoordinationV1().Leases(testNamespace).List(t.Context(), metav1.ListOptions{LabelSelector: labelRole + "=" + roleTenant})
	require.NoError(t, err)
	n := 0
	for _, l := range list.Items {
		if l.Spec.LeaseTransitions != nil {
			n += int(*l.Spec.LeaseTransitions)
		}
	}
	return n
}

// Pods join one at a time: each takes what evens the spread, nothing else moves, and it stays put.
func TestLeaderElectionAJoiningPodTakesOnlyWhatEvensTheSpread(t *testing.T) {
	ts, base := hostedTenants(t, fakecpi.TenantNames(6), fakecpi.Options{})
	api := k8sstoretest.NewAPIServer()
	useKube(t, func(string) *fake.Clientset { return api })
	le := testElection("", "")
	spreadIs := func(want map[string]int) func() bool {
		return func() bool {
			n := perPod(leaders(t, api))
			for id, k := range want {
				if n[id] != k {
					return false
				}
			}
			return len(n) == len(want)
		}
	}

	startPod(t, "pod-a", ts, base, 0, nil)
	require.Eventually(t, spreadIs(map[string]int{"pod-a": 6}), 10*time.Second, 20*time.Millisecond, "alone, pod-a leads all six")
	base0 := moves(t, api)
	startPod(t, "pod-b", ts, base, 0, nil)
	require.Eventually(t, spreadIs(map[string]int{"pod-a": 3, "pod-b": 3}), 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, 3, moves(t, api)-base0, "three tenants moved to pod-b, no more")
	base1 := moves(t, api)
	startPod(t, "pod-c", ts, base, 0, nil)
	require.Eventually(t, spreadIs(map[string]int{"pod-a": 2, "pod-b": 2, "pod-c": 2}), 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, 2, moves(t, api)-base1, "one tenant from each to pod-c")
	time.Sleep(8 * le.RetryPeriod)
	assert.True(t, spreadIs(map[string]int{"pod-a": 2, "pod-b": 2, "pod-c": 2})(), "and it stays put")
	assert.Equal(t, 2, moves(t, api)-base1)
}

// Two tenants with one Lease, or one checkpoint ConfigMap, would lead together or overwrite each other's
// checkpoints; tenants of one namespace share one election, which runs at one pace: the second receiver
// refuses to start, and says why.
func TestLeaderElectionRefusesTwoTenantsSharingALeaseOrAConfigMapOrDifferingInTimings(t *testing.T) {
	ts, base := hostedTenants(t, fakecpi.TenantNames(2), fakecpi.Options{})
	api := k8sstoretest.NewAPIServer()
	useKube(t, func(string) *fake.Clientset { return api })
	for _, tc := range []struct {
		name string
		edit func(*LeaderElectionConfig)
		want string
	}{
		{"one Lease", func(c *LeaderElectionConfig) { c.LeaseName = "sapcpi-t01" }, `leader_election.lease_name "sapcpi-t01" is also the Lease of sapcpi/t01`},
		{"one ConfigMap", func(c *LeaderElectionConfig) { c.CheckpointConfigMap = "sapcpi-t01-checkpoints" }, `leader_election.checkpoint_configmap "sapcpi-t01-checkpoints" also holds the checkpoints of sapcpi/t01`},
		{"other timings", func(c *LeaderElectionConfig) { c.RetryPeriod = time.Second }, "differ from those of sapcpi/t01 (3s, 2s, 250ms); the tenants of a namespace share one election"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := func(name string, edit func(*LeaderElectionConfig)) (receiver.Logs, error) {
				cfg := hostedConfig(t, ts, base, name)
				cfg.LeaderElection = testElection("pod-a", name)
				if edit != nil {
					edit(&cfg.LeaderElection)
				}
				set := receivertest.NewNopSettings(metadata.Type)
				set.ID = component.MustNewIDWithName("sapcpi", name)
				r, err := NewFactory().CreateLogs(t.Context(), set, cfg, &consumertest.LogsSink{})
				require.NoError(t, err)
				return r, r.Start(t.Context(), componenttest.NewNopHost())
			}
			first, err := start("t01", nil)
			require.NoError(t, err)
			second, err := start("t02", tc.edit)
			require.ErrorContains(t, err, tc.want)
			require.NoError(t, second.Shutdown(t.Context()))
			require.NoError(t, first.Shutdown(t.Context()))
		})
	}
}
