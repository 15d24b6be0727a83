package sapcpireceiver

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/mapping"
)

// tracedSource is a message source with both a logs and a traces pipeline.
func (tt *testTenant) tracedSource(t testing.TB, cfg MessagesConfig, traces TracesConfig, logs consumer.Logs, spans consumer.Traces, st storage.Client, logger *zap.Logger) *messageSource {
	t.Helper()
	full := createDefaultConfig().(*Config)
	full.Messages, full.Traces = cfg, traces
	e := testEnv(t, envOptions{cfg: full, client: tt.client, logs: logs, traces: spans, storage: st, tel: tt.tel, now: tt.clock.Now})
	if logger != nil {
		e.set.Logger = logger
	}
	srcs, err := messageSources(e)
	require.NoError(t, err)
	src := srcs[0].(*messageSource)
	require.NoError(t, src.load(t.Context()))
	return src
}

func testTracesConfig() TracesConfig {
	c := defaultTracesConfig()
	c.ChangeableStatusDelay = 5 * time.Second
	return c
}

// flakyTraces refuses every n-th batch of spans and keeps the rest.
type flakyTraces struct {
	consumertest.TracesSink
	mu    sync.Mutex
	calls int
	every int
}

func (f *flakyTraces) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	f.mu.Lock()
	f.calls++
	refuse := f.every > 0 && f.calls%f.every == 0
	f.mu.Unlock()
	if refuse {
		return errRefused
	}
	return f.TracesSink.ConsumeTraces(ctx, td)
}

// spanRec is a delivered span with what the tests look at.
type spanRec struct {
	trace, id, parent string
	name, status      string
	code              ptrace.StatusCode
	attrs             map[string]any
}

func spansOf(all []ptrace.Traces) []spanRec {
	var out []spanRec
	for _, td := range all {
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			ss := td.ResourceSpans().At(i).ScopeSpans()
			for j := 0; j < ss.Len(); j++ {
				sps := ss.At(j).Spans()
				for k := 0; k < sps.Len(); k++ {
					sp := sps.At(k)
					out = append(out, spanRec{trace: sp.TraceID().String(), id: sp.SpanID().String(), parent: sp.ParentSpanID().String(),
						name: sp.Name(), status: sp.Status().Message(), code: sp.Status().Code(), attrs: sp.Attributes().AsRaw()})
				}
			}
		}
	}
	return out
}

// messageSpans indexes the message spans (those without a parent) by MessageGuid.
func messageSpans(t *testing.T, spans []spanRec) map[string][]spanRec {
	t.Helper()
	out := map[string][]spanRec{}
	for _, s := range spans {
		if s.parent == "" {
			id, _ := s.attrs[mapping.AttrMessageID].(string)
			out[id] = append(out[id], s)
		}
	}
	return out
}

func children(spans []spanRec, parent string) []spanRec {
	var out []spanRec
	for _, s := range spans {
		if s.parent == parent {
			out = append(out, s)
		}
	}
	return out
}

