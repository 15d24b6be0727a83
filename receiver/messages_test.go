package sapcpireceiver

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/xextension/storage"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/mapping"
)

func TestMessagesBacklogArrivesOnceAcrossPollsAndPages(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{Backlog: 2500, BacklogSpan: time.Hour})
	sink := &consumertest.LogsSink{}
	src := tt.source(t, testMessagesConfig(), sink, nil)

	require.NoError(t, src.poll(t.Context()))
	assert.Equal(t, 2500, sink.LogRecordCount())
	assert.GreaterOrEqual(t, len(sink.AllLogs()), 3, "one batch per page of 1000")

	tt.clock.Advance(time.Minute)
	require.NoError(t, src.poll(t.Context()))
	assert.Equal(t, 2500, sink.LogRecordCount(), "the overlap re-read repeats nothing")
	checkExactlyOnce(t, tt.sim.Truth(), delivered(sink.AllLogs()), t0)
}

func TestMessagesStateChangesYieldNewRecordsAndFinalsArriveOnce(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{Seed: 7, Rate: 5, LiveFor: 3 * time.Minute, TimeScale: 5 * time.Second, LateBy: 5 * time.Second})
	sink := &consumertest.LogsSink{}
	cfg := testMessagesConfig()
	cfg.PageSize = 50 // several pages per poll
	src := tt.source(t, cfg, sink, nil)
	for range 240 {
		tt.clock.Advance(time.Second)
		require.NoError(t, src.poll(t.Context()))
	}
	got := delivered(sink.AllLogs())
	checkExactlyOnce(t, tt.sim.Truth(), got, tt.clock.Now().Add(-cfg.SettleDelay))

	// A retried message shows up first in RETRY and later COMPLETED.
	byGUID := map[string][]string{}
	for _, k := range got {
		byGUID[k.guid] = append(byGUID[k.guid], k.status)
	}
	sawRetryThenComplete := false
	for _, states := range byGUID {
		if slices.Equal(states, []string{"RETRY", "RETRY", "COMPLETED"}) {
			sawRetryThenComplete = true
		}
	}
	assert.True(t, sawRetryThenComplete, "intermediate states are records of their own")
}

func TestMessagesCheckpointHoldsWhenConsumerFails(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{Backlog: 300})
	st := storagetest.NewInMemoryClient(component.KindReceiver, component.MustNewID("file_storage"), "")
	refusing := consumertest.NewErr(errRefused)
	src := tt.source(t, testMessagesConfig(), refusing, st)

	err := src.poll(t.Context())
	require.ErrorIs(t, err, errRefused)
	assert.ErrorIs(t, err, errConsumer)
	assert.True(t, src.window.Watermark.IsZero(), "the watermark did not move")
	assert.Zero(t, src.window.Len())
	raw, err := st.Get(t.Context(), messagesCheckpointKey)
	require.NoError(t, err)
	assert.Nil(t, raw, "nothing was committed")
	assert.Empty(t, tt.tel.messages, "refused records are not counted in the metrics")

	sink := &consumertest.LogsSink{}
	src.out.logs = sink
	require.NoError(t, src.poll(t.Context()))
	assert.Equal(t, 300, sink.LogRecordCount(), "the held-back records arrive on the next poll")
	checkExactlyOnce(t, tt.sim.Truth(), delivered(sink.AllLogs()), t0)
}

func TestMessagesConsumerFailureMidPollKeepsEarlierPages(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{Backlog: 1000})
	cfg := testMessagesConfig()
	cfg.PageSize = 100
	sink := &flakySink{every: 4}
	src := tt.source(t, cfg, sink, nil)
	for range 20 {
		_ = src.poll(t.Context())
		tt.clock.Advance(time.Second)
	}
	assert.Equal(t, 1000, sink.LogRecordCount())
	checkExactlyOnce(t, tt.sim.Truth(), delivered(sink.AllLogs()), t0)
}

func TestMessagesResumeFromStorageAfterRestart(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{Seed: 11, Rate: 4, LiveFor: 2 * time.Minute, TimeScale: 4 * time.Second, Backlog: 500})
	host := storagetest.NewStorageHost().WithFileBackedStorageExtension("file_storage", t.TempDir())
	id := component.MustNewID("sapcpi")
	sink := &consumertest.LogsSink{}
	var st storage.Client
	open := func() *messageSource {
		if st != nil {
			require.NoError(t, st.Close(t.Context())) // the old process is gone
		}
		var err error
		st, err = storageClient(t.Context(), host, ptr(storagetest.NewStorageID("file_storage")), id)
		require.NoError(t, err)
		return tt.source(t, testMessagesConfig(), sink, st)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	src := open()
	for range 60 {
		tt.clock.Advance(time.Second)
		require.NoError(t, src.poll(t.Context()))
	}
	before := sink.LogRecordCount()
	require.Positive(t, before)

	// Restart: a new source reads the checkpoint the old one committed.
	src = open()
	assert.False(t, src.window.Watermark.IsZero(), "the checkpoint was loaded")
	for range 120 {
		tt.clock.Advance(time.Second)
		require.NoError(t, src.poll(t.Context()))
	}
	checkExactlyOnce(t, tt.sim.Truth(), delivered(sink.AllLogs()), tt.clock.Now().Add(-2*time.Second))
}

