package fakecpi

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunsFollowTheMessageStates(t *testing.T) {
	sim := New(Options{Backlog: 3000, Start: t0, Now: fixed(t0)})
	var retried, debug, longFailed int
	for _, tr := range sim.Truth() {
		runs := sim.RunsOf(tr.MessageGUID)
		var want []string
		var ends []time.Time
		for _, st := range tr.States {
			if st.Status != "PROCESSING" { // PROCESSING is a run still going, not one more run
				want = append(want, st.Status)
				ends = append(ends, st.LogEnd)
			}
		}
		require.Len(t, runs, len(want), "%s %v", tr.MessageGUID, tr.States)
		assert.Equal(t, tr.LogStart, runs[0].Start, "the first run starts with the message")
		for i, ru := range runs {
			assert.Equal(t, want[i], ru.State)
			assert.Equal(t, ends[i], ru.Stop, "a run stops at the LogEnd of the state it ends")
			assert.False(t, ru.Stop.Before(ru.Start))
			if i > 0 {
				assert.False(t, ru.Start.Before(runs[i-1].Stop), "runs do not overlap")
			}
			assert.Equal(t, tr.LogLevel, ru.LogLevel)
			switch {
			case tr.LogLevel == "DEBUG":
				assert.Equal(t, ru.ExecutedSteps, ru.Steps, "DEBUG keeps every step")
				assert.Positive(t, ru.Steps)
				debug++
			case ru.State == "FAILED" || ru.State == "RETRY" || ru.State == "ESCALATED":
				assert.Equal(t, min(ru.ExecutedSteps, 50), ru.Steps, "INFO keeps the last 50 steps of a failed run")
				assert.NotEmpty(t, ru.FailedStep)
				assert.NotEmpty(t, ru.Error)
				if ru.ExecutedSteps > 50 {
					longFailed++
				}
			default:
				assert.Zero(t, ru.Steps, "INFO keeps no steps of a %s run", ru.State)
			}
		}
		if len(runs) == 3 {
			retried++
		}
	}
	assert.Positive(t, retried, "RETRY, RETRY, COMPLETED messages have three runs")
	assert.Positive(t, debug)
	assert.Positive(t, longFailed, "some failed runs have more steps than INFO keeps")
}

// wireRun and wireStep keep what the tests look at, with the raw JSON of the rest.
type wireRun struct {
	Metadata     map[string]string `json:"__metadata"`
	Id           string
	RunStart     string
	RunStop      *string
	LogLevel     string
	OverallState string
	ProcessId    string
	RunSteps     map[string]any
}

type wireStep struct {
	Metadata          map[string]string `json:"__metadata"`
	RunId             string
	ChildCount        json.Number
	StepStart         string
	StepStop          string
	StepId            string
	ModelStepId       string
	BranchId          *string
	Status            string
	Error             *string
	Activity          string
	RunStepProperties json.RawMessage
}

// pickMessage returns a message whose runs satisfy ok.
func pickMessage(t *testing.T, sim *Server, ok func(Truth, []TruthRun) bool) (Truth, []TruthRun) {
	t.Helper()
	for _, tr := range sim.Truth() {
		if runs := sim.RunsOf(tr.MessageGUID); ok(tr, runs) {
			return tr, runs
		}
	}
	t.Fatal("no such message")
	return Truth{}, nil
}

