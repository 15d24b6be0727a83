//go:build e2e

package e2e

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/fakepush"
	"github.com/sapcpi-otel/sapcpireceiver/internal/push"
)

var (
	prometheusBin = flag.String("prometheus", "prometheus", "path of the prometheus binary (Debian: apt-get install -y prometheus)")
	renderDir     = flag.String("render", "", "write an HTML rendering of the dashboards and alerts from the live data to this folder")
)

// The alerts the live run must see firing (an epoch is the simulation's TimeScale, 20 s here): the
// simulated tenant has failed messages from its backlog on, Send_Invoice_to_Ariba in ERROR from its
// second epoch, certificate supplier_portal 20 days from expiry until its fifth, PO_Number_Range past
// 90 % without rotation from the start, External Logging failing to send in epochs 1–2, queue
// JMS_DEADLETTER critical in epoch 2 and PO_Retry_Store overdue in epochs 2–4.
var mustFire = []string{
	"SapCpiMessagesFailed", "SapCpiArtifactInError", "SapCpiCertificateExpiresWithin30Days",
	"SapCpiNumberRangeNearlyExhausted", "SapCpiExternalLoggingPushFailing", "SapCpiJmsQueueStateCritical",
	"SapCpiDataStoreOverdue",
}

// notShown are the series the receiver serves that no panel or rule reads, and why; every other sapcpi_
// series the live run produces must be read by one (the check fails on a new metric nobody shows).
var notShown = map[string]string{
	"sapcpi_message_duration_seconds_total": "deprecated: the histogram sapcpi_message_duration_seconds replaces it",
	"sapcpi_message_duration_max_seconds":   "deprecated: the histogram sapcpi_message_duration_seconds replaces it",
	"sapcpi_message_duration_seconds_sum":   "part of the histogram; the panels read its _bucket series",
	"sapcpi_message_duration_seconds_count": "part of the histogram; sapcpi_messages_total counts the messages",
	"sapcpi_resource_usage_total_available": "the denominator of sapcpi_resource_usage_utilization_ratio, which the panels show",
}

