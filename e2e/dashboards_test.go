//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.yaml.in/yaml/v3"
)

// What the live Prometheus test reads from the shipped Grafana dashboards and alert rules: the queries,
// their selectors and the labels they group by or print. The parsing is deliberately small; it knows the
// shapes these files use and fails on anything else rather than skip it.

const (
	dsPrometheus = "${DS_PROMETHEUS}"
	dsLoki       = "${DS_LOKI}"
)

type dashboard struct {
	File       string  `json:"-"`
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID              int              `json:"id"`
	Type            string           `json:"type"`
	Title           string           `json:"title"`
	Datasource      *datasourceRef   `json:"datasource"`
	Targets         []target         `json:"targets"`
	Panels          []panel          `json:"panels"` // a collapsed row's panels
	GridPos         gridPos          `json:"gridPos"`
	FieldConfig     fieldConfig      `json:"fieldConfig"`
	Transformations []transformation `json:"transformations"`
	Options         struct {
		SortBy []struct {
			DisplayName string `json:"displayName"`
			Desc        bool   `json:"desc"`
		} `json:"sortBy"`
	} `json:"options"`
}

type gridPos struct{ X, Y, W, H int }

type fieldConfig struct {
	Defaults struct {
		Unit       string      `json:"unit"`
		Decimals   *int        `json:"decimals"`
		Thresholds *thresholds `json:"thresholds"`
		Mappings   []mapping   `json:"mappings"`
	} `json:"defaults"`
	Overrides []struct {
		Matcher struct {
			Options string `json:"options"`
		} `json:"matcher"`
		Properties []struct {
			ID    string          `json:"id"`
			Value json.RawMessage `json:"value"`
		} `json:"properties"`
	} `json:"overrides"`
}

type thresholds struct {
	Steps []struct {
		Color string   `json:"color"`
		Value *float64 `json:"value"`
	} `json:"steps"`
}

// mapping is a Grafana value mapping: the text (and color) shown for a value, such as FAILED for 1.
type mapping struct {
	Type    string `json:"type"`
	Options map[string]struct {
		Text  string `json:"text"`
		Color string `json:"color"`
	} `json:"options"`
}

type transformation struct {
	ID      string `json:"id"`
	Options struct {
		IncludeByName map[string]bool   `json:"includeByName"`
		ExcludeByName map[string]bool   `json:"excludeByName"`
		IndexByName   map[string]int    `json:"indexByName"`
		RenameByName  map[string]string `json:"renameByName"`
	} `json:"options"`
}

type target struct {
	Datasource   *datasourceRef `json:"datasource"`
	RefID        string         `json:"refId"`
	Expr         string         `json:"expr"`
	LegendFormat string         `json:"legendFormat"`
	Instant      bool           `json:"instant"`
	Format       string         `json:"format"`
}

type variable struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Definition string         `json:"definition"`
	Datasource *datasourceRef `json:"datasource"`
	AllValue   string         `json:"allValue"`
}

func loadDashboards(t *testing.T) []dashboard {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "deploy", "grafana", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "deploy/grafana has dashboards")
	var out []dashboard
	for _, f := range files {
		var d dashboard
		require.NoError(t, json.Unmarshal(mustRead(t, f), &d), f)
		d.File = filepath.Base(f)
		out = append(out, d)
	}
	return out
}

// allPanels flattens rows, collapsed or not.
func (d dashboard) allPanels() []panel {
	var out []panel
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// datasourceOf is the data source variable a target queries: its own, else its panel's.
func datasourceOf(p panel, tg target) string {
	if tg.Datasource != nil && tg.Datasource.UID != "" {
		return tg.Datasource.UID
	}
	if p.Datasource != nil {
		return p.Datasource.UID
	}
	return ""
}

// The dashboards' template variables and Grafana's built-in intervals, replaced the way the test queries
// them: every tenant and iFlow (the variables' All value), and intervals that fit a few minutes of data.
var substitutions = map[string]string{
	"tenant": ".+", "iflow": ".+",
	"__rate_interval": "1m", "__interval": "15s", "__range": "5m",
}

var varRef = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)

