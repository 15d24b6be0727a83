package sapcpireceiver

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/mapping"
)

func payloadConfig() MessagesConfig {
	cfg := testMessagesConfig()
	cfg.Payloads.Enabled = true
	cfg.Payloads.IFlows = []string{"*"}
	cfg.Payloads.MaxPerPoll = 10000
	return cfg
}

func (tt *testTenant) payloadSource(t *testing.T, cfg MessagesConfig, logs consumer.Logs, st storage.Client, logger *zap.Logger) *messageSource {
	t.Helper()
	return tt.tracedSource(t, cfg, testTracesConfig(), logs, nil, st, logger)
}

// payloadRecords lists the payload records by message id, with the message record's trace and span ids.
func payloadRecords(all []plog.Logs) (payloads map[string][]plog.LogRecord, messages map[string]plog.LogRecord) {
	payloads, messages = map[string][]plog.LogRecord{}, map[string]plog.LogRecord{}
	for _, ld := range all {
		lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
		for i := 0; i < lrs.Len(); i++ {
			lr := lrs.At(i)
			id, _ := lr.Attributes().Get(mapping.AttrMessageID)
			switch lr.EventName() {
			case mapping.EventMessagePayload:
				payloads[id.Str()] = append(payloads[id.Str()], lr)
			case mapping.EventMessage:
				messages[id.Str()] = lr
			}
		}
	}
	return payloads, messages
}

func TestPayloadsOfAllowListedMessagesArriveOnceNextToTheirMessage(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{Backlog: 600, Seed: 21})
	st := storagetest.NewInMemoryClient(component.KindReceiver, component.MustNewID("file_storage"), "")
	sink := &flakySink{every: 5}
	cfg := payloadConfig()
	cfg.PageSize = 100
	src := tt.payloadSource(t, cfg, sink, st, nil)
	for i := range 12 {
		tt.clock.Advance(time.Second)
		_ = src.poll(t.Context())
		if i == 5 {
			src = tt.payloadSource(t, cfg, sink, st, nil) // a restart
		}
	}
	sink.every = 0
	tt.clock.Advance(time.Second)
	require.NoError(t, src.poll(t.Context()))

	payloads, messages := payloadRecords(sink.AllLogs())
	want := tt.sim.MessagesWithPayloads()
	require.NotEmpty(t, want)
	for _, guid := range want {
		got := payloads[guid]
		require.NotEmpty(t, got, "message %s has its payloads", guid)
		msg := messages[guid]
		kinds := map[string]int{}
		for _, p := range got {
			assert.Equal(t, msg.TraceID(), p.TraceID(), "the payload sits in the message's trace")
			assert.Equal(t, msg.SpanID(), p.SpanID(), "and next to its span")
			kind, _ := p.Attributes().Get(mapping.AttrPayloadKind)
			name, _ := p.Attributes().Get(mapping.AttrPayloadName)
			kinds[kind.Str()+"/"+name.Str()]++
		}
		for k, n := range kinds {
			assert.Equal(t, 1, n, "payload %s of %s delivered once", k, guid)
		}
		assert.Contains(t, kinds, "message_store/Persist_Failed_Request")
	}
	assert.Len(t, payloads, len(want), "payloads only for the messages that have them")
}

func TestPayloadsAreOffUntilAnIFlowIsAllowListed(t *testing.T) {
	def := createDefaultConfig().(*Config)
	assert.False(t, def.Messages.Payloads.Enabled, "off by default")
	def.Messages.Payloads.Enabled = true
	err := confmap.Validate(def)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "payloads.iflows: list the iFlow ids")

	tt := newTestTenant(t, fakecpi.Options{Backlog: 300, Seed: 21})
	sink := &consumertest.LogsSink{}
	cfg := payloadConfig()
	cfg.Payloads.IFlows = []string{"Timer_Sync_CostCenters"}
	src := tt.payloadSource(t, cfg, sink, nil, nil)
	require.NoError(t, src.poll(t.Context()))
	payloads, _ := payloadRecords(sink.AllLogs())
	for guid, ps := range payloads {
		flow, _ := ps[0].Attributes().Get(mapping.AttrIFlowID)
		assert.Equal(t, "Timer_Sync_CostCenters", flow.Str(), "payload of %s from an iFlow not allow-listed", guid)
	}
}