// TestDashboardsAndAlertsOnARealPrometheus runs the distribution with the prometheus exporter against
// the simulated tenant (its operational sources switched on, SAP's push simulated, traces read), lets a
// real Prometheus scrape it and evaluate the shipped rules of both files, and then proves that every
// metric and label the Grafana dashboards and the alert rules use exists with data, that every
// Prometheus panel query returns data, that every series the receiver serves is read by a panel or rule
// (or listed in notShown), and that the alerts of mustFire fire.
func TestDashboardsAndAlertsOnARealPrometheus(t *testing.T) {
	require.NotEmpty(t, *otelcol, "run with -otelcol <binary> (make prometheus-test does)")
	promPath, err := exec.LookPath(*prometheusBin)
	if err != nil {
		t.Fatalf("the prometheus binary %q is not installed: install Prometheus (Debian and Ubuntu: apt-get install -y prometheus, which brings promtool too) or pass -prometheus <path>", *prometheusBin)
	}
	boards := loadDashboards(t)
	rules := loadRules(t)
	dir := t.TempDir()

	// The simulated tenant: a backlog with failures and live traffic; the only faults are the two the
	// receiver-health dashboard and alerts are about, so that their series exist too: now and then a 429
	// (retried), and a role missing for LogFiles (403, as when NodeManager.read is not granted). A Cloud
	// Foundry tenant, because External Logging exists only there.
	sim := fakecpi.New(fakecpi.Options{
		Seed: 7, Rate: 5, TimeScale: 20 * time.Second, Backlog: 400, BacklogSpan: 15 * time.Minute,
		FaultRate: 0.06, FaultKinds: []fakecpi.Fault{fakecpi.FaultThrottle}, ForbiddenPaths: []string{"LogFiles"},
		CloudFoundry: true,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	base := "http://" + ln.Addr().String()
	id, secret := sim.Credentials()
	key, _ := json.Marshal(map[string]any{"oauth": map[string]string{"clientid": id, "clientsecret": secret, "url": base, "tokenurl": base + "/oauth/token"}})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "service-key.json"), key, 0o600))

	exporterAddr, promAddr, pushAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	collectorCfg := filepath.Join(dir, "collector.yaml")
	require.NoError(t, os.WriteFile(collectorCfg, []byte(liveCollectorConfig(t, dir, exporterAddr, pushAddr)), 0o600))
	var ruleCopies []string
	for _, f := range writeTestRules(t, dir, "2s") {
		ruleCopies = append(ruleCopies, strconv.Quote(f))
	}
	promCfg := filepath.Join(dir, "prometheus.yaml")
	require.NoError(t, os.WriteFile(promCfg, []byte(fmt.Sprintf(`global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: [%s]
scrape_configs:
  - job_name: sapcpi
    static_configs: [{ targets: [%q] }]
`, strings.Join(ruleCopies, ", "), exporterAddr)), 0o600))

	// SAP's External Logging pushing the tenant's MPL states to the receiver's push endpoint, window by
	// window (the pull de-duplicates against it), so that the push panels have data.
	pushOpts := fakepush.Defaults(fakepush.TargetOTEL, "http://"+pushAddr+"/v1/logs")
	pushOpts.TenantURL = base
	pusher, err := fakepush.New(sim, pushOpts)
	require.NoError(t, err)

	prom := &promClient{base: "http://" + promAddr, hc: &http.Client{Timeout: 10 * time.Second}}
	startProcess(t, filepath.Join(dir, "prometheus.log"), promPath, "--config.file="+promCfg,
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+promAddr, "--log.level=warn")
	require.Eventually(t, prom.ready, 30*time.Second, 200*time.Millisecond, "prometheus answers /-/ready")
	startProcess(t, filepath.Join(dir, "collector.log"), *otelcol, "--config", collectorCfg)
	started := time.Now()
	pushing := startPushing(pusher)
	redelivered := false

	// Watch the alerts until those that must fire have, and at least a minute of data is stored.
	fired := map[string]promAlert{}
	firedAfter := map[string]time.Duration{}
	deadline := started.Add(150 * time.Second)
	for time.Now().Before(deadline) {
		if pushed := pusher.Pushed(); !redelivered && len(pushed) > 0 {
			pushTheUnusual(t, "http://"+pushAddr+"/sapcpi/v1/mpl", pushed[0])
			redelivered = true
		}
		alerts, err := prom.alerts()
		if err == nil {
			for _, a := range alerts {
				if a.State == "firing" {
					if _, ok := fired[a.Labels["alertname"]]; !ok {
						t.Logf("%5.1fs  %s firing %v", time.Since(started).Seconds(), a.Labels["alertname"], a.Labels)
						fired[a.Labels["alertname"]] = a
						firedAfter[a.Labels["alertname"]] = time.Since(started)
					}
				}
			}
		}
		if allFired(fired) && time.Since(started) > 60*time.Second {
			break
		}
		time.Sleep(time.Second)
	}
	pushing.pause()
	for _, name := range mustFire {
		assert.Contains(t, fired, name, "alert %s reaches firing", name)
	}
	assert.True(t, redelivered, "the pusher delivered a window, so that a redelivery could follow")
	now := time.Now()

	c := &liveCheck{t: t, prom: prom, at: now, labelsOf: map[string]map[string]bool{}}

	// 1. Template variables: label_values(<selector>, <label>) finds values.
	for _, d := range boards {
		names := map[string]bool{}
		for _, v := range d.Templating.List {
			names[v.Name] = true
			if v.Type != "query" {
				continue
			}
			c.variable(d, v)
		}
		for _, want := range []string{"DS_PROMETHEUS", "DS_LOKI", "tenant", "iflow"} {
			assert.True(t, names[want], "%s has template variable %s", d.File, want)
		}
	}

	// 2. Every panel query: Prometheus ones run, Loki ones checked against the receiver's records.
	records := lokiRecords(readLogs(t, filepath.Join(dir, "logs.jsonl")))
	var lokiPanels []string
	for _, d := range boards {
		for _, p := range d.allPanels() {
			for _, tg := range p.Targets {
				switch ds := datasourceOf(p, tg); ds {
				case dsPrometheus:
					c.panelQuery(d, p, tg)
				case dsLoki:
					lokiPanels = append(lokiPanels, d.File+": "+p.Title)
					c.lokiQuery(d, p, tg, records)
				default:
					t.Errorf("%s panel %q: data source %q is neither %s nor %s", d.File, p.Title, ds, dsPrometheus, dsLoki)
				}
			}
			if p.Type != "row" && p.Type != "text" && len(p.Targets) == 0 {
				t.Errorf("%s panel %q has no query", d.File, p.Title)
			}
		}
	}

	// 3. Every rule: its selectors have data, the labels it groups by and prints exist.
	for _, r := range rules {
		c.rule(r, fired[r.Alert])
	}

	// 4. The promtool unit tests feed series shaped like the real ones.
	c.ruleTestShapes(ruleTestSeries(t), now.Sub(started))

	// 5. Every series the receiver served in the run is read by a panel or a rule, or listed in notShown.
	served, read, excused := c.coverage(boards, rules, started)

	ps := pusher.Stats()
	t.Logf("checked %d Prometheus panel queries (%d selectors) on %d dashboards and %d template variables; "+
		"%d alert rules in %d files (%d selectors); %d Loki panels not checkable by Prometheus, their records and fields found in the receiver's output: %s; "+
		"%d promtool input series shapes; %d sapcpi_ metric names served, %d of them read by a panel or rule, %d not shown by design; "+
		"push: %d events in %d requests from the simulated External Logging; alerts that fired: %s",
		c.panelQueries, c.panelSelectors, len(boards), c.variables, len(rules), len(ruleFiles), c.ruleSelectors,
		len(lokiPanels), strings.Join(lokiPanels, "; "), c.shapes, served, read, excused,
		ps.SentEvents, ps.Requests, strings.Join(sortedKeys(fired), ", "))

	if *renderDir != "" {
		renderAll(t, *renderDir, boards, prom, records, firedAfter, started, now)
	}
}