// The test of record for traces against the simulated tenant, with faults, refusals by the traces
// pipeline only, and restarts: every final MPL gives exactly one message span, its log records carry its
// trace and span ids, every FAILED one has its run and step spans and an error status, and the logs
// never repeat because the traces pipeline refused.
func TestTracesOneSpanPerFinalMessageWithRunsAndStepsAcrossFaultsRefusalsAndRestarts(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{Seed: 31, Rate: 6, LiveFor: 2 * time.Minute, TimeScale: 4 * time.Second, Backlog: 300,
		BacklogSpan: 10 * time.Minute, FaultRate: 0.08, FaultKinds: []fakecpi.Fault{fakecpi.FaultThrottle, fakecpi.FaultServerError, fakecpi.FaultTruncated}})
	st := storagetest.NewInMemoryClient(component.KindReceiver, component.MustNewID("file_storage"), "")
	logs := &flakySink{}
	spans := &flakyTraces{every: 4}
	cfg := testMessagesConfig()
	cfg.PageSize = 100
	src := tt.tracedSource(t, cfg, testTracesConfig(), logs, spans, st, nil)
	for i := range 200 {
		tt.clock.Advance(1013 * time.Millisecond)
		_ = src.poll(t.Context())
		if i%60 == 59 {
			src = tt.tracedSource(t, cfg, testTracesConfig(), logs, spans, st, nil)
		}
	}
	tt.sim.SetFaultRate(0)
	spans.every = 0
	for range 10 {
		tt.clock.Advance(time.Second)
		require.NoError(t, src.poll(t.Context()))
	}
	until := tt.clock.Now().Add(-cfg.SettleDelay - testTracesConfig().ChangeableStatusDelay)
	checkExactlyOnce(t, tt.sim.Truth(), delivered(logs.AllLogs()), until)

	all := spansOf(spans.AllTraces())
	byMsg := messageSpans(t, all)
	recordIDs := map[string][2]string{}
	for _, ld := range logs.AllLogs() {
		lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
		for i := 0; i < lrs.Len(); i++ {
			id, _ := lrs.At(i).Attributes().Get(mapping.AttrMessageID)
			recordIDs[id.Str()] = [2]string{lrs.At(i).TraceID().String(), lrs.At(i).SpanID().String()}
		}
	}
	finals, failed := 0, 0
	for _, m := range tt.sim.Truth() {
		f := m.Final()
		if !slices.Contains(spanStatuses, f.Status) || !f.LogEnd.Before(until) {
			continue
		}
		finals++
		got := byMsg[m.MessageGUID]
		require.Len(t, got, 1, "message %s (%s) has one message span", m.MessageGUID, f.Status)
		sp := got[0]
		assert.Equal(t, f.Status, sp.attrs[mapping.AttrMessageStatus], "the span is of the final state")
		assert.Equal(t, recordIDs[m.MessageGUID], [2]string{sp.trace, sp.id}, "the log records carry the span's trace and span ids")
		if f.Status != cpi.StatusFailed {
			continue
		}
		failed++
		assert.Equal(t, ptrace.StatusCodeError, sp.code)
		assert.NotEmpty(t, sp.status, "the error text's first line")
		runs := children(all, sp.id)
		truth := tt.sim.RunsOf(m.MessageGUID)
		require.Len(t, runs, len(truth), "one run span per run of %s", m.MessageGUID)
		steps, failing := 0, 0
		for _, r := range runs {
			for _, s := range children(all, r.id) {
				steps++
				if s.code == ptrace.StatusCodeError {
					failing++
				}
			}
		}
		want := 0
		for _, r := range truth {
			want += r.Steps
		}
		assert.Equal(t, want, steps, "every step the tenant kept")
		assert.Positive(t, failing, "the failing step has status ERROR")
	}
	assert.Greater(t, finals, 300)
	assert.Positive(t, failed)
	assert.Len(t, byMsg, finals, "no span for a message that is not final")
}

// scripted is a tenant whose one message moves PROCESSING → RETRY → COMPLETED between polls.
type scripted struct {
	tiedClient
	runs []cpi.MessageProcessingLogRun
}

func (c *scripted) MessageRuns(context.Context, string) ([]cpi.MessageProcessingLogRun, error) {
	return c.runs, nil
}

func (c *scripted) RunSteps(context.Context, string, int) ([]cpi.MessageProcessingLogRunStep, error) {
	return nil, nil
}

