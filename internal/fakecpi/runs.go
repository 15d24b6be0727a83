package fakecpi

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A message's runs are planned from its states the first time someone asks for them, with a random
// source of their own (seeded by the message's generation number), so that asking or not asking for
// runs never changes the message stream of a seed.

// keptFailedSteps is how many steps CPI keeps of a failed run at log level INFO: the last 50.
const keptFailedSteps = 50

// run is one processing run of a message: the first attempt, or a retry.
type run struct {
	id          string
	start, stop time.Time
	state       string // OverallState once the run has ended
	endIdx      int    // the state that ends the run
	openIdx     int    // the PROCESSING state during which the run is visible while running; -1 if none
	node        string // ProcessId: the worker node
	steps       []step // every step the run executed, in order
	kept        int    // how many of the last steps the tenant keeps
}

type step struct {
	childCount                            int
	stepID, modelStepID, activity, branch string
	status, errText                       string
	start, stop                           time.Time
	props                                 [][2]string
}

type runRef struct {
	msg *message
	idx int
}

// workerNodes are the ProcessIds of the simulated tenant's worker nodes.
var workerNodes = []string{"9f3c1a7e2b6d4058a1c3e5f7092b4d6e", "4b8e2d6f0a1c3e5f7a9b1d3f5e7c9a0b", "c2e4f6a8b0d1e3f5a7c9e1b3d5f7a9c1"}

// modelStep is an element of the simulated iFlow model. The RunStep Activity values are not
// documented; these follow the BPMN element kinds the iFlow editor produces.
type modelStep struct {
	id, activity, name string
	props              [][2]string
}

func flowSteps(f *iflow) (head, tail []modelStep, split modelStep, branch []modelStep, gather modelStep) {
	head = []modelStep{
		{id: "StartEvent_2", activity: "StartEvent", name: "Start"},
		{id: "MessageFlow_10", activity: "MessageFlow", name: "Sender", props: [][2]string{{"AdapterType", "HTTPS"}}},
		{id: "CallActivity_3", activity: "Enricher", name: "Set Headers"},
		{id: "CallActivity_5", activity: "Script", name: "Validate Payload", props: [][2]string{{"ScriptFile", "validate.groovy"}, {"ScriptFunction", "processData"}}},
	}
	split = modelStep{id: "CallActivity_12", activity: "Splitter", name: "Split Items"}
	branch = []modelStep{
		{id: "CallActivity_14", activity: "Mapping", name: "Map Item", props: [][2]string{{"MappingName", "MM_" + f.id + "_Item"}}},
		{id: "ServiceTask_15", activity: "ExternalCall", name: "Post Item", props: [][2]string{{"AdapterType", "ODATA"}}},
	}
	gather = modelStep{id: "ParallelGateway_17", activity: "Gather", name: "Gather Items"}
	tail = []modelStep{
		{id: "CallActivity_7", activity: "Mapping", name: "Map to Target", props: [][2]string{{"MappingName", "MM_" + f.id}}},
		{id: "ExclusiveGateway_8", activity: "Router", name: "Route by Receiver", props: [][2]string{{"Route", "Default"}}},
		{id: "ServiceTask_9", activity: "ExternalCall", name: "Call Receiver", props: [][2]string{{"AdapterType", "HTTP"}}},
		{id: "MessageFlow_11", activity: "MessageFlow", name: "Receiver", props: [][2]string{{"Address", "https://" + strings.ToLower(f.pkgID) + ".example/api/" + strings.ToLower(f.id)}}},
		{id: "EndEvent_2", activity: "EndEvent", name: "End"},
	}
	return
}

// planRuns derives the runs from the states: a PROCESSING state opens a run that the next state ends;
// every other state ends a run (opening one if none is open). The first run starts at LogStart, each
// run stops at the LogEnd of the state it ends, and a retry starts a little before it stops.
func (g *generator) planRuns(m *message) []run {
	r := rand.New(rand.NewPCG(g.seed^0x7275_6e73, uint64(m.seq)))
	var runs []run
	open := -1
	for i, st := range m.states {
		if st.status == "PROCESSING" {
			if open < 0 {
				runs = append(runs, run{openIdx: i, endIdx: len(m.states), start: runStart(runs, m, st.logEnd)})
				open = len(runs) - 1
			}
			continue
		}
		if open < 0 {
			runs = append(runs, run{openIdx: -1, start: runStart(runs, m, st.logEnd)})
			open = len(runs) - 1
		}
		ru := &runs[open]
		ru.endIdx, ru.state, ru.stop = i, st.status, st.logEnd
		open = -1
	}
	for i := range runs {
		ru := &runs[i]
		ru.id = idFrom(r, fmt.Sprintf("AR%06d%02d", m.seq%1000000, i))
		ru.node = workerNodes[r.IntN(len(workerNodes))]
		ru.steps = planSteps(r, m, ru)
		switch {
		case m.logLevel == "DEBUG" || m.logLevel == "TRACE":
			ru.kept = len(ru.steps)
		case failing(ru.state):
			ru.kept = min(len(ru.steps), keptFailedSteps)
		}
	}
	return runs
}

