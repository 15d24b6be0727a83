//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A plain HTML rendering of the dashboards from the live run's data, for `make screenshots`: each panel
// at its grid position, time series as SVG lines from query_range, stats, bars, gauges and tables from
// instant queries, and the Loki panels from the records the receiver wrote. It shows what the
// dashboards show; it is not Grafana.

const (
	renderWidth = 1600 // px, the screenshot's width
	rowHeight   = 30   // px per Grafana grid row
	gridGap     = 6
)

var palette = []string{"#7eb26d", "#eab839", "#6ed0e0", "#ef843c", "#e24d42", "#1f78c1", "#ba43a9", "#705da0", "#508642", "#cca300"}

var namedColors = map[string]string{
	"green": "#56a64b", "red": "#e02f44", "orange": "#ff9830", "yellow": "#fade2a", "blue": "#3274d9",
	"purple": "#a352cc", "text": "#d8d9da",
}

func renderAll(t *testing.T, dir string, boards []dashboard, prom *promClient, records []lokiRecord, fired map[string]time.Duration, from, to time.Time) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	var sizes []string
	for _, d := range boards {
		r := &renderer{prom: prom, records: records, from: from, to: to}
		page, height := r.dashboard(d)
		name := strings.TrimSuffix(d.File, ".json")
		require.NoError(t, os.WriteFile(filepath.Join(dir, name+".html"), []byte(page), 0o644))
		sizes = append(sizes, fmt.Sprintf("%s %d %d", name, renderWidth, height))
	}
	page, height := renderAlerts(t, prom, fired, to)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus-alerts.html"), []byte(page), 0o644))
	sizes = append(sizes, fmt.Sprintf("prometheus-alerts %d %d", renderWidth, height))
	// make screenshots reads the page sizes from here.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pages.txt"), []byte(strings.Join(sizes, "\n")+"\n"), 0o644))
	t.Logf("rendered %d pages to %s", len(sizes), dir)
}

type renderer struct {
	prom     *promClient
	records  []lokiRecord
	from, to time.Time
}

const pageStyle = `body{margin:0;background:#111217;color:#d8d9da;font:13px/1.35 -apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
header{padding:10px 16px;border-bottom:1px solid #2c3235}
h1{font-size:19px;margin:0 0 4px;font-weight:500}
.sub{color:#8e8e8e;font-size:12px}
.vars span{display:inline-block;background:#22252b;border:1px solid #2c3235;border-radius:2px;padding:2px 8px;margin:6px 6px 0 0}
.grid{display:grid;grid-template-columns:repeat(24,1fr);grid-auto-rows:` + "30px" + `;gap:6px;padding:8px 16px}
.panel{background:#181b1f;border:1px solid #2c3235;border-radius:2px;overflow:hidden;display:flex;flex-direction:column}
.panel h2{font-size:13px;font-weight:500;margin:0;padding:6px 8px 2px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.panel .body{flex:1;min-height:0;padding:2px 8px 6px;overflow:hidden}
.row{grid-column:1/span 24;font-size:15px;font-weight:500;border-bottom:1px solid #2c3235;display:flex;align-items:flex-end}
.stat{height:100%;display:flex;align-items:center;justify-content:center;font-size:34px;font-weight:500;color:#fff;border-radius:2px}
table{border-collapse:collapse;width:100%;font-size:12px}
th{text-align:left;color:#6e9fff;font-weight:500;border-bottom:1px solid #2c3235;padding:3px 6px}
td{border-bottom:1px solid #22252b;padding:3px 6px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;max-width:460px}
td a{color:#6e9fff}
.legend{font-size:11px;display:flex;flex-wrap:wrap;gap:2px 12px}
.legend i{display:inline-block;width:12px;height:3px;margin-right:4px;vertical-align:middle}
.bar{height:18px;margin:4px 0;position:relative;background:#22252b}
.bar div{height:100%}
.bar span{position:absolute;left:6px;top:1px;font-size:12px;color:#fff;text-shadow:0 0 2px #000}
.logs div{font-family:"DejaVu Sans Mono",monospace;font-size:11px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.logs b{color:#8e8e8e;font-weight:400;margin-right:8px}
.note{color:#8e8e8e;font-size:11px}
.firing{color:#e02f44}.pending{color:#ff9830}.inactive{color:#56a64b}`