func TestTracesAMessageThatRetriesGivesOneSpanWithItsRuns(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{})
	client := &scripted{}
	mpl := func(status string, end time.Time) cpi.MessageProcessingLog {
		return cpi.MessageProcessingLog{MessageGuid: "AGretry", CorrelationId: "corr", Status: status, LogStart: cpi.Time{Time: t0}, LogEnd: cpi.Time{Time: end},
			IntegrationArtifact: cpi.IntegrationArtifact{Id: "Send_Invoice_to_Ariba"}}
	}
	logs, spans := &consumertest.LogsSink{}, &consumertest.TracesSink{}
	traces := testTracesConfig()
	traces.Runs.Statuses = []string{cpi.StatusCompleted, cpi.StatusFailed}
	src := tt.tracedSource(t, testMessagesConfig(), traces, logs, spans, nil, nil)
	src.client = client
	step := func(status string, end time.Time) {
		client.mpls = []cpi.MessageProcessingLog{mpl(status, end)}
		tt.clock.Advance(10 * time.Second)
		require.NoError(t, src.poll(t.Context()))
		tt.clock.Advance(time.Second)
		require.NoError(t, src.poll(t.Context()), "a second poll re-reads the overlap")
	}
	step("PROCESSING", t0.Add(time.Second))
	client.runs = []cpi.MessageProcessingLogRun{{Id: "R1", RunStart: cpi.Time{Time: t0}, RunStop: cpi.Time{Time: t0.Add(5 * time.Second)}, OverallState: "RETRY"}}
	step("RETRY", t0.Add(5*time.Second))
	assert.Zero(t, spans.SpanCount(), "no span before the message is final")
	client.runs = append([]cpi.MessageProcessingLogRun{{Id: "R2", RunStart: cpi.Time{Time: t0.Add(15 * time.Second)}, RunStop: cpi.Time{Time: t0.Add(17 * time.Second)}, OverallState: "COMPLETED"}}, client.runs...)
	step("COMPLETED", t0.Add(17*time.Second))
	step("COMPLETED", t0.Add(17*time.Second))

	assert.Equal(t, 3, logs.LogRecordCount(), "one record per state")
	all := spansOf(spans.AllTraces())
	byMsg := messageSpans(t, all)
	require.Len(t, byMsg["AGretry"], 1, "one message span")
	msg := byMsg["AGretry"][0]
	assert.Equal(t, ptrace.StatusCodeOk, msg.code)
	runs := children(all, msg.id)
	require.Len(t, runs, 2, "the retry shows as two sibling runs")
	assert.Equal(t, "RETRY", runs[0].attrs[mapping.AttrRunState])
	assert.Equal(t, "COMPLETED", runs[1].attrs[mapping.AttrRunState])
	lr := logs.AllLogs()[2].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	assert.Equal(t, lr.SpanID().String(), msg.id)
}

func TestTracesOfChangeableStatusesWaitSoThatAMessageGivesOneSpan(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{})
	client := &scripted{}
	spans := &consumertest.TracesSink{}
	src := tt.tracedSource(t, testMessagesConfig(), testTracesConfig(), &consumertest.LogsSink{}, spans, nil, nil)
	src.client = client
	client.mpls = []cpi.MessageProcessingLog{{MessageGuid: "AGabandoned", Status: "ABANDONED", LogStart: cpi.Time{Time: t0}, LogEnd: cpi.Time{Time: t0.Add(time.Second)}}}
	tt.clock.Advance(4 * time.Second)
	require.NoError(t, src.poll(t.Context()))
	assert.Zero(t, spans.SpanCount(), "ABANDONED can still change: its span waits")
	client.mpls = []cpi.MessageProcessingLog{{MessageGuid: "AGabandoned", Status: "FAILED", LogStart: cpi.Time{Time: t0}, LogEnd: cpi.Time{Time: t0.Add(6 * time.Second)}}}
	for range 10 {
		tt.clock.Advance(time.Second)
		require.NoError(t, src.poll(t.Context()))
	}
	all := spansOf(spans.AllTraces())
	require.Len(t, messageSpans(t, all)["AGabandoned"], 1)
	assert.Equal(t, "FAILED", messageSpans(t, all)["AGabandoned"][0].attrs[mapping.AttrMessageStatus], "the span is of the state the message ended in")

	client.mpls = []cpi.MessageProcessingLog{{MessageGuid: "AGescalated", Status: "ESCALATED", LogStart: cpi.Time{Time: t0}, LogEnd: cpi.Time{Time: tt.clock.Now().Add(-2 * time.Second)}}}
	for range 10 {
		tt.clock.Advance(time.Second)
		require.NoError(t, src.poll(t.Context()))
	}
	require.Len(t, messageSpans(t, spansOf(spans.AllTraces()))["AGescalated"], 1, "an ESCALATED message that stays so gets its span once it is old enough")
}