func allFired(fired map[string]promAlert) bool {
	for _, n := range mustFire {
		if _, ok := fired[n]; !ok {
			return false
		}
	}
	return true
}

// pushTheUnusual posts, through the JSON target, what SAP's push does now and then but the simulator
// does not: a state delivered before, sent again with a key SAP might add one day (the receiver counts
// the key in sapcpi.push.unknown_fields and the event as a duplicate, so no message counts twice), and a
// body cut off in transit (refused with 400). The push panels then show every outcome they are about.
func pushTheUnusual(t *testing.T, url string, k fakepush.StateKey) {
	t.Helper()
	dates, err := push.ParseDateFormat(push.DefaultDateFormat)
	require.NoError(t, err)
	again, err := json.Marshal(map[string]any{
		"MessageGuid": k.MessageGuid, "Status": k.Status, "LogEnd": dates.Format(k.LogEnd), "ProcessingNode": "worker-3",
	})
	require.NoError(t, err)
	for _, c := range []struct {
		body   string
		status int
	}{{string(again), http.StatusNoContent}, {string(again[:len(again)/2]), http.StatusBadRequest}} {
		resp, err := http.Post(url, "application/json", strings.NewReader(c.body))
		require.NoError(t, err)
		reply, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, c.status, resp.StatusCode, "the JSON push endpoint answers %d: %s", c.status, reply)
	}
}