// runStart is when a run that ends at stop began: LogStart for the first, otherwise shortly before
// stop and never before the previous run stopped.
func runStart(prev []run, m *message, stop time.Time) time.Time {
	if len(prev) == 0 {
		return m.logStart
	}
	last := prev[len(prev)-1].stop
	d := min(m.states[0].logEnd.Sub(m.logStart), stop.Sub(last)/2)
	return stop.Add(-max(d, 0))
}

// planSteps lays out the iFlow's steps over the run. A run that fails ends in a failing step carrying
// the message's error text; one that ends otherwise early (abandoned, cancelled) just stops.
func planSteps(r *rand.Rand, m *message, ru *run) []step {
	head, tail, split, branch, gather := flowSteps(m.flow)
	type planned struct {
		ms     modelStep
		branch string
	}
	var seq []planned
	for _, ms := range head {
		seq = append(seq, planned{ms: ms})
	}
	branches := 0
	switch {
	case failing(ru.state) && r.IntN(3) == 0:
		branches = 25 + r.IntN(16) // a large split: more steps than a failed run keeps at INFO
	case r.IntN(10) == 0:
		branches = 2 + r.IntN(4)
	}
	if branches > 0 {
		seq = append(seq, planned{ms: split})
		for b := 1; b <= branches; b++ {
			for _, ms := range branch {
				seq = append(seq, planned{ms: ms, branch: strconv.Itoa(b)})
			}
		}
		seq = append(seq, planned{ms: gather})
	}
	tailFrom := len(seq)
	for _, ms := range tail {
		seq = append(seq, planned{ms: ms})
	}
	failAt := -1
	switch {
	case failing(ru.state):
		// The failure happens after the split, in one of the tail's steps before the end event.
		failAt = tailFrom + r.IntN(len(tail)-1)
		seq = seq[:failAt+1]
	case ru.state == "ABANDONED" || ru.state == "CANCELLED" || ru.state == "":
		seq = seq[:2+r.IntN(len(seq)-2)]
	}
	startMS, stopMS := ru.start.UnixMilli(), ru.stop.UnixMilli()
	if stopMS < startMS {
		stopMS = startMS
	}
	n := int64(len(seq))
	out := make([]step, len(seq))
	for i, p := range seq {
		st := step{
			childCount:  i + 1,
			modelStepID: p.ms.id,
			activity:    p.ms.activity,
			branch:      p.branch,
			status:      "COMPLETED",
			start:       time.UnixMilli(startMS + (stopMS-startMS)*int64(i)/n).UTC(),
			stop:        time.UnixMilli(startMS + (stopMS-startMS)*int64(i+1)/n).UTC(),
		}
		st.stepID = fmt.Sprintf("%s_%d", p.ms.id, st.childCount)
		st.props = append([][2]string{{"StepName", p.ms.name}}, p.ms.props...)
		if p.branch != "" {
			st.props = append(st.props, [2]string{"SplitIndex", p.branch})
		}
		if p.ms.id == split.id {
			st.props = append(st.props, [2]string{"NumberOfSplits", strconv.Itoa(branches)})
		}
		if i == failAt {
			st.status, st.errText = "FAILED", m.errorText
		}
		out[i] = st
	}
	return out
}

// runsOf plans the message's runs on first use; callers hold s.mu.
func (st *store) runsOf(m *message) []run {
	if !m.runsPlanned {
		m.runs = st.gen.planRuns(m)
		m.runsPlanned = true
		for i := range m.runs {
			st.runs[m.runs[i].id] = runRef{msg: m, idx: i}
		}
	}
	return m.runs
}

// runView is a run as the tenant serves it now.
type runView struct {
	r       *run
	state   string
	stop    time.Time // zero while running
	steps   []step    // the kept steps, newest first
	running bool
}

// view returns the run as visible at the message's current state; ok is false before it is visible.
func (ru *run) view(m *message) (runView, bool) {
	switch {
	case m.cur >= ru.endIdx:
		steps := slices.Clone(ru.steps[len(ru.steps)-ru.kept:])
		slices.Reverse(steps)
		return runView{r: ru, state: ru.state, stop: ru.stop, steps: steps}, true
	case ru.openIdx >= 0 && m.cur >= ru.openIdx:
		return runView{r: ru, state: "PROCESSING", running: true}, true
	}
	return runView{}, false
}