func substitute(expr string) (string, error) {
	var unknown []string
	out := varRef.ReplaceAllStringFunc(expr, func(m string) string {
		name := varRef.FindStringSubmatch(m)[1]
		if v, ok := substitutions[name]; ok {
			return v
		}
		unknown = append(unknown, name)
		return m
	})
	if len(unknown) > 0 {
		return "", fmt.Errorf("unknown template variable(s) %v in %q", unknown, expr)
	}
	return out, nil
}

var (
	// Every metric the receiver serves starts with sapcpi_; a selector is such a name with its matchers,
	// and the range it is read over, if any.
	selectorRE = regexp.MustCompile(`\b(sapcpi_[A-Za-z0-9_]+)\s*(\{[^{}]*\})?(?:\s*\[([^\]:]+)\])?`)
	groupingRE = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
	legendRE   = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)
	labelsRefs = regexp.MustCompile(`\$labels\.([A-Za-z_][A-Za-z0-9_]*)`)
	labelValRE = regexp.MustCompile(`^label_values\((.+),\s*([A-Za-z_][A-Za-z0-9_]*)\)$`)
)

// selector is a metric selector of a PromQL expression and the range it is read over ("" for an
// instant vector).
type selector struct{ expr, rng string }

// live is the query that has data exactly when the expression finds data for this selector: the
// selector itself, or the last sample within its range. Hourly figures (resource usage) exist on
// /metrics only for metric_expiration after each hour's delivery, so their panels and rules read them
// over hours, and the check must too.
func (s selector) live() string {
	if s.rng == "" {
		return s.expr
	}
	return "last_over_time(" + s.expr + "[" + s.rng + "])"
}

func (s selector) String() string {
	if s.rng == "" {
		return s.expr
	}
	return s.expr + "[" + s.rng + "]"
}