// liveCollectorConfig is the collector for the live run: the receiver polling fast, with every
// operational source on (the opt-in ones too), its push endpoint and a traces pipeline; and the
// prometheus exporter exactly as examples/prometheus.yaml configures it, but on a free loopback port and
// with a short metric_expiration to suit one-second collections.
func liveCollectorConfig(t *testing.T, dir, exporterAddr, pushAddr string) string {
	t.Helper()
	var example struct {
		Exporters map[string]map[string]any `yaml:"exporters"`
	}
	require.NoError(t, yaml.Unmarshal(mustRead(t, filepath.Join("..", "examples", "prometheus.yaml")), &example))
	exporter := example.Exporters["prometheus"]
	require.NotNil(t, exporter, "examples/prometheus.yaml has a prometheus exporter")
	exporter["endpoint"] = exporterAddr
	exporter["metric_expiration"] = "15s"
	raw, err := yaml.Marshal(map[string]any{
		"receivers": map[string]any{"sapcpi/live": map[string]any{
			"service_key_file": filepath.Join(dir, "service-key.json"), "tenant_name": "live",
			"collection_interval": "1s", "timeout": "5s",
			"retry_on_failure": map[string]any{"max_retries": 3, "initial_interval": "50ms", "max_interval": "200ms", "max_retry_after": "1s"},
			"messages":         map[string]any{"poll_interval": "1s", "settle_delay": "1s", "overlap": "15s", "initial_lookback": "1h"},
			"inventory": map[string]any{
				"runtime_artifacts": map[string]any{"interval": "10s"}, "service_endpoints": map[string]any{"interval": "10s"},
				"keystores": map[string]any{"interval": "10s"}, "packages": map[string]any{"enabled": true, "interval": "10s"},
				"jms": map[string]any{"interval": "10s"},
			},
			"audit_logs": map[string]any{"enabled": false}, "log_files": map[string]any{"poll_interval": "10s"},
			// The sources change with the simulation's 20 s epochs: read them at the shortest interval
			// allowed. Resource usage is hourly and read at the start (initial_lookback).
			"operations": map[string]any{
				"data_stores": map[string]any{"enabled": true, "interval": "10s"}, "number_ranges": map[string]any{"interval": "10s"},
				"archiving": map[string]any{"interval": "10s"}, "external_logging": map[string]any{"enabled": true, "interval": "10s"},
				"queues": map[string]any{"enabled": true, "interval": "10s"}, "access_policies": map[string]any{"enabled": true, "interval": "10s"},
			},
			// Runs and steps of FAILED and ESCALATED messages (the default) give sapcpi.message.failed_steps.
			"traces": map[string]any{"changeable_status_delay": "5s"},
			"push":   map[string]any{"enabled": true, "endpoint": pushAddr},
		}},
		"exporters": map[string]any{
			"prometheus":  exporter,
			"file/logs":   map[string]any{"path": filepath.Join(dir, "logs.jsonl"), "append": true},
			"file/traces": map[string]any{"path": filepath.Join(dir, "traces.jsonl")},
		},
		"service": map[string]any{
			"telemetry": map[string]any{"metrics": map[string]any{"level": "none"}},
			"pipelines": map[string]any{
				"metrics": map[string]any{"receivers": []string{"sapcpi/live"}, "exporters": []string{"prometheus"}},
				"logs":    map[string]any{"receivers": []string{"sapcpi/live"}, "exporters": []string{"file/logs"}},
				"traces":  map[string]any{"receivers": []string{"sapcpi/live"}, "exporters": []string{"file/traces"}},
			},
		},
	})
	require.NoError(t, err)
	return string(raw)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// startProcess runs a program until the test ends: SIGTERM, then SIGKILL after 10 s; its output goes to
// logPath and is shown when the test failed.
func startProcess(t *testing.T, logPath, bin string, args ...string) {
	t.Helper()
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logFile.Close()
		if t.Failed() {
			raw, _ := os.ReadFile(logPath)
			t.Logf("%s log:\n%s", filepath.Base(bin), tail(string(raw), 4000))
		}
	})
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// --- what is checked -------------------------------------------------------------------------------