func TestTracesOnATenantWithoutRunsGoOutWithoutThemAndSayItOnce(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{Backlog: 400, Seed: 8, RunsNotFound: true})
	core, observed := observer.New(zapcore.InfoLevel)
	spans := &consumertest.TracesSink{}
	logs := &consumertest.LogsSink{}
	src := tt.tracedSource(t, testMessagesConfig(), testTracesConfig(), logs, spans, nil, zap.New(core))
	require.NoError(t, src.poll(t.Context()))
	all := spansOf(spans.AllTraces())
	require.NotEmpty(t, all)
	for _, s := range all {
		assert.Empty(t, s.parent, "message spans only")
	}
	assert.Equal(t, 1, observed.FilterMessageSnippet("runs are not available on this tenant").Len(), "said once")
	failedWithText := 0
	for _, s := range all {
		if s.attrs[mapping.AttrMessageStatus] == cpi.StatusFailed && s.status != "" {
			failedWithText++
		}
	}
	assert.Positive(t, failedWithText, "the error text comes from ErrorInformation when there are no runs")
}

// The failing run step's Error stands in for ErrorInformation/$value when the runs are read anyway:
// the same text, one request less per failed message.
func TestErrorTextFromTheFailingRunStepSavesARequestAndLosesNoText(t *testing.T) {
	count := func(fromSteps bool) (map[string]string, int) {
		tt := newTestTenant(t, fakecpi.Options{Backlog: 1000, Seed: 12})
		cfg := testMessagesConfig()
		cfg.ErrorDetails.FromRunSteps = fromSteps
		cfg.ErrorDetails.MaxSize = 1 << 20
		logs := &consumertest.LogsSink{}
		src := tt.tracedSource(t, cfg, testTracesConfig(), logs, &consumertest.TracesSink{}, nil, nil)
		before := tt.sim.Stats().APIRequests
		require.NoError(t, src.poll(t.Context()))
		texts := map[string]string{}
		for _, ld := range logs.AllLogs() {
			lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
			for i := 0; i < lrs.Len(); i++ {
				a := lrs.At(i).Attributes()
				if text, ok := a.Get(mapping.AttrMessageErrorText); ok {
					id, _ := a.Get(mapping.AttrMessageID)
					texts[id.Str()] = text.Str()
				}
			}
		}
		return texts, tt.sim.Stats().APIRequests - before
	}
	fromSteps, withSteps := count(true)
	fromErrorInfo, withoutSteps := count(false)
	assert.Equal(t, fromErrorInfo, fromSteps, "every error text is the same either way")
	failedOrEscalated := 0
	for _, text := range fromErrorInfo {
		if text != "" {
			failedOrEscalated++
		}
	}
	t.Logf("requests for 1000 MPLs: %d with the text from the run steps, %d with ErrorInformation", withSteps, withoutSteps)
	assert.Less(t, withSteps, withoutSteps, "fewer requests")
}

func TestTracesRefusedSpansAreDeliveredLaterWithoutRepeatingLogs(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{Backlog: 200, Seed: 4})
	logs := &consumertest.LogsSink{}
	refusing := &flakyTraces{every: 1}
	src := tt.tracedSource(t, testMessagesConfig(), testTracesConfig(), logs, refusing, nil, nil)
	require.ErrorIs(t, src.poll(t.Context()), errRefused)
	assert.Equal(t, 200, logs.LogRecordCount(), "the logs went out")
	assert.Zero(t, refusing.SpanCount())
	refusing.every = 0
	tt.clock.Advance(time.Second)
	require.NoError(t, src.poll(t.Context()))
	assert.Equal(t, 200, logs.LogRecordCount(), "the logs are not repeated for the spans' sake")
	byMsg := messageSpans(t, spansOf(refusing.AllTraces()))
	for id, s := range byMsg {
		assert.Len(t, s, 1, id)
	}
	assert.NotEmpty(t, byMsg)
}

func TestTraceparentHeaderBecomesALinkOfTheMessageSpan(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{Backlog: 300, Seed: 5})
	spans := &consumertest.TracesSink{}
	traces := testTracesConfig()
	traces.TraceparentFromHeaders = true
	src := tt.tracedSource(t, testMessagesConfig(), traces, &consumertest.LogsSink{}, spans, nil, nil)
	require.NoError(t, src.poll(t.Context()))
	links := 0
	for _, td := range spans.AllTraces() {
		sps := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
		for i := 0; i < sps.Len(); i++ {
			if sps.At(i).Links().Len() > 0 {
				links++
				assert.NotEqual(t, pcommon.TraceID{}, sps.At(i).Links().At(0).TraceID())
			}
		}
	}
	assert.Positive(t, links, "messages whose sender propagated a traceparent link to the sender's trace")
}