// visibleRuns are the message's runs as served now, oldest first.
func (st *store) visibleRuns(m *message) []runView {
	var out []runView
	if m.cur < 0 {
		return nil
	}
	runs := st.runsOf(m)
	for i := range runs {
		if v, ok := runs[i].view(m); ok {
			out = append(out, v)
		}
	}
	return out
}

// TruthRun is what the tenant serves of one run of a message.
type TruthRun struct {
	ID       string
	State    string    // OverallState: the message's status after this run; PROCESSING while running
	Start    time.Time // RunStart
	Stop     time.Time // RunStop; zero while the run is still running
	LogLevel string
	// Steps is how many RunSteps the tenant serves for this run (0 for a COMPLETED run at INFO, at most
	// 50 for a failed one at INFO, all at DEBUG and TRACE).
	Steps int
	// ExecutedSteps is how many steps the run went through, kept or not.
	ExecutedSteps int
	// FailedStep is the ModelStepId of the step that failed ("" if none is served), Error its text.
	FailedStep, Error string
}

// RunsOf returns the runs the tenant serves now for a message, oldest first; nil for an unknown or not
// yet visible message.
func (s *Server) RunsOf(guid string) []TruthRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.ensureStarted(now)
	s.store.advance(now)
	m, ok := s.store.byGUID[guid]
	if !ok {
		return nil
	}
	var out []TruthRun
	for _, v := range s.store.visibleRuns(m) {
		t := TruthRun{ID: v.r.id, State: v.state, Start: v.r.start, Stop: v.stop, LogLevel: m.logLevel,
			Steps: len(v.steps), ExecutedSteps: len(v.r.steps)}
		for _, st := range v.steps {
			if st.status == "FAILED" {
				t.FailedStep, t.Error = st.modelStepID, st.errText
			}
		}
		out = append(out, t)
	}
	return out
}

// listRuns serves MessageProcessingLogs('<guid>')/Runs, newest run first as tenants do.
func (s *Server) listRuns(r *http.Request, guid string) (int, []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.ensureStarted(now)
	s.store.advance(now)
	m, ok := s.store.byGUID[guid]
	if !ok || m.cur < 0 {
		return http.StatusNotFound, odataError("Not Found", "Message processing log "+guid+" not found")
	}
	views := s.store.visibleRuns(m)
	slices.Reverse(views)
	base := baseURL(r)
	buf := append([]byte(nil), `{"d":{"results":[`...)
	for i, v := range views {
		if i > 0 {
			buf = append(buf, ',')
		}
		uri := base + "MessageProcessingLogRuns('" + v.r.id + "')"
		buf = append(buf, `{"__metadata":{"id":`...)
		buf = appendString(buf, uri)
		buf = append(buf, `,"uri":`...)
		buf = appendString(buf, uri)
		buf = append(buf, `,"type":"com.sap.hci.api.MessageProcessingLogRun"},"Id":`...)
		buf = appendString(buf, v.r.id)
		buf = appendDate(buf, "RunStart", v.r.start)
		buf = appendDate(buf, "RunStop", v.stop)
		buf = append(buf, `,"LogLevel":`...)
		buf = appendString(buf, m.logLevel)
		buf = append(buf, `,"OverallState":`...)
		buf = appendString(buf, v.state)
		buf = append(buf, `,"ProcessId":`...)
		buf = appendString(buf, v.r.node)
		buf = append(buf, `,"RunSteps":{"__deferred":{"uri":`...)
		buf = appendString(buf, uri+"/RunSteps")
		buf = append(buf, "}}}"...)
	}
	buf = append(buf, "]}}"...)
	return http.StatusOK, buf
}

