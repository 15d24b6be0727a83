package fakecpi

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func fixed(t time.Time) func() time.Time { return func() time.Time { return t } }

func TestSecondPrecisionServesWholeSecondsAndRoundsFilterLiterals(t *testing.T) {
	for _, tt := range []struct {
		round Rounding
		// whether `ge X.612` and `lt X.612` match the rows stored at X.000
		geMatchesSecond, ltMatchesSecond bool
	}{
		{round: RoundFloor, geMatchesSecond: true, ltMatchesSecond: false},
		{round: RoundCeil, geMatchesSecond: false, ltMatchesSecond: true},
	} {
		t.Run(string(tt.round), func(t *testing.T) {
			sim, w := newWire(t, Options{Backlog: 300, BacklogSpan: 10 * time.Minute, Start: t0, Now: fixed(t0), SecondPrecision: tt.round})
			all := page[wireMPL](w, filterQuery("LogEnd ge datetime'2000-01-01T00:00:00'")).D.Results
			require.Len(t, all, 300)
			served := map[string]int64{}
			for _, m := range all {
				assert.Zero(t, wireMillis(t, m.LogEnd)%1000, "LogEnd %s has a fraction", m.LogEnd)
				assert.Zero(t, wireMillis(t, m.LogStart)%1000, "LogStart %s has a fraction", m.LogStart)
				served[m.MessageGuid] = wireMillis(t, m.LogEnd)
			}
			for _, tr := range sim.Truth() {
				assert.Equal(t, served[tr.MessageGUID], tr.Final().LogEnd.UnixMilli(), "Truth reports the LogEnd as served")
				assert.Zero(t, tr.LogStart.Nanosecond())
			}

			second := wireMillis(t, all[150].LogEnd)
			lit := "datetime'" + time.UnixMilli(second).UTC().Add(612*time.Millisecond).Format("2006-01-02T15:04:05.000") + "'"
			countFrom := func(ms int64) (n int) {
				for _, m := range all {
					if wireMillis(t, m.LogEnd) >= ms {
						n++
					}
				}
				return n
			}
			atSecond := func(ms []wireMPL) bool {
				return slices.ContainsFunc(ms, func(m wireMPL) bool { return wireMillis(t, m.LogEnd) == second })
			}
			ge := page[wireMPL](w, filterQuery("LogEnd ge "+lit)).D.Results
			lt := page[wireMPL](w, filterQuery("LogEnd lt "+lit)).D.Results
			assert.Equal(t, tt.geMatchesSecond, atSecond(ge))
			assert.Equal(t, tt.ltMatchesSecond, atSecond(lt))
			if tt.round == RoundFloor {
				assert.Len(t, ge, countFrom(second))
			} else {
				assert.Len(t, ge, countFrom(second+1000))
			}
			assert.Len(t, lt, len(all)-len(ge))
		})
	}
}

func TestMillisecondPrecisionStaysTheDefault(t *testing.T) {
	_, w := newWire(t, Options{Backlog: 100, Start: t0, Now: fixed(t0)})
	all := page[wireMPL](w, filterQuery("LogEnd ge datetime'2000-01-01T00:00:00'")).D.Results
	fractions := 0
	for _, m := range all {
		if wireMillis(t, m.LogEnd)%1000 != 0 {
			fractions++
		}
	}
	assert.Greater(t, fractions, 90)
}

// truthOrder lists the final states' GUIDs in the order the tenant pages them: LogEnd, then GUID.
func truthOrder(sim *Server) []string {
	truth := sim.Truth()
	slices.SortFunc(truth, func(a, b Truth) int {
		if c := a.Final().LogEnd.Compare(b.Final().LogEnd); c != 0 {
			return c
		}
		return strings.Compare(a.MessageGUID, b.MessageGUID)
	})
	out := make([]string, len(truth))
	for i, tr := range truth {
		out[i] = tr.MessageGUID
	}
	return out
}