func TestTracesRunsCountedAsFailedSteps(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{Backlog: 500, Seed: 6})
	src := tt.tracedSource(t, testMessagesConfig(), testTracesConfig(), &consumertest.LogsSink{}, &consumertest.TracesSink{}, nil, nil)
	require.NoError(t, src.poll(t.Context()))
	tt.tel.mu.Lock()
	defer tt.tel.mu.Unlock()
	var n int64
	for k, c := range tt.tel.steps {
		assert.NotEmpty(t, k[1], "by ModelStepId")
		n += c
	}
	assert.Positive(t, n, "sapcpi.message.failed_steps counts the failing steps")
}

// flakyRuns fails the first reading of each message's runs with a 503.
type flakyRuns struct {
	messageClient
	mu   sync.Mutex
	seen map[string]bool
}

func (f *flakyRuns) MessageRuns(ctx context.Context, guid string) ([]cpi.MessageProcessingLogRun, error) {
	f.mu.Lock()
	first := !f.seen[guid]
	f.seen[guid] = true
	f.mu.Unlock()
	if first {
		return nil, &httpapi.Error{Op: "fetching Runs", Kind: httpapi.KindServer, Status: 503}
	}
	return f.messageClient.MessageRuns(ctx, guid)
}

// A run that fails to read for a transient reason is read again while its message is re-read: the span
// waits for it rather than going out without its steps.
func TestTracesWaitForRunsThatFailedTransiently(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{Seed: 33, Rate: 5, LiveFor: 40 * time.Second, TimeScale: 4 * time.Second})
	spans := &consumertest.TracesSink{}
	src := tt.tracedSource(t, testMessagesConfig(), testTracesConfig(), &consumertest.LogsSink{}, spans, nil, nil)
	src.client = &flakyRuns{messageClient: tt.client, seen: map[string]bool{}}
	for range 70 {
		tt.clock.Advance(time.Second)
		require.NoError(t, src.poll(t.Context()))
	}
	all := spansOf(spans.AllTraces())
	failed := 0
	for _, m := range tt.sim.Truth() {
		if m.Final().Status != cpi.StatusFailed {
			continue
		}
		got := messageSpans(t, all)[m.MessageGUID]
		require.Len(t, got, 1)
		failed++
		assert.NotEmpty(t, children(all, got[0].id), "FAILED %s has its runs though the first read failed", m.MessageGUID)
	}
	assert.Positive(t, failed)
}

// crashingTraces stands for a process killed while the spans sink works on a page: when it is called,
// a second receiver on the same storage starts with only a logs pipeline and polls.
type crashingTraces struct {
	consumertest.TracesSink
	whileWorking func()
	done         bool
}

func (c *crashingTraces) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	if !c.done {
		c.done = true
		c.whileWorking()
	}
	return c.TracesSink.ConsumeTraces(ctx, td)
}

// The spans sink can take seconds on a page (it reads runs). What the logs sink accepted before it is
// already in the checkpoint, so that a crash during that time repeats no log record.
func TestALaterSinkAtWorkDoesNotLeaveTheEarlierSinksRecordsUncommitted(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{Backlog: 120, Seed: 6})
	st := storagetest.NewInMemoryClient(component.KindReceiver, component.MustNewID("file_storage"), "")
	logs := &consumertest.LogsSink{}
	restartedLogs := &consumertest.LogsSink{}
	spans := &crashingTraces{}
	spans.whileWorking = func() {
		restarted := tt.tracedSource(t, testMessagesConfig(), testTracesConfig(), restartedLogs, nil, st, nil)
		require.NoError(t, restarted.poll(t.Context()))
	}
	src := tt.tracedSource(t, testMessagesConfig(), testTracesConfig(), logs, spans, st, nil)
	require.NoError(t, src.poll(t.Context()))
	assert.Equal(t, 120, logs.LogRecordCount())
	assert.Zero(t, restartedLogs.LogRecordCount(), "the records the logs sink accepted were committed before the spans sink started")
	assert.Positive(t, spans.SpanCount())
}