func (r *renderer) dashboard(d dashboard) (string, int) {
	var b strings.Builder
	bottom := 0
	fmt.Fprintf(&b, `<!doctype html><html><head><meta charset="utf-8"><title>%s</title><style>%s</style></head><body>`, html.EscapeString(d.Title), pageStyle)
	fmt.Fprintf(&b, `<header><h1>%s</h1><div class="sub">Rendered from the live test run (simulated tenant → otelcol-sapcpi → Prometheus), %s – %s UTC. Not Grafana: the same queries, drawn plainly.</div><div class="vars">`,
		html.EscapeString(d.Title), r.from.UTC().Format("15:04:05"), r.to.UTC().Format("15:04:05"))
	for _, v := range d.Templating.List {
		val := "All"
		if v.Type == "datasource" {
			val = map[string]string{"prometheus": "Prometheus", "loki": "Loki (records from the receiver's output)"}[strings.ToLower(v.Name[3:])]
		}
		fmt.Fprintf(&b, `<span>%s: %s</span>`, html.EscapeString(v.Name), html.EscapeString(val))
	}
	b.WriteString(`</div></header><div class="grid">`)
	for _, p := range d.allPanels() {
		g := p.GridPos
		bottom = max(bottom, g.Y+g.H)
		if p.Type == "row" {
			fmt.Fprintf(&b, `<div class="row" style="grid-row:%d/span %d">%s</div>`, g.Y+1, g.H, html.EscapeString(p.Title))
			continue
		}
		fmt.Fprintf(&b, `<div class="panel" style="grid-column:%d/span %d;grid-row:%d/span %d"><h2>%s</h2><div class="body">`,
			g.X+1, g.W, g.Y+1, g.H, html.EscapeString(p.Title))
		b.WriteString(r.panel(p))
		b.WriteString(`</div></div>`)
	}
	b.WriteString(`</div></body></html>`)
	return b.String(), 110 + bottom*(rowHeight+gridGap) + 20
}

func (r *renderer) panel(p panel) string {
	if len(p.Targets) == 0 {
		return ""
	}
	if datasourceOf(p, p.Targets[0]) == dsLoki {
		return r.lokiPanel(p)
	}
	switch p.Type {
	case "timeseries":
		return r.timeseries(p)
	case "stat":
		return r.stat(p)
	case "gauge", "bargauge":
		return r.bars(p)
	case "table":
		return r.table(p)
	}
	return `<span class="note">panel type ` + html.EscapeString(p.Type) + ` not rendered</span>`
}

func (r *renderer) instant(tg target) []promSeries {
	expr, err := substitute(tg.Expr)
	if err != nil {
		return nil
	}
	res, _ := r.prom.query(expr, r.to)
	return res
}

func legend(format string, metric map[string]string) string {
	if format == "" || format == "__auto" {
		var parts []string
		for _, k := range sortedKeys(metric) {
			parts = append(parts, k+"="+metric[k])
		}
		return strings.Join(parts, ", ")
	}
	return legendRE.ReplaceAllStringFunc(format, func(m string) string {
		return metric[legendRE.FindStringSubmatch(m)[1]]
	})
}