func ptr[T any](v T) *T { return &v }

func TestMessagesSurviveFaultsConsumerRefusalsAndRestartsWithoutLossOrRepeat(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{Seed: 42, Rate: 10, LiveFor: 4 * time.Minute, TimeScale: 6 * time.Second,
		LateBy: 5 * time.Second, Backlog: 1500, FaultRate: 0.25,
		// Slow answers are covered by the client tests and the end-to-end test; here they would only add
		// seconds of waiting for timeouts.
		FaultKinds: []fakecpi.Fault{fakecpi.FaultThrottle, fakecpi.FaultServerError, fakecpi.FaultUnavailable,
			fakecpi.FaultExpiredToken, fakecpi.FaultTruncated, fakecpi.FaultLoginPage}})
	st := storagetest.NewInMemoryClient(component.KindReceiver, component.MustNewID("file_storage"), "")
	out := &flakySink{every: 7}
	cfg := testMessagesConfig()
	cfg.PageSize = 200
	src := tt.source(t, cfg, out, st)
	failures := 0
	for i := range 330 {
		tt.clock.Advance(time.Second)
		if err := src.poll(t.Context()); err != nil {
			failures++
		}
		if i%50 == 49 {
			src = tt.source(t, cfg, out, st) // a restart
		}
	}
	tt.sim.SetFaultRate(0)
	out.every = 0
	for range 5 {
		tt.clock.Advance(time.Second)
		require.NoError(t, src.poll(t.Context()))
	}
	assert.Positive(t, failures, "the scenario did fail now and then")
	assert.Positive(t, tt.sim.Stats().FaultsInjected[fakecpi.FaultTruncated])
	checkExactlyOnce(t, tt.sim.Truth(), delivered(out.AllLogs()), tt.clock.Now().Add(-cfg.SettleDelay))
}

func TestMessagesErrorTextIsFetchedForFailedStatusesOnly(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{Backlog: 400, Seed: 3})
	sink := &consumertest.LogsSink{}
	cfg := testMessagesConfig()
	cfg.ErrorDetails.MaxSize = 100
	src := tt.source(t, cfg, sink, nil)
	require.NoError(t, src.poll(t.Context()))
	withText, failed := 0, 0
	for _, ld := range sink.AllLogs() {
		lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
		for i := 0; i < lrs.Len(); i++ {
			attrs := lrs.At(i).Attributes()
			status, _ := attrs.Get(mapping.AttrMessageStatus)
			text, has := attrs.Get(mapping.AttrMessageErrorText)
			switch status.Str() {
			case cpi.StatusFailed, cpi.StatusEscalated, cpi.StatusRetry:
				failed++
				if assert.True(t, has, "error text of a %s message", status.Str()) {
					withText++
					assert.LessOrEqual(t, len(text.Str()), 100)
				}
			default:
				assert.False(t, has, "no error text requested for %s", status.Str())
			}
		}
	}
	assert.Positive(t, failed)
	assert.Equal(t, failed, withText)
}

func TestMessagesErrorTextFailureDoesNotHoldBackTheRecord(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{Backlog: 400, Seed: 3})
	sink := &consumertest.LogsSink{}
	src := tt.source(t, testMessagesConfig(), sink, nil)
	src.client = &failingErrorText{messageClient: tt.client}
	require.NoError(t, src.poll(t.Context()))
	assert.Equal(t, 400, sink.LogRecordCount())
	for _, ld := range sink.AllLogs() {
		lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
		for i := 0; i < lrs.Len(); i++ {
			_, ok := lrs.At(i).Attributes().Get(mapping.AttrMessageErrorText)
			assert.False(t, ok, "the failed fetch left the text out")
		}
	}
}

type failingErrorText struct{ messageClient }

func (f *failingErrorText) MessageErrorText(context.Context, string, int) (string, bool, error) {
	return "", false, &httpapi.Error{Op: "fetching ErrorInformation", Kind: httpapi.KindServer, Status: 500}
}