func TestRunsAreServedNewestFirstAsODataV2JSON(t *testing.T) {
	sim, w := newWire(t, Options{Backlog: 1000, Start: t0, Now: fixed(t0)})
	tr, runs := pickMessage(t, sim, func(_ Truth, r []TruthRun) bool { return len(r) == 3 })
	got := page[wireRun](w, "MessageProcessingLogs('"+tr.MessageGUID+"')/Runs?$format=json").D.Results
	require.Len(t, got, 3)
	slices.Reverse(runs)
	for i, g := range got {
		assert.Equal(t, runs[i].ID, g.Id)
		assert.Equal(t, runs[i].State, g.OverallState)
		assert.Equal(t, runs[i].Start.UnixMilli(), wireMillis(t, g.RunStart))
		require.NotNil(t, g.RunStop)
		assert.Equal(t, runs[i].Stop.UnixMilli(), wireMillis(t, *g.RunStop))
		assert.Equal(t, "com.sap.hci.api.MessageProcessingLogRun", g.Metadata["type"])
		assert.Equal(t, w.srv.URL+"/api/v1/MessageProcessingLogRuns('"+g.Id+"')", g.Metadata["uri"])
		assert.Contains(t, workerNodes, g.ProcessId)
		assert.Equal(t, "INFO", g.LogLevel)
		assert.Contains(t, g.RunSteps, "__deferred")
	}
	assert.Equal(t, "COMPLETED", got[0].OverallState, "newest first")
}

func TestRunStepsPageNewestFirstWithExpandedProperties(t *testing.T) {
	sim, w := newWire(t, Options{Backlog: 2000, PageCap: 12, Start: t0, Now: fixed(t0)})
	tr, runs := pickMessage(t, sim, func(_ Truth, r []TruthRun) bool { return r[len(r)-1].Steps == 50 && r[len(r)-1].ExecutedSteps > 50 })
	ru := runs[len(runs)-1]
	_, errText := w.get("MessageProcessingLogs('" + tr.MessageGUID + "')/ErrorInformation/$value")

	var sizes []int
	var steps []wireStep
	for _, window := range []string{"$top=30", "$top=30&$skip=30"} {
		link := "MessageProcessingLogRuns('" + ru.ID + "')/RunSteps?$format=json&$expand=RunStepProperties&$inlinecount=allpages&" + window
		for link != "" {
			p := page[wireStep](w, link)
			assert.Equal(t, "50", p.D.Count)
			sizes = append(sizes, len(p.D.Results))
			steps = append(steps, p.D.Results...)
			link = w.follow(p.D.Next)
		}
	}
	assert.Equal(t, []int{12, 12, 6, 12, 8}, sizes, "capped pages continue up to $top, then the window ends")
	require.Len(t, steps, 50)
	executed := int64(ru.ExecutedSteps)
	for i, st := range steps {
		n, err := st.ChildCount.Int64()
		require.NoError(t, err, "ChildCount is an Int32 number")
		assert.Equal(t, executed-int64(i), n, "newest step first, the last 50 kept")
		assert.Equal(t, ru.ID, st.RunId)
		assert.Equal(t, "com.sap.hci.api.MessageProcessingLogRunStep", st.Metadata["type"])
		assert.LessOrEqual(t, wireMillis(t, st.StepStart), wireMillis(t, st.StepStop))
		var props struct {
			Results []struct{ RunId, Name, Value string }
		}
		require.NoError(t, json.Unmarshal(st.RunStepProperties, &props))
		assert.NotEmpty(t, props.Results, "expanded as {\"results\":[…]}")
		if i > 0 {
			assert.Equal(t, "COMPLETED", st.Status)
			assert.Nil(t, st.Error)
		}
	}
	assert.Equal(t, "FAILED", steps[0].Status, "the run ends in its failing step")
	require.NotNil(t, steps[0].Error)
	assert.Equal(t, string(errText), *steps[0].Error, "the step's error is the message's error text")
	assert.Equal(t, ru.FailedStep, steps[0].ModelStepId)
	assert.Equal(t, ru.Stop.UnixMilli(), wireMillis(t, steps[0].StepStop))

	unexpanded := page[wireStep](w, "MessageProcessingLogRuns('"+ru.ID+"')/RunSteps?$top=1").D.Results
	require.Len(t, unexpanded, 1)
	assert.Contains(t, string(unexpanded[0].RunStepProperties), "__deferred")
}

