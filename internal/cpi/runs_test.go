package cpi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
)

func ms(v int64) Time { return Time{time.UnixMilli(v).UTC()} }

func TestRunEntitiesDecodeTheWireQuirks(t *testing.T) {
	t.Run("runs", func(t *testing.T) {
		for name, tt := range map[string]struct {
			doc  string
			want MessageProcessingLogRun
		}{
			"epoch dates and a deferred navigation": {
				doc: `{"__metadata":{"type":"com.sap.hci.api.MessageProcessingLogRun"},"Id":"R1","RunStart":"/Date(1700000000000)/","RunStop":"/Date(1700000001500)/",
					"LogLevel":"INFO","OverallState":"RETRY","ProcessId":"9f3c","RunSteps":{"__deferred":{"uri":"x/RunSteps"}}}`,
				want: MessageProcessingLogRun{Id: "R1", RunStart: ms(1700000000000), RunStop: ms(1700000001500), LogLevel: "INFO", OverallState: "RETRY", ProcessId: "9f3c"},
			},
			"a running run: RunStop null": {
				doc:  `{"Id":"R2","RunStart":"/Date(1700000000000+0000)/","RunStop":null,"OverallState":"PROCESSING"}`,
				want: MessageProcessingLogRun{Id: "R2", RunStart: ms(1700000000000), OverallState: "PROCESSING"},
			},
			"zone-less ISO dates of hand-written examples": {
				doc:  `{"Id":"R3","RunStart":"2023-11-14T22:13:20.000","RunStop":"2023-11-14T22:13:21"}`,
				want: MessageProcessingLogRun{Id: "R3", RunStart: ms(1700000000000), RunStop: ms(1700000001000)},
			},
		} {
			t.Run(name, func(t *testing.T) {
				p, err := DecodePage[MessageProcessingLogRun](strings.NewReader(`{"d":{"results":[` + tt.doc + `]}}`))
				require.NoError(t, err)
				require.Len(t, p.Results, 1)
				assert.Equal(t, tt.want, p.Results[0])
			})
		}
	})
	t.Run("steps", func(t *testing.T) {
		for name, tt := range map[string]struct {
			doc  string
			want MessageProcessingLogRunStep
		}{
			"Int32 number, expanded properties": {
				doc: `{"__metadata":{"type":"com.sap.hci.api.MessageProcessingLogRunStep"},"RunId":"R1","ChildCount":65,
					"StepStart":"/Date(1700000000000)/","StepStop":"/Date(1700000000017)/","StepId":"CallActivity_7_65","ModelStepId":"CallActivity_7",
					"BranchId":null,"Status":"FAILED","Error":"Mapping failed","Activity":"Mapping",
					"RunStepProperties":{"results":[{"__metadata":{},"RunId":"R1","ChildCount":65,"Name":"StepName","Value":"Map to Target"}]},
					"TraceMessages":{"__deferred":{"uri":"x"}}}`,
				want: MessageProcessingLogRunStep{RunId: "R1", ChildCount: 65, StepStart: ms(1700000000000), StepStop: ms(1700000000017),
					StepId: "CallActivity_7_65", ModelStepId: "CallActivity_7", Status: "FAILED", Error: "Mapping failed", Activity: "Mapping",
					RunStepProperties: Expanded[RunStepProperty]{{RunId: "R1", ChildCount: 65, Name: "StepName", Value: "Map to Target"}}},
			},
			"Int32 as a string, deferred properties read as none": {
				doc:  `{"RunId":"R1","ChildCount":"3","BranchId":"2","RunStepProperties":{"__deferred":{"uri":"x"}}}`,
				want: MessageProcessingLogRunStep{RunId: "R1", ChildCount: 3, BranchId: "2"},
			},
			"bare array of properties": {
				doc:  `{"RunId":"R1","ChildCount":1,"RunStepProperties":[{"Name":"a","Value":"b"}]}`,
				want: MessageProcessingLogRunStep{RunId: "R1", ChildCount: 1, RunStepProperties: Expanded[RunStepProperty]{{Name: "a", Value: "b"}}},
			},
		} {
			t.Run(name, func(t *testing.T) {
				p, err := DecodePage[MessageProcessingLogRunStep](strings.NewReader(`{"d":{"results":[` + tt.doc + `]}}`))
				require.NoError(t, err)
				require.Len(t, p.Results, 1)
				assert.Equal(t, tt.want, p.Results[0])
			})
		}
	})
	t.Run("bad Int32", func(t *testing.T) {
		for _, doc := range []string{`{"ChildCount":"x"}`, `{"ChildCount":3000000000}`, `{"ChildCount":1.5}`} {
			_, err := DecodePage[MessageProcessingLogRunStep](strings.NewReader(`{"d":{"results":[` + doc + `]}}`))
			assert.Error(t, err, doc)
		}
	})
}

var runsStart = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

func runsTenant(t *testing.T, opts fakecpi.Options) (*Client, *fakecpi.Server) {
	t.Helper()
	opts.Start, opts.Now = runsStart, func() time.Time { return runsStart }
	c, sim, _ := simClient(t, opts, "")
	return c, sim
}