func TestPageCapBelowTopSendsNextLinksUntilTopIsReached(t *testing.T) {
	for _, absolute := range []bool{false, true} {
		t.Run(map[bool]string{false: "relative", true: "absolute"}[absolute], func(t *testing.T) {
			sim, w := newWire(t, Options{Backlog: 1100, PageCap: 200, AbsoluteNext: absolute, Start: t0, Now: fixed(t0)})
			filter := "LogEnd ge datetime'2000-01-01T00:00:00' and Status ne 'NOPE'"
			link := filterQuery(filter, "$top=1000", "$inlinecount=allpages")
			var sizes []int
			var tops []string
			var got []string
			for link != "" {
				p := page[wireMPL](w, link)
				sizes = append(sizes, len(p.D.Results))
				for _, m := range p.D.Results {
					got = append(got, m.MessageGuid)
				}
				assert.Equal(t, "1100", p.D.Count)
				if p.D.Next != "" {
					if absolute {
						assert.True(t, strings.HasPrefix(p.D.Next, w.srv.URL+"/api/v1/MessageProcessingLogs?"), p.D.Next)
					} else {
						assert.True(t, strings.HasPrefix(p.D.Next, "MessageProcessingLogs?"), p.D.Next)
					}
					u, err := url.Parse(p.D.Next)
					require.NoError(t, err)
					tops = append(tops, u.Query().Get("$top"))
					assert.Equal(t, filter, u.Query().Get("$filter"), "the link continues the same query")
				}
				link = w.follow(p.D.Next)
			}
			assert.Equal(t, []int{200, 200, 200, 200, 200}, sizes)
			assert.Equal(t, []string{"800", "600", "400", "200"}, tops, "$top counts down by what was sent")
			assert.Equal(t, truthOrder(sim)[:1000], got)
		})
	}
}

func TestPageCapWithoutTopPagesToTheEnd(t *testing.T) {
	sim, w := newWire(t, Options{Backlog: 500, PageCap: 200, Start: t0, Now: fixed(t0)})
	link := filterQuery("LogEnd ge datetime'2000-01-01T00:00:00'")
	var sizes []int
	var got []string
	for link != "" {
		p := page[wireMPL](w, link)
		sizes = append(sizes, len(p.D.Results))
		for _, m := range p.D.Results {
			got = append(got, m.MessageGuid)
		}
		link = w.follow(p.D.Next)
	}
	assert.Equal(t, []int{200, 200, 100}, sizes)
	assert.Equal(t, truthOrder(sim), got)
}

func TestTopAtOrBelowTheCapGetsNoNextLink(t *testing.T) {
	_, w := newWire(t, Options{Backlog: 1500, Start: t0, Now: fixed(t0)})
	p := page[wireMPL](w, filterQuery("LogEnd ge datetime'2000-01-01T00:00:00'", "$top=1000"))
	assert.Len(t, p.D.Results, 1000)
	assert.Empty(t, p.D.Next, "the page is as long as the client asked")
}

func TestBurstsShareLogEndAndStraddlePages(t *testing.T) {
	sim, w := newWire(t, Options{Backlog: 1000, BurstSize: 2500, BurstEvery: 1000, Start: t0, Now: fixed(t0)})
	link := filterQuery("LogEnd ge datetime'2000-01-01T00:00:00'")
	pagesOf := map[string]map[int]bool{} // LogEnd → pages it is on
	count := map[string]int{}
	starts := map[string]map[string]bool{}
	var got []string
	for i := 0; link != ""; i++ {
		p := page[wireMPL](w, link)
		for _, m := range p.D.Results {
			got = append(got, m.MessageGuid)
			if pagesOf[m.LogEnd] == nil {
				pagesOf[m.LogEnd], starts[m.LogEnd] = map[int]bool{}, map[string]bool{}
			}
			pagesOf[m.LogEnd][i] = true
			starts[m.LogEnd][m.LogStart] = true
			count[m.LogEnd]++
		}
		link = w.follow(p.D.Next)
	}
	var burst string
	for end, n := range count {
		if n > 1 {
			require.Empty(t, burst, "one burst expected")
			burst = end
		}
	}
	require.NotEmpty(t, burst)
	assert.Equal(t, 2500, count[burst])
	assert.Len(t, starts[burst], 1, "a burst shares its LogStart")
	assert.GreaterOrEqual(t, len(pagesOf[burst]), 3, "the burst straddles page boundaries")
	assert.Len(t, sim.Truth(), 999+2500)
	assert.Equal(t, truthOrder(sim), got, "every message exactly once")
}

func TestLateShareSetsTheShareOfLateFinalStates(t *testing.T) {
	for _, tt := range []struct {
		share    float64
		min, max float64
	}{
		{share: 0, min: 0.01, max: 0.06}, // the default, 3 %
		{share: 0.5, min: 0.4, max: 0.6},
	} {
		clock := &testClock{t: t0.Add(15 * time.Second)}
		sim, w := newWire(t, Options{Rate: 100, Start: t0, LiveFor: 10 * time.Second, TimeScale: time.Second,
			LateBy: time.Minute, LateShare: tt.share, Now: clock.Now})
		lateNow := func() float64 {
			served := map[string]wireMPL{}
			for link := filterQuery("LogEnd ge datetime'2000-01-01T00:00:00'"); link != ""; {
				p := page[wireMPL](w, link)
				for _, m := range p.D.Results {
					served[m.MessageGuid] = m
				}
				link = w.follow(p.D.Next)
			}
			truth := sim.Truth()
			late := 0
			for _, tr := range truth {
				m, ok := served[tr.MessageGUID]
				if !ok || m.Status != tr.Final().Status || wireMillis(t, m.LogEnd) != tr.Final().LogEnd.UnixMilli() {
					late++
				}
			}
			require.Len(t, truth, 1000)
			return float64(late) / float64(len(truth))
		}
		got := lateNow()
		assert.True(t, got >= tt.min && got <= tt.max, "share %v: %v of final states are late", tt.share, got)
		clock.Set(t0.Add(2 * time.Minute))
		assert.Zero(t, lateNow(), "LateBy after their LogEnd every final state is there")
	}
}