type liveCheck struct {
	t    *testing.T
	prom *promClient
	at   time.Time
	// labelsOf caches the label names of a selector's series.
	labelsOf                                                       map[string]map[string]bool
	variables, panelQueries, panelSelectors, ruleSelectors, shapes int
}

// selectorLabels returns the label names of the series a selector matches, failing when it matches
// nothing with data now (or, for a selector read over a range, within that range).
func (c *liveCheck) selectorLabels(where string, sel selector) map[string]bool {
	if l, ok := c.labelsOf[sel.String()]; ok {
		return l
	}
	res, err := c.prom.query(sel.live(), c.at)
	names := map[string]bool{}
	if !assert.NoError(c.t, err, "%s: selector %s", where, sel) {
		return names
	}
	assert.NotEmpty(c.t, res, "%s: selector %s matches no series with data", where, sel)
	for _, s := range res {
		for k := range s.Metric {
			names[k] = true
		}
	}
	c.labelsOf[sel.String()] = names
	return names
}

// exprLabels checks the selectors of an expression and returns the union of their label names.
func (c *liveCheck) exprLabels(where, expr string) (map[string]bool, int) {
	sels := selectors(expr)
	assert.NotEmpty(c.t, sels, "%s: %q has no sapcpi_ selector", where, expr)
	union := map[string]bool{}
	for _, sel := range sels {
		for k := range c.selectorLabels(where, sel) {
			union[k] = true
		}
	}
	for _, l := range groupingLabels(expr) {
		assert.True(c.t, union[l], "%s: groups by %s, which none of %v has", where, l, sels)
	}
	return union, len(sels)
}

func (c *liveCheck) variable(d dashboard, v variable) {
	where := fmt.Sprintf("%s variable %s", d.File, v.Name)
	m := labelValRE.FindStringSubmatch(v.Definition)
	if !assert.NotNil(c.t, m, "%s: %q is not label_values(<selector>, <label>)", where, v.Definition) {
		return
	}
	expr, err := substitute(m[1])
	if !assert.NoError(c.t, err, where) {
		return
	}
	res, err := c.prom.query(expr, c.at)
	if assert.NoError(c.t, err, where) {
		values := map[string]bool{}
		for _, s := range res {
			if s.Metric[m[2]] != "" {
				values[s.Metric[m[2]]] = true
			}
		}
		assert.NotEmpty(c.t, values, "%s: no series of %s has label %s", where, expr, m[2])
	}
	assert.Equal(c.t, ".+", v.AllValue, "%s: All must be .+ (Loki refuses a stream selector that matches empty)", where)
	c.variables++
}

func (c *liveCheck) panelQuery(d dashboard, p panel, tg target) {
	where := fmt.Sprintf("%s panel %q query %s", d.File, p.Title, tg.RefID)
	expr, err := substitute(tg.Expr)
	if !assert.NoError(c.t, err, where) {
		return
	}
	c.panelQueries++
	union, n := c.exprLabels(where, expr)
	c.panelSelectors += n
	res, err := c.prom.query(expr, c.at)
	if !assert.NoError(c.t, err, "%s: %s", where, expr) {
		return
	}
	finite := 0
	for _, s := range res {
		if !math.IsNaN(s.value()) && !math.IsInf(s.value(), 0) {
			finite++
		}
	}
	assert.Positive(c.t, finite, "%s returns no data: %s", where, expr)
	for _, l := range legendLabels(tg.LegendFormat) {
		assert.True(c.t, union[l], "%s: legend uses %s, which its series do not have", where, l)
		for _, s := range res {
			assert.Contains(c.t, s.Metric, l, "%s: legend label %s missing on a result series", where, l)
		}
	}
	for _, l := range tableLabelColumns(p) {
		for _, s := range res {
			assert.Contains(c.t, s.Metric, l, "%s: table column %s missing on a result series", where, l)
		}
	}
}

