package mapping

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/ptracetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
)

var t1 = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

func tAt(d time.Duration) cpi.Time { return cpi.Time{Time: t1.Add(d)} }

// A message that failed, retried and failed again: two runs, the tenant's answers newest first.
func failedTwice() MessageTrace {
	mpl := cpi.MessageProcessingLog{
		MessageGuid: "AGsJx1_hwX3iXJ4xlOoOPQ6WNrPi", CorrelationId: "AGsJx1_corr", Status: "FAILED",
		LogStart: tAt(0), LogEnd: tAt(95 * time.Second), LogLevel: "INFO",
		IntegrationArtifact: cpi.IntegrationArtifact{Id: "Replicate_PurchaseOrder_to_Supplier", Name: "Replicate PurchaseOrder to Supplier", Type: "INTEGRATION_FLOW", PackageId: "AcmeProcurement"},
		CustomHeaderProperties: cpi.CustomHeaderProperties{
			{Name: "po_number", Value: "4500012345"},
			{Name: "traceparent", Value: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		},
	}
	step := func(run string, n int32, start, stop time.Duration, model, activity, status, errText string) cpi.MessageProcessingLogRunStep {
		return cpi.MessageProcessingLogRunStep{RunId: run, ChildCount: cpi.Int32(n), StepStart: tAt(start), StepStop: tAt(stop),
			StepId: model + "_1", ModelStepId: model, Activity: activity, Status: status, Error: errText}
	}
	errText := "com.sap.it.rt.adapter.http.api.exception.HttpResponseException: Connection refused\n\tat java.base/sun.nio.ch.Net.connect0(Native Method)"
	return MessageTrace{
		MPL:       mpl,
		ErrorText: errText,
		Runs: []RunTrace{
			{
				Run: cpi.MessageProcessingLogRun{Id: "RUN-2", RunStart: tAt(90 * time.Second), RunStop: tAt(95 * time.Second), LogLevel: "INFO", OverallState: "FAILED", ProcessId: "worker-1"},
				Steps: []cpi.MessageProcessingLogRunStep{
					step("RUN-2", 53, 94*time.Second, 95*time.Second, "CallActivity_3", "ExternalCall", "FAILED", errText),
					step("RUN-2", 52, 92*time.Second, 94*time.Second, "MessageFlow_11", "Mapping", "COMPLETED", ""),
				},
			},
			{
				Run: cpi.MessageProcessingLogRun{Id: "RUN-1", RunStart: tAt(0), RunStop: tAt(3 * time.Second), LogLevel: "INFO", OverallState: "RETRY", ProcessId: "worker-0"},
				Steps: []cpi.MessageProcessingLogRunStep{
					step("RUN-1", 2, 2*time.Second, 3*time.Second, "CallActivity_3", "ExternalCall", "FAILED", errText),
					{RunId: "RUN-1", ChildCount: 1, StepStart: tAt(0), StepStop: tAt(2 * time.Second), StepId: "StartEvent_1", ModelStepId: "StartEvent_1",
						Activity: "Start", Status: "COMPLETED", BranchId: "1", RunStepProperties: cpi.Expanded[cpi.RunStepProperty]{{Name: "AdapterType", Value: "HTTPS"}}},
				},
			},
		},
	}
}

func TestTracesMapAMessageItsRunsAndStepsToTheGoldenSpans(t *testing.T) {
	completed := MessageTrace{MPL: cpi.MessageProcessingLog{
		MessageGuid: "AGcompleted000000000000000001", Status: "COMPLETED", LogStart: tAt(time.Minute), LogEnd: tAt(time.Minute + 1200*time.Millisecond),
		IntegrationArtifact: cpi.IntegrationArtifact{Id: "Timer_Sync_CostCenters", Name: "Timer Sync CostCenters"},
	}}
	discarded := MessageTrace{MPL: cpi.MessageProcessingLog{MessageGuid: "AGdiscarded00000000000000001", Status: "DISCARDED", LogStart: tAt(2 * time.Minute), LogEnd: tAt(2 * time.Minute), IntegrationFlowName: "EDI_ORDERS_Inbound"}}
	got := testMapper(func(string) bool { return true }).Traces([]MessageTrace{failedTwice(), completed, discarded})

	path := filepath.Join("testdata", "traces.yaml")
	if *update {
		require.NoError(t, golden.WriteTraces(t, path, got))
	}
	want, err := golden.ReadTraces(path)
	require.NoError(t, err)
	require.NoError(t, ptracetest.CompareTraces(want, got, ptracetest.IgnoreSpansOrder()))
}

func TestTraceSpansShareTheLogRecordsIdsAndNestRunsAndSteps(t *testing.T) {
	m := testMapper(nil)
	mt := failedTwice()
	spans := m.Traces([]MessageTrace{mt}).ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	require.Equal(t, 1+2+4, spans.Len(), "one message span, two runs, four steps")
	logs := m.Messages([]cpi.MessageProcessingLog{mt.MPL}, nil, t1)
	lr := logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)

	msg := spans.At(0)
	assert.Equal(t, lr.TraceID(), msg.TraceID(), "the log record and the span are in one trace")
	assert.Equal(t, lr.SpanID(), msg.SpanID(), "and the log record belongs to the message span")
	assert.True(t, msg.ParentSpanID().IsEmpty())
	assert.Equal(t, ptrace.StatusCodeError, msg.Status().Code())
	assert.Equal(t, "com.sap.it.rt.adapter.http.api.exception.HttpResponseException: Connection refused", msg.Status().Message())
	require.Equal(t, 1, msg.Links().Len(), "the propagated traceparent is a link")
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", msg.Links().At(0).TraceID().String())

	runs := map[string]ptrace.Span{}
	var order []string
	for i := 1; i < spans.Len(); i++ {
		sp := spans.At(i)
		if sp.ParentSpanID() == msg.SpanID() {
			id, _ := sp.Attributes().Get(AttrRunID)
			runs[id.Str()] = sp
			order = append(order, id.Str())
		}
	}
	assert.Equal(t, []string{"RUN-1", "RUN-2"}, order, "runs in time order, though the tenant sent them newest first")
	assert.Equal(t, ptrace.StatusCodeError, runs["RUN-1"].Status().Code(), "a run that ended in RETRY failed")
	steps := 0
	for i := 1; i < spans.Len(); i++ {
		sp := spans.At(i)
		if sp.ParentSpanID() == runs["RUN-1"].SpanID() || sp.ParentSpanID() == runs["RUN-2"].SpanID() {
			steps++
			if model, _ := sp.Attributes().Get(AttrStepModelID); model.Str() == "CallActivity_3" {
				assert.Equal(t, ptrace.StatusCodeError, sp.Status().Code())
				require.Equal(t, 1, sp.Events().Len())
				assert.Equal(t, EventException, sp.Events().At(0).Name())
			}
		}
	}
	assert.Equal(t, 4, steps)
	omitted, ok := runs["RUN-2"].Attributes().Get(AttrRunStepsOmitted)
	require.True(t, ok, "RUN-2's steps start at 52: the tenant kept the last ones only")
	assert.EqualValues(t, 51, omitted.Int())
	assert.Equal(t, []string{"CallActivity_3", "CallActivity_3"}, FailingSteps(&mt))
	assert.Equal(t, mt.ErrorText, FailingStepError(mt.Runs), "the newest run's failing step")
}

func TestTraceparentIsParsedStrictly(t *testing.T) {
	for v, ok := range map[string]bool{
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01": true,
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01": false,
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01": false,
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01": false,
		"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01":  false,
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7":    false,
		"garbage": false,
	} {
		_, got := parseTraceparent(v)
		assert.Equal(t, ok, got, v)
	}
}

func TestTracesHonourTheResourceSwitches(t *testing.T) {
	sw := DefaultSwitches()
	sw.ResourceAttributes.SapCpiTenantURL.Enabled = false
	m := NewMapper(Tenant{URL: "https://acme.example/api/v1", Name: "prod"}, Scope{Name: "s"}, sw)
	res := m.Traces([]MessageTrace{failedTwice()}).ResourceSpans().At(0).Resource().Attributes()
	_, hasURL := res.Get(AttrTenantURL)
	assert.False(t, hasURL)
	name, _ := res.Get(AttrTenantName)
	assert.Equal(t, "prod", name.Str())
}
