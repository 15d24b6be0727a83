package sapcpireceiver

import (
	"context"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/metadata"
)

// hostedTenants serves the named simulated tenants from one loopback server, all with opts (each its own
// seed and credentials).
func hostedTenants(t *testing.T, names []string, opts fakecpi.Options) (*fakecpi.Tenants, string) {
	t.Helper()
	ts := fakecpi.NewTenants(names, func(string) fakecpi.Options { return opts })
	srv := httptest.NewServer(ts.Handler())
	t.Cleanup(srv.Close)
	return ts, srv.URL
}

// hostedConfig is the receiver configuration of one hosted tenant, with simConfig's test settings.
func hostedConfig(t *testing.T, ts *fakecpi.Tenants, base, name string) *Config {
	t.Helper()
	id, secret := ts.Tenant(name).Credentials()
	cfg := createDefaultConfig().(*Config)
	cfg.Endpoint = ts.URL(base, name)
	cfg.OAuth2 = &OAuth2Config{ClientID: id, ClientSecret: configopaque.String(secret), TokenURL: ts.URL(base, name) + "/oauth/token"}
	cfg.TenantName = name
	cfg.Inventory.Enabled, cfg.AuditLogs.Enabled, cfg.LogFiles.Enabled, cfg.Operations.Enabled = false, false, false, false
	cfg.Messages.PollInterval = time.Second
	cfg.Messages.SettleDelay = 0
	cfg.CollectionInterval = 200 * time.Millisecond
	cfg.Retry.InitialInterval = 10 * time.Millisecond
	cfg.Retry.MaxRetryAfter = 10 * time.Millisecond
	require.NoError(t, cfg.Validate())
	return cfg
}

// useKube makes every receiver started from now on reach the Kubernetes API through the clientset
// clients returns for its pod identity.
func useKube(t *testing.T, clients func(identity string) *fake.Clientset) {
	t.Helper()
	kubeClient = func(le LeaderElectionConfig) (kubeClients, error) {
		cs := clients(le.identity())
		return kubeClients{Core: cs.CoreV1(), Coordination: cs.CoordinationV1()}, nil
	}
	t.Cleanup(func() { kubeClient = defaultKubeClient })
}

const testNamespace = "sapcpi"

// testElection is the leader_election section of tenant name in pod identity.
func testElection(identity, name string) LeaderElectionConfig {
	return LeaderElectionConfig{Enabled: true, LeaseName: "sapcpi-" + name, Namespace: testNamespace, Identity: identity,
		CheckpointConfigMap: "sapcpi-" + name + "-checkpoints", CheckpointFlushInterval: 500 * time.Millisecond,
		LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 250 * time.Millisecond}
}

// gateSink accepts records until its blockAt-th batch; from then on every batch waits until the
// poller's context ends (the pod stops, or hands the tenant over) and is refused.
type gateSink struct {
	consumertest.LogsSink
	mu      sync.Mutex
	calls   int
	blockAt int
	waiting atomic.Int32
}

func (g *gateSink) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	g.mu.Lock()
	g.calls++
	block := g.blockAt > 0 && g.calls >= g.blockAt
	g.mu.Unlock()
	if !block {
		return g.LogsSink.ConsumeLogs(ctx, ld)
	}
	g.waiting.Add(1)
	defer g.waiting.Add(-1)
	<-ctx.Done()
	return ctx.Err()
}

// testPod is one collector of a DaemonSet: a receiver per tenant, all with leader election.
type testPod struct {
	id    string
	recv  map[string]receiver.Logs
	sinks map[string]*gateSink
}

// startPod starts the pod's receivers; with blockAt > 0 their consumers block from that batch on.
func startPod(t *testing.T, id string, ts *fakecpi.Tenants, base string, blockAt int, tune func(*Config)) *testPod {
	t.Helper()
	p := &testPod{id: id, recv: map[string]receiver.Logs{}, sinks: map[string]*gateSink{}}
	for _, name := range ts.Names() {
		cfg := hostedConfig(t, ts, base, name)
		cfg.Messages.PageSize = 50
		cfg.Messages.SettleDelay = 500 * time.Millisecond
		cfg.LeaderElection = testElection(id, name)
		if tune != nil {
			tune(cfg)
		}
		require.NoError(t, cfg.Validate())
		sink := &gateSink{blockAt: blockAt}
		set := receivertest.NewNopSettings(metadata.Type)
		if os.Getenv("SAPCPI_TEST_LOG") != "" {
			set.Logger = zap.Must(zap.NewDevelopment()).With(zap.String("pod", id), zap.String("tenant", name))
		}
		r, err := NewFactory().CreateLogs(t.Context(), set, cfg, sink)
		require.NoError(t, err)
		require.NoError(t, r.Start(t.Context(), componenttest.NewNopHost()))
		p.recv[name], p.sinks[name] = r, sink
	}
	t.Cleanup(func() { p.shutdown(t) }) // a no-op for a pod the test stopped
	return p
}

// shutdown stops the pod's receivers one after the other, as the collector does.
func (p *testPod) shutdown(t *testing.T) {
	t.Helper()
	for _, r := range p.recv {
		require.NoError(t, r.Shutdown(context.Background()))
	}
	p.recv = map[string]receiver.Logs{}
}

// waiting is the number of the pod's tenants whose poll waits in the consumer.
func (p *testPod) waiting() int {
	n := 0
	for _, s := range p.sinks {
		n += int(s.waiting.Load())
	}
	return n
}

// leaders maps each tenant Lease that has a holder to it.
func leaders(t *testing.T, cs *fake.Clientset) map[string]string {
	t.Helper()
	list, err := cs.CoordinationV1().Leases(testNamespace).List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	out := map[string]string{}
	for _, l := range list.Items {
		if l.Labels[labelRole] == roleTenant && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != "" {
			out[l.Name] = *l.Spec.HolderIdentity
		}
	}
	return out
}

// perPod counts the Leases each pod holds.
func perPod(holders map[string]string) map[string]int {
	out := map[string]int{}
	for _, h := range holders {
		out[h]++
	}
	return out
}

// deliveredAcross lists what every pod delivered for tenant name.
func deliveredAcross(name string, pods ...*testPod) []stateKey {
	var out []stateKey
	for _, p := range pods {
		out = append(out, delivered(p.sinks[name].AllLogs())...)
	}
	return out
}

// missing counts the messages whose final state is not among got.
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