func (r *renderer) timeseries(p panel) string {
	type line struct {
		name string
		pts  [][2]float64
	}
	var lines []line
	for _, tg := range p.Targets {
		expr, err := substitute(tg.Expr)
		if err != nil {
			continue
		}
		res, _ := r.prom.queryRange(expr, r.from, r.to, 2*time.Second)
		for _, s := range res {
			l := line{name: legend(tg.LegendFormat, s.Metric)}
			for _, v := range s.Values {
				ts, _ := v[0].(float64)
				y := sampleValue(v)
				if !math.IsNaN(y) && !math.IsInf(y, 0) {
					l.pts = append(l.pts, [2]float64{ts, y})
				}
			}
			if len(l.pts) > 0 {
				lines = append(lines, l)
			}
		}
	}
	if len(lines) == 0 {
		return `<span class="note">No data</span>`
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i].name < lines[j].name })
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, l := range lines {
		for _, pt := range l.pts {
			lo, hi = math.Min(lo, pt[1]), math.Max(hi, pt[1])
		}
	}
	if lo > 0 {
		lo = 0
	}
	if hi <= lo {
		hi = lo + 1
	}
	t0, t1 := float64(r.from.Unix()), float64(r.to.Unix())
	unit, dec := p.FieldConfig.Defaults.Unit, p.FieldConfig.Defaults.Decimals
	// Drawn in the panel's own pixels, so that text is not stretched; the legend takes what it needs.
	pw, ph := panelSize(p.GridPos)
	perRow := max(1, int(pw/230))
	legendRows := min(len(lines), perRow*max(1, int(ph/3/16)))
	w, left, top := pw, 64.0, 10.0
	h := ph - float64((legendRows+perRow-1)/perRow)*16 - 22
	var b strings.Builder
	fmt.Fprintf(&b, `<svg width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f">`, w, h+18, w, h+18)
	plotH := h - top
	for i := 0; i <= 4; i++ {
		y := top + plotH - float64(i)/4*plotH
		v := lo + float64(i)/4*(hi-lo)
		fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" stroke="#2c3235"/><text x="%g" y="%.1f" fill="#8e8e8e" font-size="11" text-anchor="end">%s</text>`,
			left, w, y, y, left-6, y+4, html.EscapeString(formatValue(v, unit, dec)))
	}
	for i := 0; i <= 4; i++ {
		x := left + float64(i)/4*(w-left)
		anchor := map[int]string{0: "start", 4: "end"}[i]
		if anchor == "" {
			anchor = "middle"
		}
		ts := time.Unix(int64(t0+float64(i)/4*(t1-t0)), 0).UTC().Format("15:04:05")
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="#8e8e8e" font-size="11" text-anchor="%s">%s</text>`, x, h+14, anchor, ts)
	}
	for i, l := range lines {
		var pts []string
		for _, pt := range l.pts {
			x := left + (pt[0]-t0)/(t1-t0)*(w-left)
			y := top + plotH - (pt[1]-lo)/(hi-lo)*plotH
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, palette[i%len(palette)], strings.Join(pts, " "))
	}
	b.WriteString(`</svg><div class="legend">`)
	for i, l := range lines[:legendRows] {
		last := l.pts[len(l.pts)-1][1]
		fmt.Fprintf(&b, `<span><i style="background:%s"></i>%s <b>%s</b></span>`, palette[i%len(palette)], html.EscapeString(l.name), html.EscapeString(formatValue(last, unit, dec)))
	}
	if len(lines) > legendRows {
		fmt.Fprintf(&b, `<span class="note">… %d more</span>`, len(lines)-legendRows)
	}
	b.WriteString(`</div>`)
	return b.String()
}

// panelSize is the drawing area of a panel in pixels: its grid cells less title and padding.
func panelSize(g gridPos) (float64, float64) {
	col := (float64(renderWidth-32) - 23*gridGap) / 24
	w := float64(g.W)*col + float64(g.W-1)*gridGap - 18
	h := float64(g.H*rowHeight+(g.H-1)*gridGap) - 36
	return w, h
}

func (r *renderer) stat(p panel) string {
	res := r.instant(p.Targets[0])
	if len(res) == 0 {
		return `<span class="note">No data</span>`
	}
	v := res[0].value()
	color := thresholdColor(p.FieldConfig.Defaults.Thresholds, v)
	text := formatValue(v, p.FieldConfig.Defaults.Unit, p.FieldConfig.Defaults.Decimals)
	if t, c, ok := mapValue(p.FieldConfig.Defaults.Mappings, v); ok {
		text, color = t, c
	}
	return fmt.Sprintf(`<div class="stat" style="background:%s">%s</div>`, color, html.EscapeString(text))
}

func (r *renderer) bars(p panel) string {
	res := r.instant(p.Targets[0])
	if len(res) == 0 {
		return `<span class="note">No data</span>`
	}
	unit, dec := p.FieldConfig.Defaults.Unit, p.FieldConfig.Defaults.Decimals
	hi := 0.0
	for _, s := range res {
		hi = math.Max(hi, s.value())
	}
	switch unit {
	case "percentunit":
		hi = 1
	case "percent":
		hi = 100
	}
	var b strings.Builder
	for _, s := range res {
		v := s.value()
		frac := 0.0
		if hi > 0 && !math.IsNaN(v) {
			frac = math.Max(0, math.Min(1, v/hi))
		}
		name := legend(p.Targets[0].LegendFormat, s.Metric)
		if len(s.Metric) == 0 || p.Type == "gauge" {
			name = ""
		}
		label := strings.TrimSpace(name + "  " + formatValue(v, unit, dec))
		if p.Type == "gauge" {
			fmt.Fprintf(&b, `<div class="stat" style="font-size:30px;height:55%%;color:%s">%s</div>`, thresholdColor(p.FieldConfig.Defaults.Thresholds, v), html.EscapeString(formatValue(v, unit, dec)))
			fmt.Fprintf(&b, `<div class="bar" style="height:14px"><div style="width:%.1f%%;background:%s"></div></div>`, frac*100, thresholdColor(p.FieldConfig.Defaults.Thresholds, v))
			continue
		}
		fmt.Fprintf(&b, `<div class="bar"><div style="width:%.1f%%;background:%s"></div><span>%s</span></div>`, frac*100, thresholdColor(p.FieldConfig.Defaults.Thresholds, v), html.EscapeString(label))
	}
	return b.String()
}

// organized returns the panel's organize transformation and the columns it shows, in its order.
func organized(p panel) (transformation, []string) {
	var org transformation
	for _, tr := range p.Transformations {
		if tr.ID == "organize" {
			org = tr
		}
	}
	cols := make([]string, 0, len(org.Options.IndexByName))
	for k := range org.Options.IndexByName {
		cols = append(cols, k)
	}
	sort.Slice(cols, func(i, j int) bool { return org.Options.IndexByName[cols[i]] < org.Options.IndexByName[cols[j]] })
	return org, cols
}

// table renders a Prometheus instant table with the panel's column order and names; the value column
// takes its override's thresholds.
func (r *renderer) table(p panel) string {
	res := r.instant(p.Targets[0])
	if len(res) == 0 {
		return `<span class="note">No data</span>`
	}
	org, cols := organized(p)
	th, unit, dec, background := p.FieldConfig.Defaults.Thresholds, p.FieldConfig.Defaults.Unit, p.FieldConfig.Defaults.Decimals, false
	maps := p.FieldConfig.Defaults.Mappings
	for _, o := range p.FieldConfig.Overrides {
		for _, prop := range o.Properties {
			switch prop.ID {
			case "mappings":
				_ = json.Unmarshal(prop.Value, &maps)
			case "thresholds":
				th = &thresholds{}
				_ = json.Unmarshal(prop.Value, th)
			case "decimals":
				var d int
				_ = json.Unmarshal(prop.Value, &d)
				dec = &d
			case "custom.cellOptions":
				background = strings.Contains(string(prop.Value), "color-background")
			}
		}
	}
	sort.Slice(res, func(i, j int) bool { return res[i].value() < res[j].value() })
	if strings.HasPrefix(p.Targets[0].Expr, "topk") || len(p.Options.SortBy) > 0 && p.Options.SortBy[0].Desc {
		sort.Slice(res, func(i, j int) bool { return res[i].value() > res[j].value() })
	}
	var b strings.Builder
	b.WriteString(`<table><tr>`)
	for _, c := range cols {
		fmt.Fprintf(&b, `<th>%s</th>`, html.EscapeString(org.Options.RenameByName[c]))
	}
	b.WriteString(`</tr>`)
	for _, s := range res {
		b.WriteString(`<tr>`)
		for _, c := range cols {
			if c != "Value" {
				fmt.Fprintf(&b, `<td>%s</td>`, html.EscapeString(s.Metric[c]))
				continue
			}
			v, color := s.value(), thresholdColor(th, s.value())
			text := formatValue(v, unit, dec)
			if t, c, ok := mapValue(maps, v); ok {
				text, color = t, c
			}
			style := "color:" + color
			if background {
				style = "background:" + color + ";color:#fff"
			}
			fmt.Fprintf(&b, `<td style="%s">%s</td>`, style, html.EscapeString(text))
		}
		b.WriteString(`</tr>`)
	}
	b.WriteString(`</table>`)
	return b.String()
}

func (r *renderer) lokiPanel(p panel) string {
	expr, err := substitute(p.Targets[0].Expr)
	if err != nil {
		return ""
	}
	q, err := parseLogQuery(expr)
	if err != nil {
		return `<span class="note">` + html.EscapeString(err.Error()) + `</span>`
	}
	var matched []lokiRecord
	for _, rec := range r.records {
		if q.matches(rec.labels) {
			matched = append(matched, rec)
		}
	}
	sort.SliceStable(matched, func(i, j int) bool { return matched[i].time > matched[j].time })
	var b strings.Builder
	b.WriteString(`<div class="note">Loki panel — drawn from the records the receiver wrote (` + fmt.Sprint(len(matched)) + ` match)</div>`)
	_, ph := panelSize(p.GridPos)
	rows := int((ph - 16) / 19)
	if p.Type == "logs" {
		rows = int((ph - 16) / 15)
	}
	if len(matched) > rows {
		matched = matched[:rows]
	}
	if p.Type == "logs" {
		b.WriteString(`<div class="logs">`)
		for _, rec := range matched {
			fmt.Fprintf(&b, `<div><b>%s</b>%s</div>`, rec.time.AsTime().UTC().Format("15:04:05"), html.EscapeString(rec.line))
		}
		b.WriteString(`</div>`)
		return b.String()
	}
	org, cols := organized(p)
	links := dataLinks(p)
	b.WriteString(`<table><tr>`)
	for _, c := range cols {
		fmt.Fprintf(&b, `<th>%s</th>`, html.EscapeString(org.Options.RenameByName[c]))
	}
	b.WriteString(`</tr>`)
	for _, rec := range matched {
		b.WriteString(`<tr>`)
		for _, c := range cols {
			v := rec.labels[c]
			if c == "Time" {
				v = rec.time.AsTime().UTC().Format("15:04:05")
			}
			if title, ok := links[c]; ok && v != "" {
				fmt.Fprintf(&b, `<td><a title="%s">%s ↗</a></td>`, html.EscapeString(v), html.EscapeString(title))
				continue
			}
			fmt.Fprintf(&b, `<td title="%s">%s</td>`, html.EscapeString(v), html.EscapeString(firstLineOf(v)))
		}
		b.WriteString(`</tr>`)
	}
	b.WriteString(`</table>`)
	return b.String()
}

// dataLinks maps a field (by its original name) to the title of the data link its column carries.
func dataLinks(p panel) map[string]string {
	original := map[string]string{}
	for _, tr := range p.Transformations {
		for k, v := range tr.Options.RenameByName {
			original[v] = k
		}
	}
	out := map[string]string{}
	for _, o := range p.FieldConfig.Overrides {
		for _, prop := range o.Properties {
			if prop.ID != "links" {
				continue
			}
			var links []struct {
				Title string `json:"title"`
			}
			if json.Unmarshal(prop.Value, &links) == nil && len(links) > 0 {
				out[original[o.Matcher.Options]] = links[0].Title
			}
		}
	}
	return out
}

func firstLineOf(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// mapValue is the text and color a value mapping gives v, as Grafana shows 1 as FAILED.
func mapValue(maps []mapping, v float64) (string, string, bool) {
	key := strconv.FormatFloat(v, 'f', -1, 64)
	for _, m := range maps {
		if o, ok := m.Options[key]; ok && m.Type == "value" {
			return o.Text, namedColor(o.Color), true
		}
	}
	return "", "", false
}

func namedColor(c string) string {
	if n, ok := namedColors[c]; ok {
		return n
	}
	return c
}

func thresholdColor(th *thresholds, v float64) string {
	if th == nil || len(th.Steps) == 0 {
		return namedColors["blue"]
	}
	color := th.Steps[0].Color
	for _, s := range th.Steps[1:] {
		if s.Value != nil && v >= *s.Value {
			color = s.Color
		}
	}
	return namedColor(color)
}

func formatValue(v float64, unit string, decimals *int) string {
	if math.IsNaN(v) {
		return "NaN"
	}
	prec := func(def int) int {
		if decimals != nil {
			return *decimals
		}
		return def
	}
	switch unit {
	case "percentunit":
		return fmt.Sprintf("%.*f%%", prec(1), v*100)
	case "percent":
		return fmt.Sprintf("%.*f%%", prec(0), v)
	case "bytes":
		units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
		i := 0
		for math.Abs(v) >= 1024 && i < len(units)-1 {
			v /= 1024
			i++
		}
		return fmt.Sprintf("%.*f %s", prec(1), v, units[i])
	case "s":
		switch {
		case math.Abs(v) >= 3600:
			return fmt.Sprintf("%.1f h", v/3600)
		case math.Abs(v) >= 60:
			return fmt.Sprintf("%.1f min", v/60)
		case math.Abs(v) >= 1 || v == 0:
			return fmt.Sprintf("%.*f s", prec(2), v)
		default:
			return fmt.Sprintf("%.0f ms", v*1000)
		}
	case "d":
		return fmt.Sprintf("%.*f days", prec(0), v)
	}
	if decimals != nil {
		return fmt.Sprintf("%.*f", *decimals, v)
	}
	if v == math.Trunc(v) && math.Abs(v) < 1e6 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// renderAlerts draws Prometheus' view of the rules at the end of the run, like its /alerts page.
func renderAlerts(t *testing.T, prom *promClient, fired map[string]time.Duration, at time.Time) (string, int) {
	rules, err := prom.rules()
	require.NoError(t, err)
	var b strings.Builder
	fmt.Fprintf(&b, `<!doctype html><html><head><meta charset="utf-8"><title>Alerts</title><style>%s</style></head><body>`, pageStyle)
	fmt.Fprintf(&b, `<header><h1>Prometheus alerts — examples/alerting/%s</h1><div class="sub">State at %s UTC at the end of the live test run (its copies of the rules have for: 2s). The simulated tenant breaks an artifact, fails External Logging, fills a queue and lets a data store run overdue only for some of its 20-second epochs, so those alerts fired and may have resolved; with for: 2s, SapCpiReceiverLagging fires while the first poll catches up 24 hours of resource usage, and SapCpiDatabaseUsageAbove80Percent depends on the hour (the simulated DB tables use 78–82 %%). The others have no cause there.</div></header>`,
		strings.Join(ruleFiles, ", "), at.UTC().Format("15:04:05"))
	b.WriteString(`<div style="padding:12px 16px"><table><tr><th>Alert</th><th>State</th><th>Severity</th><th>Active instances</th><th>First firing in the run</th><th>Summary (first instance)</th></tr>`)
	for _, r := range rules {
		summary := ""
		if len(r.Alerts) > 0 {
			summary = r.Alerts[0].Annotations["summary"]
		}
		when := "—"
		if d, ok := fired[r.Name]; ok {
			when = fmt.Sprintf("after %.0f s", d.Seconds())
		}
		fmt.Fprintf(&b, `<tr><td>%s</td><td class="%s">%s</td><td>%s</td><td>%d</td><td>%s</td><td>%s</td></tr>`,
			html.EscapeString(r.Name), r.State, r.State, html.EscapeString(r.Labels["severity"]), len(r.Alerts), when, html.EscapeString(summary))
	}
	b.WriteString(`</table></div></body></html>`)
	return b.String(), 120 + 26*len(rules) + 40
}