func TestAdvancePerRequestChangesStatesBetweenTwoPages(t *testing.T) {
	sim, w := newWire(t, Options{Rate: 10, Start: t0, LiveFor: 20 * time.Second, TimeScale: 5 * time.Second,
		AdvancePerRequest: 30 * time.Second, Now: fixed(t0.Add(10 * time.Second))})
	q := filterQuery("LogEnd ge datetime'2000-01-01T00:00:00'")
	first := page[wireMPL](w, q).D.Results
	second := page[wireMPL](w, q).D.Results
	assert.Greater(t, len(second), len(first), "the tenant's clock moved on between the two pages")
	before := map[string]string{}
	for _, m := range first {
		before[m.MessageGuid] = m.Status
	}
	changed := 0
	for _, m := range second {
		if s, ok := before[m.MessageGuid]; ok && s != m.Status {
			assert.Contains(t, []string{"RETRY", "PROCESSING", "ABANDONED"}, s, "only a state that is not final changes")
			changed++
		}
	}
	assert.Positive(t, changed, "states that changed between the two pages")
	// Two requests moved the clock by a minute: every message of the 20 s live period exists now.
	assert.Len(t, sim.Truth(), 200)
}

func TestAdvancePerRequestIsOffByDefault(t *testing.T) {
	_, w := newWire(t, Options{Rate: 10, Start: t0, LiveFor: 20 * time.Second, Now: fixed(t0.Add(10 * time.Second))})
	q := filterQuery("LogEnd ge datetime'2000-01-01T00:00:00'")
	assert.Equal(t, page[wireMPL](w, q).D.Results, page[wireMPL](w, q).D.Results)
}

func TestLiteralQuotesOnlyFindsKeyedPathsOnlyWithLiteralQuotes(t *testing.T) {
	opts := Options{Backlog: 300, BacklogSpan: 10 * time.Minute, Start: t0, TimeScale: 30 * time.Second, Now: fixed(t0.Add(45 * time.Second))}
	sim := New(opts)
	var failed string
	for _, tr := range sim.Truth() {
		if tr.Final().Status == "FAILED" {
			failed = tr.MessageGUID
			break
		}
	}
	require.NotEmpty(t, failed)
	runs := sim.RunsOf(failed)
	require.NotEmpty(t, runs)
	logFile := "http_access_node0_" + t0.Add(-2*time.Hour).Format("2006-01-02_15-04-05") + ".log"
	paths := map[string]string{ // name → path with literal quotes
		"error text":        "MessageProcessingLogs('" + failed + "')/ErrorInformation/$value",
		"runs":              "MessageProcessingLogs('" + failed + "')/Runs",
		"run steps":         "MessageProcessingLogRuns('" + runs[0].ID + "')/RunSteps",
		"artifact error":    "IntegrationRuntimeArtifacts('Send_Invoice_to_Ariba')/ErrorInformation/$value",
		"package artifacts": "IntegrationPackages('AcmeFinance')/IntegrationDesigntimeArtifacts",
		"log file":          "LogFiles(Name='" + logFile + "',Application='iflmap')/$value",
		"jms broker":        "JmsBrokers('Broker1')",
	}
	for _, literalOnly := range []bool{false, true} {
		opts.LiteralQuotesOnly = literalOnly
		_, w := newWire(t, opts)
		for name, path := range paths {
			literal, _ := w.get(path)
			encoded, _ := w.get(strings.ReplaceAll(path, "'", "%27"))
			assert.Equal(t, http.StatusOK, literal, "%s with literal quotes (literal-only %v)", name, literalOnly)
			if literalOnly {
				assert.Equal(t, http.StatusNotFound, encoded, "%s with %%27 on a literal-only tenant", name)
			} else {
				assert.Equal(t, http.StatusOK, encoded, "%s with %%27 by default", name)
			}
		}
	}
}
