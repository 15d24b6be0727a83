package mapping

import (
	"encoding/hex"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
)

// Attribute names of message, run and step spans. A message span carries the attributes of the
// message's sap.cpi.message record, plus the messaging semantic conventions that fit an integration
// flow processing a message.
const (
	AttrMessagingOperationType  = "messaging.operation.type"
	AttrMessagingMessageID      = "messaging.message.id"
	AttrMessagingConversationID = "messaging.message.conversation_id"
	AttrMessagingDestination    = "messaging.destination.name"

	AttrRunID           = "sap.cpi.run.id"
	AttrRunState        = "sap.cpi.run.state"
	AttrRunLogLevel     = "sap.cpi.run.log_level"
	AttrRunProcessID    = "sap.cpi.run.process_id"
	AttrRunStepsOmitted = "sap.cpi.run.steps_omitted"

	AttrStepID         = "sap.cpi.step.id"
	AttrStepModelID    = "sap.cpi.step.model_step_id"
	AttrStepActivity   = "sap.cpi.step.activity"
	AttrStepBranchID   = "sap.cpi.step.branch_id"
	AttrStepStatus     = "sap.cpi.step.status"
	AttrStepIndex      = "sap.cpi.step.index"
	AttrStepProperties = "sap.cpi.step.properties"

	AttrExceptionMessage = "exception.message"
	// EventException is the span event of a failing step, as the semantic conventions name it.
	EventException = "exception"
)

// MessageTrace is one MPL in its final state with what was read of its runs.
type MessageTrace struct {
	MPL cpi.MessageProcessingLog
	// ErrorText is the message's error text, if any; its first line is the span's status message.
	ErrorText string
	// Runs are the runs and their steps as the tenant sent them; Traces sorts them.
	Runs []RunTrace
}

// RunTrace is a run with its steps.
type RunTrace struct {
	Run   cpi.MessageProcessingLogRun
	Steps []cpi.MessageProcessingLogRunStep
}

// RunSpanID and StepSpanID derive span ids from the tenant's run ids, so a span keeps its id
// whenever it is built.
func RunSpanID(runID string) pcommon.SpanID { return spanIDOf("sap.cpi.run/", runID) }

// StepSpanID is the span id of one step of a run.
func StepSpanID(runID string, index int32) pcommon.SpanID {
	return spanIDOf("sap.cpi.step/", runID+"/"+strconv.FormatInt(int64(index), 10))
}

func spanIDOf(prefix, key string) pcommon.SpanID {
	sum := hashWithPrefix(prefix, key)
	var id pcommon.SpanID
	copy(id[:], sum[:8])
	return id
}

// Traces maps final MPLs to spans: one message span per MPL (the ids of its log records, so a backend
// links the two), below it one span per run in time order (a retry is a sibling run), and below each
// run one span per step, the failing one with status ERROR and an exception event.
func (m *Mapper) Traces(msgs []MessageTrace) ptrace.Traces {
	td := ptrace.NewTraces()
	if len(msgs) == 0 {
		return td
	}
	res := pcommon.NewResource()
	m.putResource(res.Attributes(), AttrTenantURL, m.Tenant.URL)
	m.putResource(res.Attributes(), AttrTenantName, m.Tenant.Name)
	if !m.resourceAllowed(res) {
		return td
	}
	rs := td.ResourceSpans().AppendEmpty()
	res.MoveTo(rs.Resource())
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName(m.Scope.Name)
	ss.Scope().SetVersion(m.Scope.Version)
	spans := ss.Spans()
	for i := range msgs {
		m.messageSpans(spans, &msgs[i])
	}
	return td
}