func TestMessagesIncludeFiltersAreSentToTheTenant(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{Backlog: 600})
	sink := &consumertest.LogsSink{}
	cfg := testMessagesConfig()
	cfg.IncludeIFlows = []string{"Bank_Statement_Import", "OrgUnit_Sync"}
	cfg.ExcludeStatuses = []string{"COMPLETED"}
	src := tt.source(t, cfg, sink, nil)
	require.NoError(t, src.poll(t.Context()))
	require.Positive(t, sink.LogRecordCount())
	for _, k := range delivered(sink.AllLogs()) {
		assert.NotEqual(t, "COMPLETED", k.status)
	}
	for _, ld := range sink.AllLogs() {
		lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
		for i := 0; i < lrs.Len(); i++ {
			id, _ := lrs.At(i).Attributes().Get(mapping.AttrIFlowID)
			assert.Contains(t, cfg.IncludeIFlows, id.Str())
		}
	}
}

// cappedClient serves at most cap entries per page, below $top, with a next link, as a tenant may.
type cappedClient struct {
	tiedClient
	cap int
}

func (c *cappedClient) MessageProcessingLogs(ctx context.Context, q cpi.MessageQuery) (cpi.Page[cpi.MessageProcessingLog], error) {
	page, _ := c.tiedClient.MessageProcessingLogs(ctx, cpi.MessageQuery{From: q.From, Until: q.Until, Top: 1 << 30, Skip: q.Skip})
	more := len(page.Results) > c.cap
	page.Results = page.Results[:min(c.cap, len(page.Results))]
	if more {
		page.Next = "MessageProcessingLogs?$skiptoken=x"
	}
	return page, nil
}

func TestMessagesPagesBelowTopWithANextLinkDoNotEndTheWindow(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{})
	client := &cappedClient{cap: 7}
	for i := range 40 {
		at := cpi.Time{Time: t0.Add(-time.Hour + time.Duration(i)*time.Second)}
		client.mpls = append(client.mpls, cpi.MessageProcessingLog{MessageGuid: fmt.Sprintf("M%02d", i), Status: "COMPLETED", LogStart: at, LogEnd: at})
	}
	sink := &consumertest.LogsSink{}
	cfg := testMessagesConfig()
	cfg.PageSize = 20
	src := tt.source(t, cfg, sink, nil)
	src.client = client
	require.NoError(t, src.poll(t.Context()))
	assert.Equal(t, 40, sink.LogRecordCount(), "a short page with a next link is not the end")
}

// emptyNextClient answers its first request with an empty page and a next link, as a tenant that
// filters rows after paging might, and serves normally afterwards.
type emptyNextClient struct {
	tiedClient
	answered int
}

func (c *emptyNextClient) MessageProcessingLogs(ctx context.Context, q cpi.MessageQuery) (cpi.Page[cpi.MessageProcessingLog], error) {
	c.answered++
	if c.answered == 1 {
		return cpi.Page[cpi.MessageProcessingLog]{Next: "MessageProcessingLogs?$skiptoken=x"}, nil
	}
	return c.tiedClient.MessageProcessingLogs(ctx, q)
}

// An empty page that says more follows is no end of the window: the poll fails with a clear error and
// the watermark stays, so the next poll reads the same window and nothing is passed over.
func TestMessagesEmptyPageWithANextLinkDoesNotMoveTheWatermark(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{})
	client := &emptyNextClient{}
	for i := range 30 {
		at := cpi.Time{Time: t0.Add(-time.Hour + time.Duration(i)*time.Second)}
		client.mpls = append(client.mpls, cpi.MessageProcessingLog{MessageGuid: fmt.Sprintf("M%02d", i), Status: "COMPLETED", LogStart: at, LogEnd: at})
	}
	sink := &consumertest.LogsSink{}
	src := tt.source(t, testMessagesConfig(), sink, nil)
	src.client = client
	err := src.poll(t.Context())
	require.ErrorContains(t, err, "empty page with a next link")
	assert.True(t, src.window.Watermark.IsZero(), "the watermark did not jump to the window's end")
	require.NoError(t, src.poll(t.Context()))
	assert.Equal(t, 30, sink.LogRecordCount(), "the next poll reads the window the empty page stood in")
}

// tiedClient serves MPLs that all share one LogEnd, more than a page of them: paging by LogEnd alone
// cannot move on, so the source must step over the tie by offset.
type tiedClient struct {
	mpls []cpi.MessageProcessingLog
}

func (c *tiedClient) MessageProcessingLogs(_ context.Context, q cpi.MessageQuery) (cpi.Page[cpi.MessageProcessingLog], error) {
	var match []cpi.MessageProcessingLog
	for _, m := range c.mpls {
		if !m.LogEnd.Before(q.From) && m.LogEnd.Before(q.Until) {
			match = append(match, m)
		}
	}
	match = match[min(q.Skip, len(match)):]
	return cpi.Page[cpi.MessageProcessingLog]{Results: match[:min(q.Top, len(match))]}, nil
}

