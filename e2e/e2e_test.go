//go:build e2e

// Package e2e runs the real otelcol-sapcpi binary against the simulated tenant: with faults injected,
// killed with SIGKILL and restarted on its file_storage checkpoint, it must deliver every message's final
// state exactly once and no record twice. `make e2e` builds the binary and runs this.
package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.yaml.in/yaml/v3"

	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
)

var otelcol = flag.String("otelcol", "", "path of the otelcol-sapcpi binary")

const collectorConfig = `
extensions:
  file_storage:
    directory: %[1]s/storage
    create_directory: true
receivers:
  sapcpi/e2e:
    service_key_file: %[1]s/service-key.json
    tenant_name: e2e
    storage: file_storage
    timeout: 1s
    collection_interval: 1s
    retry_on_failure: { max_retries: 3, initial_interval: 50ms, max_interval: 200ms, max_retry_after: 200ms }
    messages:
      poll_interval: 1s
      settle_delay: 1s
      overlap: 15s
      initial_lookback: 1h
      page_size: 200
exporters:
  file/logs:
    path: %[1]s/logs.jsonl
    append: true
  file/metrics:
    path: %[1]s/metrics.jsonl
    append: true
service:
  extensions: [file_storage]
  telemetry:
    metrics:
      level: none
  pipelines:
    logs:
      receivers: [sapcpi/e2e]
      exporters: [file/logs]
    metrics:
      receivers: [sapcpi/e2e]
      exporters: [file/metrics]
`

type stateKey struct {
	guid, status string
	logEnd       time.Time
}

func TestDistributionDeliversEveryFinalStateOnceAcrossFaultsAndKill9(t *testing.T) {
	require.NotEmpty(t, *otelcol, "run with -otelcol <binary> (make e2e does)")
	dir := t.TempDir()

	liveFor := 25 * time.Second
	sim := fakecpi.New(fakecpi.Options{
		Seed: 2026, Rate: 20, LiveFor: liveFor, TimeScale: 3 * time.Second, LateBy: 3 * time.Second,
		Backlog: 600, BacklogSpan: 10 * time.Minute, SlowDelay: 1500 * time.Millisecond,
		FaultRate: 0.1, FaultKinds: append([]fakecpi.Fault{fakecpi.FaultLoginPage}, fakecpi.AllTransientFaults...),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	idle := &idleTracker{}
	srv := &http.Server{Handler: idle.wrap(sim.Handler()), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	base := "http://" + ln.Addr().String()
	id, secret := sim.Credentials()
	key, _ := json.Marshal(map[string]any{"oauth": map[string]string{"clientid": id, "clientsecret": secret, "url": base, "tokenurl": base + "/oauth/token"}})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "service-key.json"), key, 0o600))
	cfgPath := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf(collectorConfig, dir)), 0o600))
	start := time.Now()

	// First run: catch up the backlog and part of the live stream, then SIGKILL while the poller is idle
	// between two polls (a crash inside the millisecond between export and commit repeats that page;
	// see docs/reliability.md).
	first := startCollector(t, cfgPath, filepath.Join(dir, "run1.log"))
	require.Eventually(t, func() bool { return countRecords(t, filepath.Join(dir, "logs.jsonl")) >= 600 }, 60*time.Second, 200*time.Millisecond)
	time.Sleep(3 * time.Second)
	require.Eventually(t, func() bool {
		d := idle.since()
		return d >= 300*time.Millisecond && d <= 600*time.Millisecond
	}, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_ = first.Wait()
	killedAt := countRecords(t, filepath.Join(dir, "logs.jsonl"))
	t.Logf("killed with %d records exported", killedAt)

	// Second run resumes from the checkpoint and sees the rest of the stream.
	second := startCollector(t, cfgPath, filepath.Join(dir, "run2.log"))
	endOfTruth := start.Add(liveFor + 4*3*time.Second)
	time.Sleep(time.Until(endOfTruth.Add(8 * time.Second)))
	sim.SetFaultRate(0)
	truth := sim.Truth()
	var got []stateKey
	require.Eventually(t, func() bool {
		got = readStates(t, filepath.Join(dir, "logs.jsonl"))
		return missingFinals(truth, got) == 0
	}, 60*time.Second, time.Second, "every final state arrives")
	require.NoError(t, second.Process.Signal(syscall.SIGTERM))
	require.NoError(t, second.Wait(), "graceful shutdown")

	got = readStates(t, filepath.Join(dir, "logs.jsonl"))
	seen := map[stateKey]int{}
	for _, k := range got {
		seen[k]++
	}
	for k, n := range seen {
		assert.Equal(t, 1, n, "state %v delivered %d times", k, n)
	}
	assert.Zero(t, missingFinals(truth, got))
	stats := sim.Stats()
	t.Logf("%d messages, %d records, %d API requests, faults injected %v, tokens issued %d",
		len(truth), len(got), stats.APIRequests, stats.FaultsInjected, stats.TokensIssued)
	assert.Greater(t, len(truth), 1000)
	assert.Positive(t, stats.FaultsInjected[fakecpi.FaultTruncated]+stats.FaultsInjected[fakecpi.FaultServerError])
	assert.Greater(t, killedAt, 0)
	assert.Less(t, killedAt, len(got), "the second run delivered more after the kill")
	assert.True(t, hasMessageCount(t, filepath.Join(dir, "metrics.jsonl")), "sapcpi.messages reached the metrics pipeline")
}