// selectors are the metric selectors of a PromQL expression with their ranges, without offset.
func selectors(expr string) []selector {
	seen := map[selector]bool{}
	var out []selector
	for _, m := range selectorRE.FindAllStringSubmatch(expr, -1) {
		s := selector{expr: m[1] + m[2], rng: strings.TrimSpace(m[3])}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// metricNames are the metric names an expression reads.
func metricNames(expr string) []string {
	var out []string
	for _, m := range selectorRE.FindAllStringSubmatch(expr, -1) {
		out = append(out, m[1])
	}
	return out
}

// groupingLabels are the labels an expression aggregates or matches on.
func groupingLabels(expr string) []string {
	var out []string
	for _, m := range groupingRE.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(m[1], ",") {
			if l = strings.TrimSpace(l); l != "" {
				out = append(out, l)
			}
		}
	}
	return out
}

func legendLabels(format string) []string {
	var out []string
	for _, m := range legendRE.FindAllStringSubmatch(format, -1) {
		out = append(out, m[1])
	}
	return out
}

// tableLabelColumns are the result labels a Prometheus table panel shows by name (its organize step).
func tableLabelColumns(p panel) []string {
	var out []string
	for _, tr := range p.Transformations {
		if tr.ID != "organize" {
			continue
		}
		for k := range tr.Options.RenameByName {
			if k != "Value" && k != "Time" {
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// --- alert rules ---------------------------------------------------------------------------------

type rule struct {
	File        string            `yaml:"-"`
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// ruleFiles are the shipped rule files: the rules on messages, content, security material, JMS and the
// receiver itself, and those on the operational state.
var ruleFiles = []string{"prometheus-rules.yaml", "operations-rules.yaml"}

func rulePath(file string) string { return filepath.Join("..", "examples", "alerting", file) }

// loadRules reads every rule of every shipped file; an alert name must be unique across them, because
// Prometheus' alerts and the live checks tell the rules apart by it.
func loadRules(t *testing.T) []rule {
	t.Helper()
	var out []rule
	seen := map[string]string{}
	for _, f := range ruleFiles {
		var doc struct {
			Groups []struct {
				Rules []rule `yaml:"rules"`
			} `yaml:"groups"`
		}
		require.NoError(t, yaml.Unmarshal(mustRead(t, rulePath(f)), &doc), f)
		n := 0
		for _, g := range doc.Groups {
			for _, r := range g.Rules {
				r.File = f
				if other, dup := seen[r.Alert]; dup {
					t.Errorf("alert %s is defined in %s and again in %s", r.Alert, other, f)
				}
				seen[r.Alert] = f
				out = append(out, r)
				n++
			}
		}
		require.Positive(t, n, "%s has rules", f)
	}
	return out
}

// writeTestRules copies each rule file into dir with every for: shortened, so that a minute of live data
// can fire them; the expressions stay exactly as shipped. It returns the copies' paths.
func writeTestRules(t *testing.T, dir, forValue string) []string {
	t.Helper()
	var paths []string
	for _, f := range ruleFiles {
		var doc map[string]any
		require.NoError(t, yaml.Unmarshal(mustRead(t, rulePath(f)), &doc), f)
		for _, g := range doc["groups"].([]any) {
			for _, r := range g.(map[string]any)["rules"].([]any) {
				r.(map[string]any)["for"] = forValue
			}
		}
		raw, err := yaml.Marshal(doc)
		require.NoError(t, err)
		path := filepath.Join(dir, f)
		require.NoError(t, os.WriteFile(path, raw, 0o600))
		paths = append(paths, path)
	}
	return paths
}

// ruleTestSeries are the input series of the promtool unit tests, as metric name → label names.
func ruleTestSeries(t *testing.T) map[string][]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "examples", "alerting", "tests", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	labelName := regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)="`)
	out := map[string][]string{}
	for _, f := range files {
		var doc struct {
			Tests []struct {
				InputSeries []struct {
					Series string `yaml:"series"`
				} `yaml:"input_series"`
			} `yaml:"tests"`
		}
		require.NoError(t, yaml.Unmarshal(mustRead(t, f), &doc), f)
		for _, tc := range doc.Tests {
			for _, s := range tc.InputSeries {
				name, rest, ok := strings.Cut(s.Series, "{")
				require.True(t, ok, "series %q has labels", s.Series)
				var names []string
				for _, m := range labelName.FindAllStringSubmatch(rest, -1) {
					names = append(names, m[1])
				}
				sort.Strings(names)
				out[name+" "+strings.Join(names, ",")] = names
			}
		}
	}
	return out
}

// --- Loki ------------------------------------------------------------------------------------------

// The Loki panels cannot be run here (no Loki), but what they select can be checked against what the
// receiver really wrote: a LogQL subset (a stream selector and label filters) evaluated on the records
// of the file exporter, with attribute names as Loki's OTLP endpoint turns them into labels and
// structured metadata (dots → underscores; event_name from the record's EventName).

// lokiIndexLabels are the stream labels the Loki example configures (everything else is structured
// metadata, which only a pipeline filter can select).
var lokiIndexLabels = map[string]bool{"sap_cpi_tenant_name": true}

type logMatcher struct {
	name, op, value string
	re              *regexp.Regexp
}

func (m logMatcher) matches(labels map[string]string) bool {
	v := labels[m.name]
	switch m.op {
	case "=":
		return v == m.value
	case "!=":
		return v != m.value
	case "=~":
		return m.re.MatchString(v)
	default: // !~
		return !m.re.MatchString(v)
	}
}

var logMatcherRE = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*")\s*$`)

func parseLogMatcher(s string) (logMatcher, error) {
	m := logMatcherRE.FindStringSubmatch(s)
	if m == nil {
		return logMatcher{}, fmt.Errorf("%q is not a label matcher this check understands", s)
	}
	value, err := strconv.Unquote(m[3])
	if err != nil {
		return logMatcher{}, err
	}
	lm := logMatcher{name: m[1], op: m[2], value: value}
	if lm.op == "=~" || lm.op == "!~" {
		if lm.re, err = regexp.Compile("^(?:" + value + ")$"); err != nil {
			return logMatcher{}, err
		}
	}
	return lm, nil
}

type logQuery struct{ stream, filters []logMatcher }

func parseLogQuery(expr string) (logQuery, error) {
	expr = strings.TrimSpace(expr)
	end := strings.Index(expr, "}")
	if !strings.HasPrefix(expr, "{") || end < 0 {
		return logQuery{}, fmt.Errorf("%q does not start with a stream selector", expr)
	}
	var q logQuery
	for _, part := range strings.Split(expr[1:end], ",") {
		m, err := parseLogMatcher(part)
		if err != nil {
			return logQuery{}, err
		}
		if !lokiIndexLabels[m.name] {
			return logQuery{}, fmt.Errorf("stream selector uses %s, which the Loki example does not make an index label", m.name)
		}
		q.stream = append(q.stream, m)
	}
	stages, err := splitPipeline(expr[end+1:])
	if err != nil {
		return logQuery{}, err
	}
	for _, stage := range stages {
		m, err := parseLogMatcher(stage)
		if err != nil {
			return logQuery{}, err
		}
		q.filters = append(q.filters, m)
	}
	return q, nil
}

// splitPipeline cuts "| a=\"x|y\" | b=\"z\"" into its stages; a | inside a quoted value is not a cut.
func splitPipeline(s string) ([]string, error) {
	var stages []string
	var cur strings.Builder
	quoted, escaped, started := false, false, false
	for _, r := range s {
		switch {
		case escaped:
			escaped = false
		case quoted && r == '\\':
			escaped = true
		case r == '"':
			quoted = !quoted
		case !quoted && r == '|':
			if started {
				stages = append(stages, cur.String())
			}
			cur.Reset()
			started = true
			continue
		}
		if !started && !unicode.IsSpace(r) {
			return nil, fmt.Errorf("expected | before %q", s)
		}
		cur.WriteRune(r)
	}
	if quoted {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if started {
		stages = append(stages, cur.String())
	}
	return stages, nil
}

func (q logQuery) matches(labels map[string]string) bool {
	for _, m := range append(append([]logMatcher{}, q.stream...), q.filters...) {
		if !m.matches(labels) {
			return false
		}
	}
	return true
}

// lokiRecord is a log record as Loki would store it: its labels and structured metadata, and its line.
type lokiRecord struct {
	labels map[string]string
	line   string
	time   pcommon.Timestamp
}

func lokiName(attr string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, attr)
}

func lokiRecords(logs []plog.Logs) []lokiRecord {
	var out []lokiRecord
	for _, ld := range logs {
		rls := ld.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			res := map[string]string{}
			rls.At(i).Resource().Attributes().Range(func(k string, v pcommon.Value) bool {
				res[lokiName(k)] = v.AsString()
				return true
			})
			sls := rls.At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					lr := lrs.At(k)
					labels := map[string]string{"event_name": lr.EventName(), "severity_text": lr.SeverityText()}
					for n, v := range res {
						labels[n] = v
					}
					lr.Attributes().Range(func(k string, v pcommon.Value) bool {
						labels[lokiName(k)] = v.AsString()
						return true
					})
					out = append(out, lokiRecord{labels: labels, line: lr.Body().AsString(), time: lr.Timestamp()})
				}
			}
		}
	}
	return out
}

// lokiColumns are the fields a Loki table panel shows (its organize step), without Time.
func lokiColumns(p panel) []string {
	var out []string
	for _, tr := range p.Transformations {
		if tr.ID == "organize" {
			for k := range tr.Options.IncludeByName {
				if k != "Time" {
					out = append(out, k)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}