func (m *Mapper) messageSpans(spans ptrace.SpanSlice, mt *MessageTrace) {
	mpl := &mt.MPL
	traceID := TraceID(mpl.CorrelationId, mpl.MessageGuid)
	msgID := SpanID(mpl.MessageGuid)

	sp := spans.AppendEmpty()
	sp.SetTraceID(traceID)
	sp.SetSpanID(msgID)
	sp.SetKind(ptrace.SpanKindConsumer)
	name := mpl.IntegrationArtifact.Name
	iflowID := mpl.IntegrationArtifact.Id
	if iflowID == "" {
		iflowID = mpl.IntegrationFlowName
	}
	if name == "" {
		name = iflowID
	}
	if name == "" {
		name = "message " + mpl.MessageGuid
	}
	sp.SetName(name)
	start, end := mpl.LogStart.Time, mpl.LogEnd.Time
	if start.IsZero() || end.Before(start) {
		start = end
	}
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(end))

	// The record's attributes, written by the one function that writes them for the log record.
	scratch := plog.NewLogRecord()
	detail := ErrorDetail{Text: mt.ErrorText}
	m.message(scratch, mpl, detail, 0, textsOf(mpl, detail))
	attrs := sp.Attributes()
	scratch.Attributes().MoveTo(attrs)
	attrs.PutStr(AttrMessagingOperationType, "process")
	attrs.PutStr(AttrMessagingMessageID, mpl.MessageGuid)
	putStr(attrs, AttrMessagingConversationID, mpl.CorrelationId)
	putStr(attrs, AttrMessagingDestination, iflowID)
	if link, ok := traceparentOf(mpl.CustomHeaderProperties); ok {
		// A traceparent the sender propagated links the caller's trace; the message stays in the trace of
		// its correlation, which the API states, so the caller is a link, not the parent.
		l := sp.Links().AppendEmpty()
		l.SetTraceID(link.trace)
		l.SetSpanID(link.span)
		l.SetFlags(uint32(link.flags))
	}
	switch mpl.Status {
	case cpi.StatusFailed, cpi.StatusEscalated:
		sp.Status().SetCode(ptrace.StatusCodeError)
		sp.Status().SetMessage(firstLine(mt.ErrorText))
	case cpi.StatusCompleted:
		sp.Status().SetCode(ptrace.StatusCodeOk)
	}

	runs := append([]RunTrace(nil), mt.Runs...)
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].Run.RunStart.Before(runs[j].Run.RunStart.Time) })
	for i := range runs {
		runSpans(spans, traceID, msgID, &runs[i], end)
	}
}

func runSpans(spans ptrace.SpanSlice, traceID pcommon.TraceID, parent pcommon.SpanID, rt *RunTrace, messageEnd time.Time) {
	run := &rt.Run
	steps := append([]cpi.MessageProcessingLogRunStep(nil), rt.Steps...)
	sort.SliceStable(steps, func(i, j int) bool {
		if !steps[i].StepStart.Equal(steps[j].StepStart.Time) {
			return steps[i].StepStart.Before(steps[j].StepStart.Time)
		}
		return steps[i].ChildCount < steps[j].ChildCount
	})
	start, stop := run.RunStart.Time, run.RunStop.Time
	if stop.IsZero() {
		// A run still running when it was read ends with the message's last write.
		stop = messageEnd
	}
	if stop.Before(start) {
		stop = start
	}
	sp := spans.AppendEmpty()
	runID := RunSpanID(run.Id)
	sp.SetTraceID(traceID)
	sp.SetSpanID(runID)
	sp.SetParentSpanID(parent)
	sp.SetKind(ptrace.SpanKindInternal)
	sp.SetName("run")
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(stop))
	attrs := sp.Attributes()
	putStr(attrs, AttrRunID, run.Id)
	putStr(attrs, AttrRunState, run.OverallState)
	putStr(attrs, AttrRunLogLevel, run.LogLevel)
	putStr(attrs, AttrRunProcessID, run.ProcessId)
	if len(steps) > 0 && steps[0].ChildCount > 1 {
		// The tenant keeps only the last steps of a run (50 at log level INFO): say how many are gone.
		attrs.PutInt(AttrRunStepsOmitted, int64(steps[0].ChildCount)-1)
	}
	var failing string
	for i := range steps {
		if msg := stepSpan(spans, traceID, runID, run.Id, &steps[i]); msg != "" {
			failing = msg
		}
	}
	switch run.OverallState {
	case cpi.StatusCompleted:
		sp.Status().SetCode(ptrace.StatusCodeOk)
	case cpi.StatusFailed, cpi.StatusEscalated, cpi.StatusRetry:
		sp.Status().SetCode(ptrace.StatusCodeError)
		sp.Status().SetMessage(failing)
	}
}