func (c *liveCheck) lokiQuery(d dashboard, p panel, tg target, records []lokiRecord) {
	where := fmt.Sprintf("%s Loki panel %q", d.File, p.Title)
	expr, err := substitute(tg.Expr)
	if !assert.NoError(c.t, err, where) {
		return
	}
	q, err := parseLogQuery(expr)
	if !assert.NoError(c.t, err, where) {
		return
	}
	var matched []lokiRecord
	for _, r := range records {
		if q.matches(r.labels) {
			matched = append(matched, r)
		}
	}
	if !assert.NotEmpty(c.t, matched, "%s: no record of the receiver matches %s", where, expr) {
		return
	}
	for _, col := range lokiColumns(p) {
		found := false
		for _, r := range matched {
			if r.labels[col] != "" {
				found = true
				break
			}
		}
		assert.True(c.t, found, "%s: column %s is on none of the %d matching records", where, col, len(matched))
	}
}

func (c *liveCheck) rule(r rule, fired promAlert) {
	where := "rule " + r.Alert
	union, n := c.exprLabels(where, r.Expr)
	c.ruleSelectors += n
	grouped := groupingLabels(r.Expr)
	for _, text := range r.Annotations {
		for _, m := range labelsRefs.FindAllStringSubmatch(text, -1) {
			l := m[1]
			if len(grouped) > 0 {
				assert.Contains(c.t, grouped, l, "%s: an annotation prints $labels.%s, which the expression aggregates away", where, l)
			} else {
				assert.True(c.t, union[l], "%s: an annotation prints $labels.%s, which its series do not have", where, l)
			}
			if fired.Labels != nil {
				assert.NotEmpty(c.t, fired.Labels[l], "%s fired without label %s", where, l)
			}
		}
	}
}

// ruleTestShapes compares each promtool input series' label names with those of a live series of the
// same metric seen during the run (Prometheus drops empty labels, so otel_scope_schema_url="" is absent
// on both; hourly figures are on /metrics only for a while after each delivery).
func (c *liveCheck) ruleTestShapes(shapes map[string][]string, run time.Duration) {
	window := fmt.Sprintf("%ds", int(run.Seconds())+1)
	for key, names := range shapes {
		metric, _, _ := strings.Cut(key, " ")
		res, err := c.prom.query("last_over_time("+metric+"["+window+"])", c.at)
		if !assert.NoError(c.t, err) {
			continue
		}
		want := strings.Join(names, ",")
		var seen []string
		match := false
		for _, s := range res {
			live := sortedKeys(s.Metric)
			live = slicesDelete(live, "__name__")
			if strings.Join(live, ",") == want {
				match = true
				break
			}
			seen = append(seen, strings.Join(live, ","))
		}
		assert.True(c.t, match, "promtool input series of %s has labels %s; the live series have %v", metric, want, uniq(seen))
		c.shapes++
	}
}

// coverage fails for a metric the receiver served during the run that no panel or rule reads and
// notShown does not list, and for a notShown entry that a panel or rule does read. It returns how many
// sapcpi_ names were served, how many of them a panel or rule reads, and how many notShown excuses.
func (c *liveCheck) coverage(boards []dashboard, rules []rule, since time.Time) (served, read, excused int) {
	used := map[string]bool{}
	for _, d := range boards {
		for _, p := range d.allPanels() {
			for _, tg := range p.Targets {
				if datasourceOf(p, tg) == dsPrometheus {
					for _, n := range metricNames(tg.Expr) {
						used[n] = true
					}
				}
			}
		}
		for _, v := range d.Templating.List {
			for _, n := range metricNames(v.Definition) {
				used[n] = true
			}
		}
	}
	for _, r := range rules {
		for _, n := range metricNames(r.Expr) {
			used[n] = true
		}
	}
	names, err := c.prom.metricNames(`{__name__=~"sapcpi_.+"}`, since, c.at)
	if !assert.NoError(c.t, err) {
		return 0, 0, 0
	}
	for _, n := range names {
		_, listed := notShown[n]
		switch {
		case used[n]:
			read++
			assert.False(c.t, listed, "notShown lists %s, which a panel or rule reads: drop it from the list", n)
		case listed:
			excused++
		default:
			c.t.Errorf("%s has data, but no dashboard panel or alert rule reads it: add a panel, or list it in notShown with the reason", n)
		}
	}
	return len(names), read, excused
}

