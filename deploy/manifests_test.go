// Package deploy checks the Kubernetes manifests and Helm values strictly against the Kubernetes API
// types, so that a typo fails CI instead of a rollout. It is its own module: the receiver does not
// depend on Kubernetes libraries.
package deploy

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// objects decodes every document of the manifests in dir strictly, by kind.
func objects(t *testing.T, dirs ...string) map[string][]any {
	t.Helper()
	dir := filepath.Join(append([]string{"kubernetes"}, dirs...)...)
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	out := map[string][]any{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, doc := range bytes.Split(raw, []byte("\n---\n")) {
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			var meta struct {
				Kind string `json:"kind"`
			}
			require.NoError(t, yaml.Unmarshal(doc, &meta), f)
			var obj any
			switch meta.Kind {
			case "StatefulSet":
				obj = &appsv1.StatefulSet{}
			case "ConfigMap":
				obj = &corev1.ConfigMap{}
			case "Secret":
				obj = &corev1.Secret{}
			case "ServiceAccount":
				obj = &corev1.ServiceAccount{}
			case "Service":
				obj = &corev1.Service{}
			case "DaemonSet":
				obj = &appsv1.DaemonSet{}
			case "Role":
				obj = &rbacv1.Role{}
			case "RoleBinding":
				obj = &rbacv1.RoleBinding{}
			default:
				t.Fatalf("%s: kind %q has no check", f, meta.Kind)
			}
			require.NoError(t, yaml.UnmarshalStrict(doc, obj), "%s: %s", f, meta.Kind)
			out[meta.Kind] = append(out[meta.Kind], obj)
		}
	}
	return out
}

func TestManifestsDecodeStrictly(t *testing.T) {
	objs := objects(t)
	for _, kind := range []string{"StatefulSet", "ConfigMap", "Secret", "ServiceAccount", "Service"} {
		assert.Len(t, objs[kind], 1, kind)
	}
}

func TestStatefulSetRunsOnePollerSafely(t *testing.T) {
	sts := objects(t)["StatefulSet"][0].(*appsv1.StatefulSet)
	require.NotNil(t, sts.Spec.Replicas)
	assert.EqualValues(t, 1, *sts.Spec.Replicas, "one poller per tenant")
	pod := sts.Spec.Template.Spec
	require.NotNil(t, pod.SecurityContext.RunAsNonRoot)
	assert.True(t, *pod.SecurityContext.RunAsNonRoot)
	assert.EqualValues(t, 10001, *pod.SecurityContext.RunAsUser)
	c := pod.Containers[0]
	assert.False(t, c.Resources.Limits.Memory().IsZero(), "a memory limit")
	assert.False(t, c.Resources.Requests.Cpu().IsZero(), "a CPU request")
	var gomemlimit bool
	for _, e := range c.Env {
		gomemlimit = gomemlimit || e.Name == "GOMEMLIMIT"
	}
	assert.True(t, gomemlimit, "GOMEMLIMIT below the memory limit")
	require.NotNil(t, c.LivenessProbe)
	require.NotNil(t, c.ReadinessProbe)
	assert.Equal(t, "health", c.LivenessProbe.HTTPGet.Port.StrVal)
	assert.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	assert.Equal(t, "/var/lib/otelcol-sapcpi", mounts["checkpoints"], "the checkpoint volume")
	assert.Equal(t, "/etc/sapcpi", mounts["service-key"])
	require.Len(t, sts.Spec.VolumeClaimTemplates, 1)
	assert.Equal(t, "checkpoints", sts.Spec.VolumeClaimTemplates[0].Name)

	cm := objects(t)["ConfigMap"][0].(*corev1.ConfigMap)
	cfg := cm.Data["config.yaml"]
	assert.Contains(t, cfg, "directory: /var/lib/otelcol-sapcpi", "file_storage on the volume")
	assert.Contains(t, cfg, "service_key_file: /etc/sapcpi/service-key.json", "the mounted Secret")
	sec := objects(t)["Secret"][0].(*corev1.Secret)
	assert.Contains(t, sec.StringData, "service-key.json")
}

func TestHelmValuesDecodeAndMatchTheChartsContract(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("helm", "values.yaml"))
	require.NoError(t, err)
	var v struct {
		Mode         string `json:"mode"`
		ReplicaCount int    `json:"replicaCount"`
		Image        struct {
			Repository string `json:"repository"`
			Tag        string `json:"tag"`
		} `json:"image"`
		Command struct {
			Name string `json:"name"`
		} `json:"command"`
		UseGOMEMLIMIT     bool                        `json:"useGOMEMLIMIT"`
		Resources         corev1.ResourceRequirements `json:"resources"`
		SecurityContext   corev1.SecurityContext      `json:"securityContext"`
		ExtraVolumes      []corev1.Volume             `json:"extraVolumes"`
		ExtraVolumeMounts []corev1.VolumeMount        `json:"extraVolumeMounts"`
		StatefulSet       struct {
			VolumeClaimTemplates                 []corev1.PersistentVolumeClaim `json:"volumeClaimTemplates"`
			PersistentVolumeClaimRetentionPolicy map[string]any                 `json:"persistentVolumeClaimRetentionPolicy"`
		} `json:"statefulset"`
		Config map[string]any `json:"config"`
	}
	require.NoError(t, yaml.UnmarshalStrict(raw, &v))
	assert.Equal(t, "statefulset", v.Mode)
	assert.Equal(t, 1, v.ReplicaCount)
	assert.Equal(t, "otelcol-sapcpi", v.Command.Name, "the chart runs /<command.name>; the image has /otelcol-sapcpi")
	assert.True(t, v.UseGOMEMLIMIT)
	assert.NotEmpty(t, v.StatefulSet.VolumeClaimTemplates)
	assert.Contains(t, v.Config, "receivers")
	dockerfile, err := os.ReadFile(filepath.Join("..", "Dockerfile"))
	require.NoError(t, err)
	assert.True(t, strings.Contains(string(dockerfile), "/otelcol-sapcpi"), "the image puts the binary where command.name points")
}