// stepSpan appends a step's span and returns its error's first line when the step failed.
func stepSpan(spans ptrace.SpanSlice, traceID pcommon.TraceID, parent pcommon.SpanID, runID string, st *cpi.MessageProcessingLogRunStep) string {
	sp := spans.AppendEmpty()
	sp.SetTraceID(traceID)
	sp.SetSpanID(StepSpanID(runID, int32(st.ChildCount)))
	sp.SetParentSpanID(parent)
	sp.SetKind(ptrace.SpanKindInternal)
	name := st.Activity
	if st.ModelStepId != "" {
		name = strings.TrimSpace(name + " " + st.ModelStepId)
	}
	if name == "" {
		name = "step"
	}
	sp.SetName(name)
	start, stop := st.StepStart.Time, st.StepStop.Time
	if stop.Before(start) {
		stop = start
	}
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(stop))
	attrs := sp.Attributes()
	putStr(attrs, AttrStepID, st.StepId)
	putStr(attrs, AttrStepModelID, st.ModelStepId)
	putStr(attrs, AttrStepActivity, st.Activity)
	putStr(attrs, AttrStepBranchID, st.BranchId)
	putStr(attrs, AttrStepStatus, st.Status)
	attrs.PutInt(AttrStepIndex, int64(st.ChildCount))
	if len(st.RunStepProperties) > 0 {
		props := attrs.PutEmptyMap(AttrStepProperties)
		for _, p := range st.RunStepProperties {
			props.PutStr(p.Name, p.Value)
		}
	}
	if st.Error == "" && !strings.EqualFold(st.Status, cpi.StatusFailed) {
		return ""
	}
	msg := firstLine(st.Error)
	sp.Status().SetCode(ptrace.StatusCodeError)
	sp.Status().SetMessage(msg)
	if st.Error != "" {
		ev := sp.Events().AppendEmpty()
		ev.SetName(EventException)
		ev.SetTimestamp(pcommon.NewTimestampFromTime(stop))
		ev.Attributes().PutStr(AttrExceptionMessage, st.Error)
	}
	return msg
}

// FailingSteps are the steps of a trace's runs that failed, by ModelStepId, for the failed-steps metric.
func FailingSteps(mt *MessageTrace) []string {
	var out []string
	for _, r := range mt.Runs {
		for _, st := range r.Steps {
			if st.Error != "" || strings.EqualFold(st.Status, cpi.StatusFailed) {
				out = append(out, st.ModelStepId)
			}
		}
	}
	return out
}

// FailingStepError is the error of the newest run's failing step: the text the message failed with, as
// the run recorded it ("" when no step failed or none was read).
func FailingStepError(runs []RunTrace) string {
	var newest *RunTrace
	for i := range runs {
		if newest == nil || runs[i].Run.RunStart.After(newest.Run.RunStart.Time) {
			newest = &runs[i]
		}
	}
	if newest == nil {
		return ""
	}
	text := ""
	var at time.Time
	for _, st := range newest.Steps {
		if st.Error != "" && !st.StepStart.Before(at) {
			text, at = st.Error, st.StepStart.Time
		}
	}
	return text
}

type spanContext struct {
	trace pcommon.TraceID
	span  pcommon.SpanID
	flags byte
}

// traceparentOf finds a W3C traceparent among the custom header properties (2026 adapters propagate
// it): version-traceid-spanid-flags in lower-case hex, an all-zero id being invalid.
func traceparentOf(props cpi.CustomHeaderProperties) (spanContext, bool) {
	for _, p := range props {
		if !strings.EqualFold(p.Name, "traceparent") {
			continue
		}
		if sc, ok := parseTraceparent(strings.TrimSpace(p.Value)); ok {
			return sc, true
		}
	}
	return spanContext{}, false
}

func parseTraceparent(v string) (spanContext, bool) {
	parts := strings.Split(v, "-")
	if len(parts) < 4 || len(parts[0]) != 2 || parts[0] == "ff" || len(parts[1]) != 32 || len(parts[2]) != 16 || len(parts[3]) != 2 {
		return spanContext{}, false
	}
	var sc spanContext
	var flags [1]byte
	if _, err := hex.Decode(sc.trace[:], []byte(parts[1])); err != nil {
		return spanContext{}, false
	}
	if _, err := hex.Decode(sc.span[:], []byte(parts[2])); err != nil {
		return spanContext{}, false
	}
	if _, err := hex.Decode(flags[:], []byte(parts[3])); err != nil {
		return spanContext{}, false
	}
	if sc.trace.IsEmpty() || sc.span.IsEmpty() {
		return spanContext{}, false
	}
	sc.flags = flags[0]
	return sc, true
}