func TestPayloadsAreCappedPerItemAndPerPoll(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{Backlog: 600, Seed: 21})
	core, observed := observer.New(zapcore.InfoLevel)
	sink := &consumertest.LogsSink{}
	cfg := payloadConfig()
	cfg.Payloads.MaxSize = 100
	cfg.Payloads.MaxPerPoll = 5
	src := tt.payloadSource(t, cfg, sink, nil, zap.New(core))
	require.NoError(t, src.poll(t.Context()))
	payloads, _ := payloadRecords(sink.AllLogs())
	n := 0
	for _, ps := range payloads {
		for _, p := range ps {
			n++
			truncated, _ := p.Attributes().Get(mapping.AttrPayloadTruncated)
			assert.True(t, truncated.Bool(), "every simulated payload is longer than 100 bytes")
			assert.LessOrEqual(t, len(p.Body().Str()), 100)
		}
	}
	assert.Equal(t, 5, n, "five payloads in this poll")
	assert.Positive(t, observed.FilterMessageSnippet("payloads.max_per_poll reached").Len())
}

// Payloads can hold personal data: their content reaches the logs pipeline only, never the collector's
// own log, whatever fails on the way.
func TestPayloadsNeverReachTheCollectorsOwnLog(t *testing.T) {
	for name, opts := range map[string]fakecpi.Options{
		"faults":    {Backlog: 400, Seed: 21, FaultRate: 0.3, FaultKinds: []fakecpi.Fault{fakecpi.FaultTruncated, fakecpi.FaultServerError, fakecpi.FaultLoginPage}},
		"forbidden": {Backlog: 400, Seed: 21, ForbiddenPaths: []string{"MessageStoreEntries", "MessageProcessingLogAttachments"}},
	} {
		t.Run(name, func(t *testing.T) {
			tt := newTestTenant(t, opts)
			core, observed := observer.New(zapcore.DebugLevel)
			sink := &consumertest.LogsSink{}
			src := tt.payloadSource(t, payloadConfig(), sink, nil, zap.New(core))
			for range 5 {
				tt.clock.Advance(time.Second)
				_ = src.poll(t.Context())
			}
			var all strings.Builder
			for _, e := range observed.All() {
				fmt.Fprintf(&all, "%s %v\n", e.Message, e.ContextMap())
			}
			for _, marker := range []string{"<ns0:PurchaseOrder", "Error response of message", "%PDF"} {
				assert.NotContains(t, all.String(), marker, "payload content in the collector's log")
			}
			if name == "forbidden" {
				assert.Contains(t, all.String(), "MessagePayloadsRead", "a 403 names the role")
			}
		})
	}
}

// A payload read that fails for a transient reason, past the client's retries, waits for the next read
// of its message (as a span waits for its runs) instead of being left out for good: with half the
// tenant's answers failing, every payload of every delivered message still arrives, once.
func TestPayloadsThatFailedTransientlyAreReadAgainOnce(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{Seed: 27, Rate: 5, LiveFor: 90 * time.Second, TimeScale: 4 * time.Second,
		FaultRate: 0.5, FaultKinds: []fakecpi.Fault{fakecpi.FaultServerError}})
	sink := &consumertest.LogsSink{}
	src := tt.payloadSource(t, payloadConfig(), sink, nil, nil)
	for range 120 {
		tt.clock.Advance(time.Second)
		_ = src.poll(t.Context())
	}
	tt.sim.SetFaultRate(0)
	for range 5 {
		tt.clock.Advance(time.Second)
		require.NoError(t, src.poll(t.Context()))
	}
	payloads, messages := payloadRecords(sink.AllLogs())
	checked := 0
	for _, guid := range tt.sim.MessagesWithPayloads() {
		if _, delivered := messages[guid]; !delivered {
			continue
		}
		checked++
		kinds := map[string]int{}
		for _, p := range payloads[guid] {
			kind, _ := p.Attributes().Get(mapping.AttrPayloadKind)
			name, _ := p.Attributes().Get(mapping.AttrPayloadName)
			kinds[kind.Str()+"/"+name.Str()]++
		}
		assert.Contains(t, kinds, "message_store/Persist_Failed_Request", "message %s has its payloads", guid)
		for k, n := range kinds {
			assert.Equal(t, 1, n, "payload %s of %s delivered once", k, guid)
		}
	}
	assert.Greater(t, checked, 10, "the stream had failed messages with payloads")
	t.Logf("%d messages with payloads checked", checked)
}