func slicesDelete(s []string, v string) []string {
	out := s[:0]
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

func uniq(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// --- Prometheus HTTP API ---------------------------------------------------------------------------

type promClient struct {
	base string
	hc   *http.Client
}

type promSeries struct {
	Metric map[string]string `json:"metric"`
	Value  []any             `json:"value"`
	Values [][]any           `json:"values"`
}

func (s promSeries) value() float64 {
	if len(s.Value) == 2 {
		return sampleValue(s.Value)
	}
	if n := len(s.Values); n > 0 {
		return sampleValue(s.Values[n-1])
	}
	return math.NaN()
}

func sampleValue(p []any) float64 {
	str, _ := p[1].(string)
	v, err := strconv.ParseFloat(str, 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

type promAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	ActiveAt    time.Time         `json:"activeAt"`
	Value       string            `json:"value"`
}

func (p *promClient) ready() bool {
	resp, err := p.hc.Get(p.base + "/-/ready")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (p *promClient) get(path string, params url.Values, into any) error {
	resp, err := p.hc.Get(p.base + path + "?" + params.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var env struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("%s: %s: %w", path, resp.Status, err)
	}
	if env.Status != "success" {
		return fmt.Errorf("%s %v: %s", path, params, env.Error)
	}
	return json.Unmarshal(env.Data, into)
}

// query runs an instant query; a scalar answer comes back as one series without labels.
func (p *promClient) query(expr string, at time.Time) ([]promSeries, error) {
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := p.get("/api/v1/query", url.Values{"query": {expr}, "time": {formatTime(at)}}, &data); err != nil {
		return nil, err
	}
	if data.ResultType == "scalar" {
		var v []any
		if err := json.Unmarshal(data.Result, &v); err != nil {
			return nil, err
		}
		return []promSeries{{Metric: map[string]string{}, Value: v}}, nil
	}
	var out []promSeries
	return out, json.Unmarshal(data.Result, &out)
}

func (p *promClient) queryRange(expr string, start, end time.Time, step time.Duration) ([]promSeries, error) {
	var data struct {
		Result []promSeries `json:"result"`
	}
	err := p.get("/api/v1/query_range", url.Values{"query": {expr}, "start": {formatTime(start)}, "end": {formatTime(end)},
		"step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}}, &data)
	return data.Result, err
}

// metricNames are the metric names with samples between start and end among the series match selects.
func (p *promClient) metricNames(match string, start, end time.Time) ([]string, error) {
	var names []string
	err := p.get("/api/v1/label/__name__/values", url.Values{"match[]": {match}, "start": {formatTime(start)}, "end": {formatTime(end)}}, &names)
	sort.Strings(names)
	return names, err
}

func (p *promClient) alerts() ([]promAlert, error) {
	var data struct {
		Alerts []promAlert `json:"alerts"`
	}
	return data.Alerts, p.get("/api/v1/alerts", url.Values{}, &data)
}

type promRule struct {
	Name   string            `json:"name"`
	Query  string            `json:"query"`
	State  string            `json:"state"`
	Health string            `json:"health"`
	Labels map[string]string `json:"labels"`
	Alerts []promAlert       `json:"alerts"`
}

func (p *promClient) rules() ([]promRule, error) {
	var data struct {
		Groups []struct {
			Rules []promRule `json:"rules"`
		} `json:"groups"`
	}
	if err := p.get("/api/v1/rules", url.Values{"type": {"alert"}}, &data); err != nil {
		return nil, err
	}
	var out []promRule
	for _, g := range data.Groups {
		out = append(out, g.Rules...)
	}
	return out, nil
}

func formatTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}