func (c *tiedClient) MessageErrorText(context.Context, string, int) (string, bool, error) {
	return "", false, nil
}

func (c *tiedClient) MessageRuns(context.Context, string) ([]cpi.MessageProcessingLogRun, error) {
	return nil, &httpapi.Error{Op: "fetching Runs", Kind: httpapi.KindNotFound, Status: 404}
}

func (c *tiedClient) RunSteps(context.Context, string, int) ([]cpi.MessageProcessingLogRunStep, error) {
	return nil, &httpapi.Error{Op: "fetching RunSteps", Kind: httpapi.KindNotFound, Status: 404}
}

func TestMessagesPageOfOneLogEndIsSteppedOverByOffset(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{})
	at := cpi.Time{Time: t0.Add(-time.Minute)}
	client := &tiedClient{}
	for i := range 250 {
		client.mpls = append(client.mpls, cpi.MessageProcessingLog{MessageGuid: "M" + string(rune('A'+i%26)) + time.Duration(i).String(), Status: "COMPLETED", LogEnd: at, LogStart: at})
	}
	client.mpls = append(client.mpls, cpi.MessageProcessingLog{MessageGuid: "LATER", Status: "COMPLETED", LogEnd: cpi.Time{Time: at.Add(time.Second)}})
	sink := &consumertest.LogsSink{}
	cfg := testMessagesConfig()
	cfg.PageSize = 100
	src := tt.source(t, cfg, sink, nil)
	src.client = client
	require.NoError(t, src.poll(t.Context()))
	assert.Equal(t, 251, sink.LogRecordCount())
}

func TestMessagesWatermarkMovesOnAQuietTenant(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{})
	src := tt.source(t, testMessagesConfig(), &consumertest.LogsSink{}, nil)
	require.NoError(t, src.poll(t.Context()))
	assert.Equal(t, t0.Add(-2*time.Second), src.window.Watermark, "now − settle_delay")
	tt.clock.Advance(time.Hour)
	require.NoError(t, src.poll(t.Context()))
	assert.Equal(t, t0.Add(time.Hour-2*time.Second), src.window.Watermark)
}

func TestMessagesLateEntryWithinTheOverlapIsCaughtAfterADowntime(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{})
	client := &tiedClient{}
	for i := range 10 {
		at := cpi.Time{Time: t0.Add(-time.Minute + time.Duration(i)*time.Second)}
		client.mpls = append(client.mpls, cpi.MessageProcessingLog{MessageGuid: fmt.Sprintf("E%02d", i), Status: "COMPLETED", LogEnd: at})
	}
	sink := &consumertest.LogsSink{}
	src := tt.source(t, testMessagesConfig(), sink, nil)
	src.client = client
	require.NoError(t, src.poll(t.Context()))
	require.Equal(t, 10, sink.LogRecordCount())

	// Written late, within the overlap before the watermark; the receiver is down for a day meanwhile.
	late := cpi.Time{Time: src.window.Watermark.Add(-10 * time.Second)}
	client.mpls = append(client.mpls, cpi.MessageProcessingLog{MessageGuid: "LATE", Status: "COMPLETED", LogEnd: late})
	tt.clock.Advance(24 * time.Hour)
	require.NoError(t, src.poll(t.Context()))
	assert.Equal(t, 11, sink.LogRecordCount(), "the overlap is re-read after any downtime")
}

func TestMessagesBackfillCheckpointHoldsOnlyBoundaryKeys(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{Backlog: 5000, BacklogSpan: time.Hour})
	st := storagetest.NewInMemoryClient(component.KindReceiver, component.MustNewID("file_storage"), "")
	cfg := testMessagesConfig()
	cfg.Overlap = 10 * time.Minute // ~830 backlog entries per overlap window
	cfg.PageSize = 500
	sink := &flakySink{every: 6}
	src := tt.source(t, cfg, sink, st)
	require.ErrorIs(t, src.poll(t.Context()), errRefused, "the backfill stops at the sixth page")
	assert.LessOrEqual(t, src.window.Len(), cfg.PageSize, "far behind, only the last page's keys are kept, not a whole overlap window")

	sink.every = 0
	src = tt.source(t, cfg, sink, st) // a restart in the middle of the backfill
	require.NoError(t, src.poll(t.Context()))
	checkExactlyOnce(t, tt.sim.Truth(), delivered(sink.AllLogs()), t0)
	assert.Equal(t, 5000, sink.LogRecordCount())
}