func TestCompletedRunAtInfoHasNoSteps(t *testing.T) {
	sim, w := newWire(t, Options{Backlog: 200, Start: t0, Now: fixed(t0)})
	_, runs := pickMessage(t, sim, func(tr Truth, r []TruthRun) bool {
		return tr.LogLevel == "INFO" && len(r) == 1 && r[0].State == "COMPLETED"
	})
	p := page[wireStep](w, "MessageProcessingLogRuns('"+runs[0].ID+"')/RunSteps?$inlinecount=allpages")
	assert.Empty(t, p.D.Results)
	assert.Equal(t, "0", p.D.Count)
}

func TestRunsBecomeVisibleWithTheirStates(t *testing.T) {
	opts := Options{Rate: 20, Start: t0, LiveFor: 30 * time.Second, TimeScale: 2 * time.Second}
	plan := New(withNow(opts, fixed(t0.Add(time.Minute)))) // the same seed plans the same messages
	runsAt := func(t *testing.T) (*testClock, func(guid string) (int, []wireRun)) {
		clock := &testClock{t: t0}
		_, w := newWire(t, withNow(opts, clock.Now))
		return clock, func(guid string) (int, []wireRun) {
			status, body := w.get("MessageProcessingLogs('" + guid + "')/Runs")
			var p wirePage[wireRun]
			if status == http.StatusOK {
				require.NoError(t, json.Unmarshal(body, &p))
			}
			return status, p.D.Results
		}
	}

	t.Run("retries add runs", func(t *testing.T) {
		retry, _ := pickMessage(t, plan, func(tr Truth, _ []TruthRun) bool { return len(tr.States) == 3 })
		clock, runsOf := runsAt(t)
		status, _ := runsOf(retry.MessageGUID)
		assert.Equal(t, http.StatusNotFound, status, "no runs before the message is visible")
		clock.Set(retry.States[0].LogEnd)
		_, got := runsOf(retry.MessageGUID)
		require.Len(t, got, 1)
		assert.Equal(t, "RETRY", got[0].OverallState)
		clock.Set(retry.States[2].LogEnd)
		_, got = runsOf(retry.MessageGUID)
		require.Len(t, got, 3)
		assert.Equal(t, []string{"COMPLETED", "RETRY", "RETRY"}, []string{got[0].OverallState, got[1].OverallState, got[2].OverallState})
	})
	t.Run("a processing message has a running run", func(t *testing.T) {
		processing, _ := pickMessage(t, plan, func(tr Truth, _ []TruthRun) bool { return tr.States[0].Status == "PROCESSING" })
		clock, runsOf := runsAt(t)
		clock.Set(processing.States[0].LogEnd)
		_, got := runsOf(processing.MessageGUID)
		require.Len(t, got, 1)
		assert.Equal(t, "PROCESSING", got[0].OverallState)
		assert.Nil(t, got[0].RunStop, "a running run has no RunStop")
		clock.Set(processing.States[1].LogEnd)
		_, got = runsOf(processing.MessageGUID)
		require.Len(t, got, 1)
		assert.Equal(t, "COMPLETED", got[0].OverallState)
		require.NotNil(t, got[0].RunStop)
	})
}

func withNow(o Options, now func() time.Time) Options {
	o.Now = now
	return o
}

func TestRunsNotFoundAnswers404(t *testing.T) {
	sim, w := newWire(t, Options{Backlog: 50, Start: t0, Now: fixed(t0), RunsNotFound: true})
	guid := sim.Truth()[0].MessageGUID
	runID := sim.RunsOf(guid)[0].ID // the tenant has the run, it just does not serve it
	for _, path := range []string{"MessageProcessingLogs('" + guid + "')/Runs", "MessageProcessingLogRuns('" + runID + "')/RunSteps"} {
		status, _ := w.get(path)
		assert.Equal(t, http.StatusNotFound, status, path)
	}
}