func startCollector(t *testing.T, cfgPath, logPath string) *exec.Cmd {
	t.Helper()
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	cmd := exec.Command(*otelcol, "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		logFile.Close()
		if t.Failed() {
			raw, _ := os.ReadFile(logPath)
			t.Logf("collector log %s:\n%s", logPath, tail(string(raw), 4000))
		}
	})
	return cmd
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// idleTracker remembers when the tenant last answered an API request.
type idleTracker struct {
	last atomicTime
}

func (i *idleTracker) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i.last.store(time.Now())
		h.ServeHTTP(w, r)
		i.last.store(time.Now())
	})
}

func (i *idleTracker) since() time.Duration { return time.Since(i.last.load()) }

func readLogs(t *testing.T, path string) []plog.Logs {
	t.Helper()
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var out []plog.Logs
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	var u plog.JSONUnmarshaler
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		ld, err := u.UnmarshalLogs(line)
		if err != nil {
			// The last line may be half-written when the process was killed mid-write.
			continue
		}
		out = append(out, ld)
	}
	return out
}

func readStates(t *testing.T, path string) []stateKey {
	var out []stateKey
	for _, ld := range readLogs(t, path) {
		rls := ld.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			sls := rls.At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					lr := lrs.At(k)
					if lr.EventName() != "sap.cpi.message" {
						continue // inventory records share the pipeline
					}
					id, _ := lr.Attributes().Get("sap.cpi.message.id")
					st, _ := lr.Attributes().Get("sap.cpi.message.status")
					out = append(out, stateKey{id.Str(), st.Str(), lr.Timestamp().AsTime().UTC()})
				}
			}
		}
	}
	return out
}

func countRecords(t *testing.T, path string) int { return len(readStates(t, path)) }

func missingFinals(truth []fakecpi.Truth, got []stateKey) int {
	seen := map[stateKey]bool{}
	for _, k := range got {
		seen[k] = true
	}
	missing := 0
	for _, m := range truth {
		f := m.Final()
		if !seen[stateKey{m.MessageGUID, f.Status, f.LogEnd.UTC()}] {
			missing++
		}
	}
	return missing
}

func hasMessageCount(t *testing.T, path string) bool {
	raw, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	var u pmetric.JSONUnmarshaler
	for _, line := range strings.Split(string(raw), "\n") {
		md, err := u.UnmarshalMetrics([]byte(line))
		if err != nil {
			continue
		}
		rms := md.ResourceMetrics()
		for i := 0; i < rms.Len(); i++ {
			sms := rms.At(i).ScopeMetrics()
			for j := 0; j < sms.Len(); j++ {
				ms := sms.At(j).Metrics()
				for k := 0; k < ms.Len(); k++ {
					if ms.At(k).Name() == "sapcpi.messages" {
						return true
					}
				}
			}
		}
	}
	return false
}

type atomicTime struct{ ns atomic.Int64 }

func (a *atomicTime) store(t time.Time) { a.ns.Store(t.UnixNano()) }
func (a *atomicTime) load() time.Time   { return time.Unix(0, a.ns.Load()) }