func TestAlertingRulesAreWellFormed(t *testing.T) {
	alerts := map[string]string{}
	for _, file := range []string{"prometheus-rules.yaml", "operations-rules.yaml"} {
		raw, err := os.ReadFile(filepath.Join("..", "examples", "alerting", file))
		require.NoError(t, err)
		var rules struct {
			Groups []struct {
				Name  string `json:"name"`
				Rules []struct {
					Alert       string            `json:"alert"`
					Expr        string            `json:"expr"`
					For         string            `json:"for,omitempty"`
					Labels      map[string]string `json:"labels"`
					Annotations map[string]string `json:"annotations"`
				} `json:"rules"`
			} `json:"groups"`
		}
		require.NoError(t, yaml.UnmarshalStrict(raw, &rules), file)
		require.Len(t, rules.Groups, 1, file)
		for _, r := range rules.Groups[0].Rules {
			// Both files go into one Prometheus: an alert name names one rule.
			other, dup := alerts[r.Alert]
			assert.False(t, dup, "%s is in %s and in %s", r.Alert, other, file)
			alerts[r.Alert] = file
			assert.NotEmpty(t, r.Expr, r.Alert)
			assert.Contains(t, r.Expr, "sapcpi_", r.Alert)
			assert.NotEmpty(t, r.Labels["severity"], r.Alert)
			assert.NotEmpty(t, r.Annotations["summary"], r.Alert)
			assert.NotEmpty(t, r.Annotations["description"], "%s says what to check", r.Alert)
		}
	}
	for _, want := range []string{"SapCpiFailureRateHigh", "SapCpiArtifactInError", "SapCpiCertificateExpiresWithin30Days", "SapCpiJmsNearlyFull",
		"SapCpiDataStoreOverdue", "SapCpiNumberRangeNearlyExhausted", "SapCpiJmsQueueStateCritical"} {
		assert.Contains(t, alerts, want)
	}
}

func TestDaemonSetElectsOneLeaderWithNamespaceScopedRights(t *testing.T) {
	objs := objects(t, "daemonset")
	for _, kind := range []string{"DaemonSet", "ConfigMap", "ServiceAccount", "Role", "RoleBinding"} {
		require.Len(t, objs[kind], 1, kind)
	}
	ds := objs["DaemonSet"][0].(*appsv1.DaemonSet)
	c := ds.Spec.Template.Spec.Containers[0]
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			env[e.Name] = e.ValueFrom.FieldRef.FieldPath
		}
	}
	assert.Equal(t, "metadata.name", env["POD_NAME"], "the pod's identity in the Lease")
	assert.Equal(t, "metadata.namespace", env["POD_NAMESPACE"])
	assert.True(t, *ds.Spec.Template.Spec.SecurityContext.RunAsNonRoot)
	assert.False(t, c.Resources.Limits.Memory().IsZero())
	require.NotNil(t, c.LivenessProbe)

	role := objs["Role"][0].(*rbacv1.Role)
	grants := map[string][]string{}
	for _, r := range role.Rules {
		for _, res := range r.Resources {
			grants[res] = r.Verbs
		}
	}
	assert.ElementsMatch(t, []string{"get", "list", "create", "update", "delete"}, grants["leases"],
		"tenant and membership Leases: read all at once to spread the tenants, delete a pod's membership")
	assert.ElementsMatch(t, []string{"get", "create", "update"}, grants["configmaps"])
	rb := objs["RoleBinding"][0].(*rbacv1.RoleBinding)
	assert.Equal(t, ds.Spec.Template.Spec.ServiceAccountName, rb.Subjects[0].Name)
	assert.Equal(t, role.Name, rb.RoleRef.Name)

	cfg := objs["ConfigMap"][0].(*corev1.ConfigMap).Data["config.yaml"]
	var conf struct {
		Receivers map[string]struct {
			LeaderElection struct {
				Enabled             bool   `json:"enabled"`
				LeaseName           string `json:"lease_name"`
				CheckpointConfigMap string `json:"checkpoint_configmap"`
			} `json:"leader_election"`
		} `json:"receivers"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(cfg), &conf))
	require.GreaterOrEqual(t, len(conf.Receivers), 2, "the pattern for many tenants: a receiver each")
	leases, configMaps := map[string]bool{}, map[string]bool{}
	for id, r := range conf.Receivers {
		le := r.LeaderElection
		assert.True(t, le.Enabled, id)
		assert.False(t, leases[le.LeaseName], "%s: a Lease of its own", id)
		assert.False(t, configMaps[le.CheckpointConfigMap], "%s: a checkpoint ConfigMap of its own", id)
		leases[le.LeaseName], configMaps[le.CheckpointConfigMap] = true, true
	}
	assert.Equal(t, "sapcpi-service-keys", secretVolume(ds.Spec.Template.Spec.Volumes), "one Secret with a service key per tenant")
}

func secretVolume(vs []corev1.Volume) string {
	for _, v := range vs {
		if v.Secret != nil {
			return v.Secret.SecretName
		}
	}
	return ""
}
