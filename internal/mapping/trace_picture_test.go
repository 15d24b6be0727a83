package mapping

import (
	"flag"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

var drawTrace = flag.Bool("draw-trace", false, "rewrite docs/images/trace-failed-message.svg from testdata/traces.yaml")

const tracePicture = "../../docs/images/trace-failed-message.svg"

// The README's picture of a failed message's trace is drawn from the golden file of the trace
// mapping, so it shows what the receiver emits; this test fails when the two drift apart.
func TestTracePictureIsDrawnFromTheGoldenTrace(t *testing.T) {
	td, err := golden.ReadTraces(filepath.Join("testdata", "traces.yaml"))
	require.NoError(t, err)
	svg := waterfall(t, td)
	if *drawTrace {
		require.NoError(t, os.WriteFile(tracePicture, []byte(svg), 0o644))
	}
	have, err := os.ReadFile(tracePicture)
	require.NoError(t, err)
	require.Equal(t, svg, string(have), "go test ./internal/mapping -run TestTracePicture -draw-trace redraws it")
}

// waterfall draws the first trace of td (a FAILED message with its runs and steps) as an SVG timeline:
// one row per span in depth-first order, bars on the message span's time scale, failures in red.
func waterfall(t *testing.T, td ptrace.Traces) string {
	t.Helper()
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	root := spans.At(0)
	require.Empty(t, root.ParentSpanID().String(), "the first span is a message span")
	children := map[pcommon.SpanID][]ptrace.Span{}
	for i := 1; i < spans.Len(); i++ {
		sp := spans.At(i)
		if sp.TraceID() == root.TraceID() {
			children[sp.ParentSpanID()] = append(children[sp.ParentSpanID()], sp)
		}
	}
	type row struct {
		sp    ptrace.Span
		depth int
	}
	var rows []row
	var walk func(sp ptrace.Span, depth int)
	walk = func(sp ptrace.Span, depth int) {
		rows = append(rows, row{sp, depth})
		for _, c := range children[sp.SpanID()] {
			walk(c, depth+1)
		}
	}
	walk(root, 0)

	const labelW, barW, rowH, top = 330, 560, 26, 58
	width, height := labelW+barW+30, top+len(rows)*rowH+40
	start, end := root.StartTimestamp().AsTime(), root.EndTimestamp().AsTime()
	total := end.Sub(start)
	x := func(ts pcommon.Timestamp) float64 {
		return labelW + float64(ts.AsTime().Sub(start))/float64(total)*barW
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="Helvetica, Arial, sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	status, _ := root.Attributes().Get(AttrMessageStatus)
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="14" font-weight="bold">%s · %s · %s</text>`+"\n",
		esc(root.Name()), esc(status.Str()), total)
	fmt.Fprintf(&b, `<text x="10" y="40" fill="#555">trace %s · one message span, a span per run, a span per step; red: error status</text>`+"\n", root.TraceID())
	for i := 0; i <= 4; i++ {
		gx := labelW + float64(i)*barW/4
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e3e3e3"/>`+"\n", gx, top-6, gx, top+len(rows)*rowH)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="#777" text-anchor="middle">+%s</text>`+"\n", gx, top+len(rows)*rowH+16, time.Duration(int64(total)*int64(i)/4).Round(time.Second))
	}
	for i, r := range rows {
		y := top + i*rowH
		failed := r.sp.Status().Code() == ptrace.StatusCodeError
		fill := "#5b8def"
		if failed {
			fill = "#d64545"
		}
		x0, x1 := x(r.sp.StartTimestamp()), x(r.sp.EndTimestamp())
		if x1-x0 < 2 {
			x1 = x0 + 2
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", 10+16*r.depth, y+14, esc(label(r.sp)))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="16" rx="2" fill="%s"/>`+"\n", x0, y+2, x1-x0, fill)
		note := r.sp.EndTimestamp().AsTime().Sub(r.sp.StartTimestamp().AsTime()).String()
		if n, ok := r.sp.Attributes().Get(AttrRunStepsOmitted); ok {
			note += fmt.Sprintf(" · %d earlier steps not kept by the tenant", n.Int())
		}
		if failed && r.sp.Events().Len() > 0 {
			note += " · " + short(r.sp.Status().Message())
		}
		anchor, tx := "start", x1+6
		if tx > float64(width-200) {
			anchor, tx = "end", x0-6
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="#333" text-anchor="%s">%s</text>`+"\n", tx, y+14, anchor, esc(note))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// label names a span as a trace view would: the message span by its iFlow, a run by its id and state.
func label(sp ptrace.Span) string {
	if id, ok := sp.Attributes().Get(AttrRunID); ok {
		state, _ := sp.Attributes().Get(AttrRunState)
		return fmt.Sprintf("run %s (%s)", id.Str(), state.Str())
	}
	return sp.Name()
}

// short is the first line of s without the exception's package, cut to fit beside a bar.
func short(s string) string {
	s = firstLine(s)
	if class, rest, ok := strings.Cut(s, ": "); ok && strings.Contains(class, ".") {
		s = class[strings.LastIndex(class, ".")+1:] + ": " + rest
	}
	if r := []rune(s); len(r) > 60 {
		s = string(r[:60]) + "…"
	}
	return s
}

func esc(s string) string { return html.EscapeString(s) }