// The shipped example configurations must be valid for the shipped binary.
func TestExamplesValidateWithTheDistribution(t *testing.T) {
	require.NotEmpty(t, *otelcol, "run with -otelcol <binary> (make e2e does)")
	key := filepath.Join("..", "testdata", "service-key.json")
	env := append(os.Environ(),
		"SAPCPI_SERVICE_KEY="+key, "SAPCPI_AUDIT_KEY="+filepath.Join("..", "testdata", "audit-service-key.json"), "OTLP_ENDPOINT=https://otlp.example.com", "OTLP_GRPC_ENDPOINT=otlp.example.com:4317",
		"NEO_ACCOUNT=acme", "LOKI_OTLP_ENDPOINT=http://loki:3100/otlp", "ELASTIC_OTLP_ENDPOINT=apm:8200", "ELASTIC_API_KEY=k", "NEO_CLIENT_ID=id", "NEO_CLIENT_SECRET=secret", "CPI_CLIENT_ID=id", "STORAGE_DIR="+t.TempDir(),
		"RUNDIR="+t.TempDir())
	require.NoError(t, os.WriteFile(filepath.Join(envDir(env), "service-key.json"), mustRead(t, key), 0o600))
	for _, k := range []string{"calm-service-key.json", "audit-service-key.json"} {
		require.NoError(t, os.WriteFile(filepath.Join(envDir(env), k), mustRead(t, filepath.Join("..", "testdata", k)), 0o600))
	}
	examples, err := filepath.Glob(filepath.Join("..", "examples", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, examples)
	for _, ex := range examples {
		t.Run(filepath.Base(ex), func(t *testing.T) {
			cmd := exec.Command(*otelcol, "validate", "--config", ex)
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			assert.NoError(t, err, "%s", out)
		})
	}
}

func envDir(env []string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "RUNDIR="); ok {
			return v
		}
	}
	return ""
}

func mustRead(t *testing.T, path string) []byte {
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	return raw
}

// The collector configurations of the Kubernetes ConfigMap and of the Helm values must be valid for the
// shipped binary too.
func TestDeployConfigsValidateWithTheDistribution(t *testing.T) {
	require.NotEmpty(t, *otelcol, "run with -otelcol <binary> (make e2e does)")
	dir := t.TempDir()
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	require.NoError(t, yaml.Unmarshal(mustRead(t, filepath.Join("..", "deploy", "kubernetes", "configmap.yaml")), &cm))
	var dsCM struct {
		Data map[string]string `yaml:"data"`
	}
	require.NoError(t, yaml.Unmarshal(mustRead(t, filepath.Join("..", "deploy", "kubernetes", "daemonset", "configmap.yaml")), &dsCM))
	var values struct {
		Config map[string]any `yaml:"config"`
	}
	require.NoError(t, yaml.Unmarshal(mustRead(t, filepath.Join("..", "deploy", "helm", "values.yaml")), &values))
	// Helm deletes keys set to null from the chart's defaults (the values drop its traces pipeline so).
	helmCfg, err := yaml.Marshal(dropNulls(values.Config))
	require.NoError(t, err)
	for name, cfg := range map[string]string{"configmap": cm.Data["config.yaml"], "daemonset": dsCM.Data["config.yaml"], "helm": string(helmCfg)} {
		t.Run(name, func(t *testing.T) {
			require.NotEmpty(t, cfg)
			// The pods mount the service keys at /etc/sapcpi (one per tenant in the DaemonSet); here a test
			// key stands in for each.
			cfg = mountedKey.ReplaceAllLiteralString(cfg, filepath.Join("..", "testdata", "service-key.json"))
			cfg = strings.ReplaceAll(cfg, "/var/lib/otelcol-sapcpi", filepath.Join(dir, name))
			path := filepath.Join(dir, name+".yaml")
			require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
			cmd := exec.Command(*otelcol, "validate", "--config", path)
			cmd.Env = append(os.Environ(), "OTLP_ENDPOINT=https://otlp.example.com", "MY_POD_IP=127.0.0.1")
			out, err := cmd.CombinedOutput()
			assert.NoError(t, err, "%s", out)
		})
	}
}

var mountedKey = regexp.MustCompile(`/etc/sapcpi/[-a-z0-9]+\.json`)

func dropNulls(m map[string]any) map[string]any {
	for k, v := range m {
		switch x := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			m[k] = dropNulls(x)
		}
	}
	return m
}