// listRunSteps serves MessageProcessingLogRuns('<id>')/RunSteps, newest step first, with $top, $skip,
// $inlinecount, $expand=RunStepProperties and the page cap with a next link.
func (s *Server) listRunSteps(r *http.Request, runID string) (int, []byte) {
	v := r.URL.Query()
	if f := v.Get("$format"); f != "" && f != "json" {
		return http.StatusBadRequest, odataError("Bad Request", "Unsupported $format "+f)
	}
	p, msg := parsePaging(v)
	if msg != "" {
		return http.StatusBadRequest, odataError("Bad Request", msg)
	}
	expand := false
	if exp := v.Get("$expand"); exp != "" {
		if exp != "RunStepProperties" {
			return http.StatusBadRequest, odataError("Bad Request", "Unsupported $expand "+exp)
		}
		expand = true
	}
	s.mu.Lock()
	now := s.now()
	s.ensureStarted(now)
	s.store.advance(now)
	ref, ok := s.store.runs[runID]
	var view runView
	if ok {
		view, ok = ref.msg.runs[ref.idx].view(ref.msg)
	}
	s.mu.Unlock()
	if !ok {
		return http.StatusNotFound, odataError("Not Found", "Message processing log run "+runID+" not found")
	}
	steps := view.steps
	total := len(steps)
	page := steps[min(p.skip, total):]
	limit := s.opts.PageCap
	if p.hasTop {
		limit = min(limit, p.top)
	}
	more := len(page) > limit
	page = page[:min(limit, len(page))]
	more = more && (!p.hasTop || p.top > len(page))

	base := baseURL(r)
	buf := append([]byte(nil), `{"d":{"results":[`...)
	for i, st := range page {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendRunStep(buf, base, runID, st, expand)
	}
	buf = append(buf, ']')
	if p.count {
		buf = append(buf, `,"__count":"`...)
		buf = strconv.AppendInt(buf, int64(total), 10)
		buf = append(buf, '"')
	}
	if more {
		buf = append(buf, `,"__next":`...)
		buf = appendString(buf, s.nextLink(r, p, len(page)))
	}
	buf = append(buf, "}}"...)
	return http.StatusOK, buf
}

func appendRunStep(buf []byte, base, runID string, st step, expand bool) []byte {
	key := "RunId='" + runID + "',ChildCount=" + strconv.Itoa(st.childCount)
	uri := base + "MessageProcessingLogRunSteps(" + key + ")"
	buf = append(buf, `{"__metadata":{"id":`...)
	buf = appendString(buf, uri)
	buf = append(buf, `,"uri":`...)
	buf = appendString(buf, uri)
	buf = append(buf, `,"type":"com.sap.hci.api.MessageProcessingLogRunStep"},"RunId":`...)
	buf = appendString(buf, runID)
	buf = append(buf, `,"ChildCount":`...)
	buf = strconv.AppendInt(buf, int64(st.childCount), 10) // Edm.Int32: a JSON number
	buf = appendDate(buf, "StepStart", st.start)
	buf = appendDate(buf, "StepStop", st.stop)
	for _, f := range [][2]string{{"StepId", st.stepID}, {"ModelStepId", st.modelStepID}, {"BranchId", st.branch},
		{"Status", st.status}, {"Error", st.errText}, {"Activity", st.activity}} {
		buf = append(buf, `,"`+f[0]+`":`...)
		if f[1] == "" {
			buf = append(buf, "null"...)
		} else {
			buf = appendString(buf, f[1])
		}
	}
	if expand {
		buf = append(buf, `,"RunStepProperties":{"results":[`...)
		for i, p := range st.props {
			if i > 0 {
				buf = append(buf, ',')
			}
			puri := base + "MessageProcessingLogRunStepProperties(" + key + ",Name='" + strings.ReplaceAll(p[0], "'", "''") + "')"
			buf = append(buf, `{"__metadata":{"id":`...)
			buf = appendString(buf, puri)
			buf = append(buf, `,"uri":`...)
			buf = appendString(buf, puri)
			buf = append(buf, `,"type":"com.sap.hci.api.MessageProcessingLogRunStepProperty"},"RunId":`...)
			buf = appendString(buf, runID)
			buf = append(buf, `,"ChildCount":`...)
			buf = strconv.AppendInt(buf, int64(st.childCount), 10)
			buf = append(buf, `,"Name":`...)
			buf = appendString(buf, p[0])
			buf = append(buf, `,"Value":`...)
			buf = appendString(buf, p[1])
			buf = append(buf, '}')
		}
		buf = append(buf, "]}"...)
	} else {
		buf = append(buf, `,"RunStepProperties":{"__deferred":{"uri":`...)
		buf = appendString(buf, uri+"/RunStepProperties")
		buf = append(buf, "}}"...)
	}
	buf = append(buf, `,"TraceMessages":{"__deferred":{"uri":`...)
	buf = appendString(buf, uri+"/TraceMessages")
	buf = append(buf, "}}"...)
	return append(buf, '}')
}

// appendDate writes ,"name":"/Date(ms)/", or null for the zero time.
func appendDate(buf []byte, name string, t time.Time) []byte {
	buf = append(buf, `,"`+name+`":`...)
	if t.IsZero() {
		return append(buf, "null"...)
	}
	buf = append(buf, `"/Date(`...)
	buf = strconv.AppendInt(buf, t.UnixMilli(), 10)
	return append(buf, `)/"`...)
}

// idFrom draws a 28-character id like the tenant's GUIDs.
func idFrom(r *rand.Rand, prefix string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for b.Len() < 28 {
		b.WriteByte(guidAlphabet[r.IntN(len(guidAlphabet))])
	}
	return b.String()
}
