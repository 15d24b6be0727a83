package sapcpireceiver

import (
	"errors"
	"fmt"
	"os"
	"time"

	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
)

// LeaderElectionConfig lets several collectors (a DaemonSet) watch a tenant with only the leader
// polling. The checkpoint then lives in a ConfigMap, where the next leader reads it. With several
// tenants, the pods spread the leases among them (leader_balance.go).
type LeaderElectionConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// LeaseName is the coordination.k8s.io Lease the pods compete for (one per tenant, unique among the
	// tenants of the namespace).
	LeaseName string `mapstructure:"lease_name"`
	// Namespace of the Lease and ConfigMap; default the pod's namespace (POD_NAMESPACE or the service
	// account's namespace file).
	Namespace string `mapstructure:"namespace"`
	// Identity of this pod in the Lease; default POD_NAME, else the host name.
	Identity string `mapstructure:"identity"`
	// CheckpointConfigMap holds this tenant's checkpoints (one ConfigMap per tenant, up to 1 MiB); it
	// replaces storage when leader election is on.
	CheckpointConfigMap string `mapstructure:"checkpoint_configmap"`
	// CheckpointFlushInterval is how long a commit may wait before it is written to the ConfigMap, so
	// that the commits of a backfill (one per page) become one update; 0 writes every commit. When the
	// pollers stop (shutdown, hand-over) what waits is written before the Lease is released.
	CheckpointFlushInterval time.Duration `mapstructure:"checkpoint_flush_interval"`
	LeaseDuration           time.Duration `mapstructure:"lease_duration"`
	RenewDeadline           time.Duration `mapstructure:"renew_deadline"`
	RetryPeriod             time.Duration `mapstructure:"retry_period"`
}

func defaultLeaderElectionConfig() LeaderElectionConfig {
	return LeaderElectionConfig{
		CheckpointFlushInterval: 5 * time.Second,
		LeaseDuration:           15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second,
	}
}

// Validate checks the section; the collector prefixes the errors with "leader_election".
func (c *LeaderElectionConfig) Validate() error {
	if !c.Enabled {
		return nil
	}
	var errs []error
	if c.LeaseName == "" {
		errs = append(errs, errors.New("lease_name: required (one Lease per tenant, e.g. sapcpi-prod)"))
	}
	if c.CheckpointConfigMap == "" {
		errs = append(errs, errors.New("checkpoint_configmap: required, so that the next leader reads the checkpoint (e.g. sapcpi-prod-checkpoints)"))
	}
	if c.CheckpointFlushInterval < 0 {
		errs = append(errs, fmt.Errorf("checkpoint_flush_interval: must not be negative, got %s", c.CheckpointFlushInterval))
	}
	if !(c.RetryPeriod > 0 && c.RetryPeriod < c.RenewDeadline && c.RenewDeadline < c.LeaseDuration) {
		errs = append(errs, fmt.Errorf("need 0 < retry_period < renew_deadline < lease_duration, got %s, %s, %s", c.RetryPeriod, c.RenewDeadline, c.LeaseDuration))
	}
	return sectionErrors(errs)
}

// kubeClients are the two API groups the election and the checkpoint need. (Only these: the full
// clientset would double the size of the collector binary.)
type kubeClients struct {
	Core         corev1client.CoreV1Interface
	Coordination coordinationv1client.CoordinationV1Interface
}

// kubeClient builds the in-cluster clients; tests replace it with a fake clientset's (one per pod
// identity, where a test cuts one pod off the API).
var kubeClient = defaultKubeClient

func defaultKubeClient(LeaderElectionConfig) (kubeClients, error) {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return kubeClients{}, fmt.Errorf("leader_election needs to run in Kubernetes: %w", err)
	}
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		return kubeClients{}, err
	}
	coord, err := coordinationv1client.NewForConfig(cfg)
	if err != nil {
		return kubeClients{}, err
	}
	return kubeClients{Core: core, Coordination: coord}, nil
}

func (c *LeaderElectionConfig) namespace() string {
	if c.Namespace != "" {
		return c.Namespace
	}
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	if raw, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil {
		return string(raw)
	}
	return "default"
}

func (c *LeaderElectionConfig) identity() string {
	if c.Identity != "" {
		return c.Identity
	}
	if n := os.Getenv("POD_NAME"); n != "" {
		return n
	}
	h, _ := os.Hostname()
	return h
}