// messageWith finds a message whose runs satisfy ok.
func messageWith(t *testing.T, sim *fakecpi.Server, ok func([]fakecpi.TruthRun) bool) (string, []fakecpi.TruthRun) {
	t.Helper()
	for _, tr := range sim.Truth() {
		if runs := sim.RunsOf(tr.MessageGUID); ok(runs) {
			return tr.MessageGUID, runs
		}
	}
	t.Fatal("no such message")
	return "", nil
}

func TestMessageRunsComeAsTheTenantSendsThem(t *testing.T) {
	c, sim := runsTenant(t, fakecpi.Options{Backlog: 1000})
	guid, truth := messageWith(t, sim, func(r []fakecpi.TruthRun) bool { return len(r) == 3 })
	runs, err := c.MessageRuns(t.Context(), guid)
	require.NoError(t, err)
	require.Len(t, runs, 3)
	for i, r := range runs {
		want := truth[len(truth)-1-i] // the tenant sends the newest first
		assert.Equal(t, want.ID, r.Id)
		assert.Equal(t, want.State, r.OverallState)
		assert.True(t, want.Start.Equal(r.RunStart.Time))
		assert.True(t, want.Stop.Equal(r.RunStop.Time))
		assert.Equal(t, "INFO", r.LogLevel)
		assert.NotEmpty(t, r.ProcessId)
	}
}

func TestRunStepsFollowsCappedPagesAndStopsAtMax(t *testing.T) {
	c, sim := runsTenant(t, fakecpi.Options{Backlog: 2000, PageCap: 7})
	guid, truth := messageWith(t, sim, func(r []fakecpi.TruthRun) bool { return r[len(r)-1].Steps == 50 })
	run := truth[len(truth)-1]

	steps, err := c.RunSteps(t.Context(), run.ID, 0)
	require.NoError(t, err)
	require.Len(t, steps, 50, "every kept step, through pages of 7")
	for i, st := range steps {
		assert.Equal(t, Int32(run.ExecutedSteps-i), st.ChildCount, "in the tenant's order, newest first")
		assert.NotEmpty(t, st.RunStepProperties, "properties are expanded")
	}
	errText, _, err := c.MessageErrorText(t.Context(), guid, 1<<20)
	require.NoError(t, err)
	assert.Equal(t, "FAILED", steps[0].Status)
	assert.Equal(t, errText, steps[0].Error)
	assert.Equal(t, run.FailedStep, steps[0].ModelStepId)

	newest, err := c.RunSteps(t.Context(), run.ID, 10)
	require.NoError(t, err)
	assert.Equal(t, steps[:10], newest)
}

func TestRunStepsOfACompletedInfoRunAreNone(t *testing.T) {
	c, sim := runsTenant(t, fakecpi.Options{Backlog: 100})
	_, truth := messageWith(t, sim, func(r []fakecpi.TruthRun) bool {
		return len(r) == 1 && r[0].State == "COMPLETED" && r[0].LogLevel == "INFO"
	})
	steps, err := c.RunSteps(t.Context(), truth[0].ID, 0)
	require.NoError(t, err)
	assert.Empty(t, steps)
}

func TestRunStepsContinuesAShortPageWithoutANextLink(t *testing.T) {
	// A tenant that cuts pages to 3 and sends no next link: the count says more is there.
	var mu sync.Mutex
	var skips []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		skips = append(skips, r.URL.Query().Get("$skip"))
		mu.Unlock()
		skip, _ := strconv.Atoi(r.URL.Query().Get("$skip"))
		var rows []string
		for i := skip; i < min(skip+3, 8); i++ {
			rows = append(rows, fmt.Sprintf(`{"RunId":"R","ChildCount":%d}`, 8-i))
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"d":{"results":[%s],"__count":"8"}}`, strings.Join(rows, ","))
	}))
	defer srv.Close()
	c, err := NewClient(Settings{ServiceRoot: srv.URL, Settings: httpapi.Settings{HTTPClient: srv.Client(), Retry: testRetry}})
	require.NoError(t, err)
	steps, err := c.RunSteps(t.Context(), "R", 0)
	require.NoError(t, err)
	require.Len(t, steps, 8)
	assert.Equal(t, Int32(1), steps[7].ChildCount)
	assert.Equal(t, []string{"", "3", "6"}, skips)
}

func TestRunsOnATenantWithoutThemAreNotFound(t *testing.T) {
	c, sim := runsTenant(t, fakecpi.Options{Backlog: 10, RunsNotFound: true})
	guid := sim.Truth()[0].MessageGUID
	_, err := c.MessageRuns(t.Context(), guid)
	assert.Equal(t, httpapi.KindNotFound, httpapi.KindOf(err))
	_, err = c.RunSteps(t.Context(), sim.RunsOf(guid)[0].ID, 0)
	assert.Equal(t, httpapi.KindNotFound, httpapi.KindOf(err))
}
