package sapcpireceiver

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/fakepush"
	"github.com/sapcpi-otel/sapcpireceiver/internal/mapping"
)

// pushTest is a message source with its push endpoint on loopback, the simulated tenant behind both.
type pushTest struct {
	tt   *testTenant
	src  *messageSource
	srv  *pushServer
	base string
}

func (tt *testTenant) pushed(t testing.TB, cfg *Config, logs consumer.Logs, st storage.Client) *pushTest {
	t.Helper()
	cfg.Push.Enabled = true
	cfg.Push.NetAddr.Endpoint = "127.0.0.1:0"
	e := testEnv(t, envOptions{cfg: cfg, client: tt.client, logs: logs, storage: st, tel: tt.tel, now: tt.clock.Now})
	srcs, err := messageSources(e)
	require.NoError(t, err)
	require.Len(t, e.servers, 1)
	ps := e.servers[0].(*pushServer)
	require.NoError(t, ps.start(t.Context(), componenttest.NewNopHost()))
	t.Cleanup(func() { _ = ps.shutdown(t.Context()) })
	pt := &pushTest{tt: tt, srv: ps, base: "http://" + ps.addr}
	if len(srcs) > 0 {
		pt.src = srcs[0].(*messageSource)
		require.NoError(t, pt.src.load(t.Context()))
	} else {
		pt.src = ps.src
	}
	return pt
}

func pushConfig() *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Messages.SettleDelay, cfg.Messages.Overlap, cfg.Messages.InitialLookback = 2*time.Second, 20*time.Second, 2*time.Hour
	cfg.Traces.ChangeableStatusDelay = 5 * time.Second
	return cfg
}

func (p *pushTest) pusher(t *testing.T, target fakepush.Target, mutate func(*fakepush.Options)) *fakepush.Pusher {
	t.Helper()
	url := p.base + "/v1/logs"
	switch target {
	case fakepush.TargetJSON:
		url = p.base + "/sapcpi/v1/mpl"
	case fakepush.TargetSplunk:
		url = p.base
	}
	opts := fakepush.Defaults(target, url)
	opts.TenantURL = p.tt.srv.URL
	opts.Backoff = time.Millisecond
	if mutate != nil {
		mutate(&opts)
	}
	pu, err := fakepush.New(p.tt.sim, opts)
	require.NoError(t, err)
	require.NoError(t, pu.Activate(t.Context()))
	return pu
}

// recordAttrs lists each sap.cpi.message record's attributes by state key.
func recordAttrs(all []plog.Logs) map[stateKey]map[string]any {
	out := map[stateKey]map[string]any{}
	for _, ld := range all {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			lrs := ld.ResourceLogs().At(i).ScopeLogs().At(0).LogRecords()
			for j := 0; j < lrs.Len(); j++ {
				lr := lrs.At(j)
				if lr.EventName() != mapping.EventMessage {
					continue
				}
				a := lr.Attributes().AsRaw()
				out[stateKey{a[mapping.AttrMessageID].(string), a[mapping.AttrMessageStatus].(string), lr.Timestamp().AsTime()}] = a
			}
		}
	}
	return out
}

// Each target's push becomes records with exactly the attributes a pulled state has, plus the push
// format (and, for sub-values, the adapter attributes).
func TestPushEachTargetIsStructuredLikeThePullPath(t *testing.T) {
	for _, target := range []fakepush.Target{fakepush.TargetOTEL, fakepush.TargetJSON, fakepush.TargetSplunk} {
		t.Run(string(target), func(t *testing.T) {
			tt := newTestTenant(t, fakecpi.Options{Backlog: 200, Seed: 41})
			pulled := &consumertest.LogsSink{}
			src := tt.source(t, pushConfig().Messages, pulled, nil) // its own window: it reads what push sends too
			require.NoError(t, src.poll(t.Context()))

			cfg := pushConfig()
			cfg.Messages.Enabled = false // push only
			sink := &consumertest.LogsSink{}
			pt := tt.pushed(t, cfg, sink, nil)
			require.NoError(t, pt.pusher(t, target, nil).PushOnce(t.Context()))

			want, got := recordAttrs(pulled.AllLogs()), recordAttrs(sink.AllLogs())
			states := 0
			for _, m := range tt.sim.Truth() {
				states += len(m.States)
			}
			require.Len(t, got, states, "every state arrives, the intermediate ones too")
			for k, w := range want {
				g, ok := got[k]
				require.True(t, ok, "state %v", k)
				assert.Equal(t, map[string]any{"otel": "otlp", "json": "json", "splunk": "splunk_hec"}[strings.ToLower(string(target))], g[mapping.AttrPushFormat])
				delete(g, mapping.AttrPushFormat)
				delete(g, mapping.AttrMessageAdapterAttributes)
				assert.Equal(t, w, g, "the pushed state %v has the pulled state's attributes", k)
			}
		})
	}
}

// Push and pull share one key store, persisted with the checkpoint: with 80 % pushed and the rest only
// readable by pull, with restarts, every state is one record.
func TestPushAndPullDeliverEveryStateOnceAcrossARestart(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{Seed: 43, Rate: 8, LiveFor: 2 * time.Minute, TimeScale: 4 * time.Second, Backlog: 300, BacklogSpan: 10 * time.Minute})
	st := storagetest.NewInMemoryClient(component.KindReceiver, component.MustNewID("file_storage"), "")
	sink := &flakySink{every: 11}
	cfg := pushConfig()
	pt := tt.pushed(t, cfg, sink, st)
	pu := pt.pusher(t, fakepush.TargetOTEL, func(o *fakepush.Options) { o.DropShare = 0.2; o.Seed = 7 })
	for i := range 180 {
		tt.clock.Advance(1013 * time.Millisecond)
		_ = pu.PushOnce(t.Context())
		if i%3 == 0 {
			_ = pt.src.poll(t.Context())
		}
		if i == 90 {
			// A restart: a new source and endpoint on the same storage.
			require.NoError(t, pt.srv.shutdown(t.Context()))
			pt = tt.pushed(t, pushConfig(), sink, st)
			pu = pt.pusher(t, fakepush.TargetOTEL, func(o *fakepush.Options) { o.DropShare = 0.2; o.Seed = 8; o.Since = tt.clock.Now() })
		}
	}
	sink.every = 0
	for range 5 {
		tt.clock.Advance(time.Second)
		require.NoError(t, pt.src.poll(t.Context()))
	}
	got := delivered(sink.AllLogs())
	checkExactlyOnce(t, tt.sim.Truth(), got, tt.clock.Now().Add(-cfg.Messages.SettleDelay))
	stats := pu.Stats()
	assert.Positive(t, stats.ForgottenWindows, "some windows were never pushed: pull repaired them")
	pushedRecords := 0
	for _, ld := range sink.AllLogs() {
		lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
		for i := 0; i < lrs.Len(); i++ {
			if _, ok := lrs.At(i).Attributes().Get(mapping.AttrPushFormat); ok {
				pushedRecords++
			}
		}
	}
	t.Logf("%d records, %d of them pushed; pusher %+v", len(got), pushedRecords, stats)
	assert.Greater(t, pushedRecords, len(got)/2, "most states came by push")
	assert.Less(t, pushedRecords, len(got), "and the rest by pull")
}

func post(t *testing.T, url, ctype, body string, gz bool) (int, string) {
	t.Helper()
	var r io.Reader = strings.NewReader(body)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, r)
	require.NoError(t, err)
	if gz {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write([]byte(body))
		_ = zw.Close()
		req, _ = http.NewRequestWithContext(t.Context(), http.MethodPost, url, &b)
		req.Header.Set("Content-Encoding", "gzip")
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

const pushedMPL = `{"MessageGuid":"AGpushed","Status":"FAILED","LogStart":"2026-06-01 07:59:00.000","LogEnd":"2026-06-01 07:59:01.500",` +
	`"IntegrationArtifact":{"Id":"Send_Invoice_to_Ariba","Name":"Send Invoice to Ariba"},"NewField2027":"x","CustomHeaderProperties":[{"Name":"po_number","Value":"45"}]}`

func TestPushAnswersAsEachTargetExpects(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{})
	sink := &consumertest.LogsSink{}
	cfg := pushConfig()
	cfg.Messages.Enabled = false
	pt := tt.pushed(t, cfg, sink, nil)

	status, body := post(t, pt.base+"/v1/logs", "application/json", `{}`, false)
	assert.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `{"partialSuccess":{}}`, body, "SAP's connection test looks for partialSuccess")

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodOptions, pt.base+"/services/collector/event", nil)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the Splunk activation's OPTIONS probe")
	status, body = post(t, pt.base+"/services/collector/event", "application/json", `{"event":"Connection test from SAP Cloud Integration"}`, false)
	assert.Equal(t, http.StatusOK, status, "the activation's test event is no MPL but must succeed")
	assert.JSONEq(t, `{"text":"Success","code":0}`, body)

	status, body = post(t, pt.base+"/sapcpi/v1/mpl", "application/json", pushedMPL, true)
	assert.Equal(t, http.StatusNoContent, status, body)
	require.Equal(t, 1, sink.LogRecordCount())
	a := sink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().AsRaw()
	assert.Equal(t, "json", a[mapping.AttrPushFormat])
	assert.Equal(t, map[string]any{"NewField2027": "x"}, a[mapping.AttrPushUnknownFields], "unknown keys are kept, namespaced")

	status, _ = post(t, pt.base+"/sapcpi/v1/mpl", "application/json", pushedMPL, false)
	assert.Equal(t, http.StatusNoContent, status)
	assert.Equal(t, 1, sink.LogRecordCount(), "the same state again is a duplicate")

	status, body = post(t, pt.base+"/sapcpi/v1/mpl", "application/json", `{"MessageGuid":`, false)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.NotContains(t, body, "MessageGuid\":", "the error does not echo the body")

	tt.tel.mu.Lock()
	unknown, accepted, duplicates := tt.tel.unknown["NewField2027"], tt.tel.pushed[[2]string{"json", "accepted"}], tt.tel.pushed[[2]string{"json", "duplicate"}]
	tt.tel.mu.Unlock()
	assert.EqualValues(t, 2, unknown, "every unrecognised key is counted: a wrong guess shows")
	assert.EqualValues(t, 1, accepted)
	assert.EqualValues(t, 1, duplicates)
}

// A body over max_request_body_size is a 413, plain or gzipped, which SAP does not retry: a 503 would
// make it send the same body again and again.
func TestPushBodyOverTheLimitIsA413(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{})
	sink := &consumertest.LogsSink{}
	cfg := pushConfig()
	cfg.Messages.Enabled = false
	cfg.Push.MaxRequestBodySize = 1024
	pt := tt.pushed(t, cfg, sink, nil)
	big := "[" + strings.Repeat(pushedMPL+",", 10) + pushedMPL + "]"
	for _, gz := range []bool{false, true} {
		status, body := post(t, pt.base+"/sapcpi/v1/mpl", "application/json", big, gz)
		assert.Equal(t, http.StatusRequestEntityTooLarge, status, "gzip %v: %s", gz, body)
	}
	assert.Zero(t, sink.LogRecordCount())
	status, _ := post(t, pt.base+"/sapcpi/v1/mpl", "application/json", pushedMPL, true)
	assert.Equal(t, http.StatusNoContent, status, "a body within the limit is taken")
}

// While a page of the pull holds the window (error texts, runs and payloads of many failed messages can
// take long under the rate limit), a push waits a bounded time and is then answered 503, which SAP
// retries, instead of hanging until SAP's request times out.
func TestPushWaitsForABusyWindowABoundedTimeThenAnswers503(t *testing.T) {
	defer func(d time.Duration) { pushLockWait = d }(pushLockWait)
	pushLockWait = 50 * time.Millisecond
	tt := newTestTenant(t, fakecpi.Options{})
	sink := &consumertest.LogsSink{}
	cfg := pushConfig()
	cfg.Messages.Enabled = false
	pt := tt.pushed(t, cfg, sink, nil)
	status, _ := post(t, pt.base+"/sapcpi/v1/mpl", "application/json", strings.Replace(pushedMPL, "AGpushed", "AGfirst", 1), false)
	require.Equal(t, http.StatusNoContent, status)

	pt.src.mu.Lock() // a page of the pull being delivered
	start := time.Now()
	status, body := post(t, pt.base+"/sapcpi/v1/mpl", "application/json", pushedMPL, false)
	waited := time.Since(start)
	pt.src.mu.Unlock()
	assert.Equal(t, http.StatusServiceUnavailable, status, body)
	assert.Less(t, waited, 5*time.Second, "answered after the bounded wait, not when the page is done")
	assert.Equal(t, 1, sink.LogRecordCount())

	status, _ = post(t, pt.base+"/sapcpi/v1/mpl", "application/json", pushedMPL, false)
	assert.Equal(t, http.StatusNoContent, status, "SAP's retry once the page is delivered")
	assert.Equal(t, 2, sink.LogRecordCount())
}

// A pushed state without LogEnd (and without a transport time to stand in) is still de-duplicated: its
// key is kept as long as any pushed key, not pruned at once for a timestamp in year 1.
func TestPushStateWithoutLogEndIsDeliveredOnce(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{})
	sink := &consumertest.LogsSink{}
	cfg := pushConfig()
	cfg.Messages.Enabled = false
	pt := tt.pushed(t, cfg, sink, nil)
	const noEnd = `{"MessageGuid":"AGnoend","Status":"PROCESSING","IntegrationArtifact":{"Id":"Send_Invoice_to_Ariba"}}`
	for range 3 {
		status, body := post(t, pt.base+"/sapcpi/v1/mpl", "application/json", noEnd, false)
		require.Equal(t, http.StatusNoContent, status, body)
	}
	assert.Equal(t, 1, sink.LogRecordCount(), "SAP's redeliveries of one state are one record")
}

// Under back-pressure the endpoint answers 503, which SAP retries, and commits nothing: the state
// arrives once when the pipeline takes it again.
func TestPushBackPressureIsA503AndTheRetryDeliversOnce(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{})
	sink := &flakySink{every: 1}
	cfg := pushConfig()
	cfg.Messages.Enabled = false
	pt := tt.pushed(t, cfg, sink, nil)
	status, _ := post(t, pt.base+"/sapcpi/v1/mpl", "application/json", pushedMPL, false)
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Zero(t, sink.LogRecordCount())
	sink.every = 0
	status, _ = post(t, pt.base+"/sapcpi/v1/mpl", "application/json", pushedMPL, false)
	assert.Equal(t, http.StatusNoContent, status)
	status, _ = post(t, pt.base+"/sapcpi/v1/mpl", "application/json", pushedMPL, false)
	assert.Equal(t, http.StatusNoContent, status)
	assert.Equal(t, 1, sink.LogRecordCount())
	tt.tel.mu.Lock()
	defer tt.tel.mu.Unlock()
	var counted int64
	for _, agg := range tt.tel.messages {
		counted += agg.count
	}
	assert.EqualValues(t, 1, counted, "pushed states count in sapcpi.messages once, as pulled ones")
}

func TestPushUnknownFieldsAllowListAndRawBody(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{})
	sink := &consumertest.LogsSink{}
	cfg := pushConfig()
	cfg.Messages.Enabled = false
	cfg.Push.UnknownFields = UnknownFieldsConfig{Mode: "allow", Allow: []string{"Other"}}
	cfg.Push.KeepRaw = true
	pt := tt.pushed(t, cfg, sink, nil)
	status, _ := post(t, pt.base+"/sapcpi/v1/mpl", "application/json", strings.Replace(pushedMPL, `"NewField2027":"x"`, `"NewField2027":"x","Other":7`, 1), false)
	require.Equal(t, http.StatusNoContent, status)
	a := sink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().AsRaw()
	assert.Equal(t, map[string]any{"Other": int64(7)}, a[mapping.AttrPushUnknownFields])
	assert.Contains(t, a[mapping.AttrPushRaw], `"NewField2027":"x"`)
}

func TestConfigPush(t *testing.T) {
	def := loadConfig(t, "defaults")
	assert.False(t, def.Push.Enabled, "off by default")
	assert.Equal(t, "localhost:8088", def.Push.NetAddr.Endpoint)
	cfg := loadConfig(t, "push")
	require.NoError(t, confmap.Validate(cfg))
	assert.True(t, cfg.Push.Enabled)
	assert.Equal(t, "0.0.0.0:8443", cfg.Push.NetAddr.Endpoint)
	assert.Equal(t, "dd.MM.yyyy HH:mm:ss", cfg.Push.DateFormat)
	assert.Equal(t, "drop", cfg.Push.UnknownFields.Mode)
	assert.Equal(t, 2*time.Hour, cfg.Push.DedupWindow)
	assert.Equal(t, "/v1/logs", cfg.Push.OTLPPath, "defaults kept")

	err := confmap.Validate(loadConfig(t, "push_bad"))
	require.Error(t, err)
	for _, want := range []string{
		"push: cannot run with leader_election",
		"date_format: ",
		"unknown_fields.mode: must be namespace, allow or drop",
		"otlp_path and json_path: must differ",
		"dedup_window: must be at least 1m",
	} {
		if !strings.Contains(err.Error(), want) {
			parts := strings.Split(err.Error(), "; ")
			sort.Strings(parts)
			t.Errorf("%q not in %s", want, strings.Join(parts, "\n"))
		}
	}
}

// subValuesOf collects, per message, the custom headers and adapter attributes of its
// sap.cpi.message.sub_values records, and counts the records.
func subValuesOf(all []plog.Logs) (map[string]map[string]any, int) {
	out := map[string]map[string]any{}
	n := 0
	for _, ld := range all {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			lrs := ld.ResourceLogs().At(i).ScopeLogs().At(0).LogRecords()
			for j := 0; j < lrs.Len(); j++ {
				lr := lrs.At(j)
				if lr.EventName() != mapping.EventMessageSubValues {
					continue
				}
				n++
				a := lr.Attributes().AsRaw()
				id := a[mapping.AttrMessageID].(string)
				if out[id] == nil {
					out[id] = map[string]any{}
				}
				for _, attr := range []string{mapping.AttrMessageCustomHeaders, mapping.AttrMessageAdapterAttributes} {
					if m, ok := a[attr].(map[string]any); ok {
						for k, v := range m {
							out[id][attr+"/"+k] = v
						}
					}
				}
			}
		}
	}
	return out, n
}

// With SAP's defaults for the JSON target (one event per request, sub-values as extra events after the
// Run) no custom header or adapter attribute can join its message's record: each comes out as a
// sap.cpi.message.sub_values record of that message, once, also when SAP sends the window again.
func TestPushSubValuesApartFromTheirRunAreRecordsOfTheirOwnOnce(t *testing.T) {
	tt := newTestTenant(t, fakecpi.Options{Backlog: 150, Seed: 44})
	cfg := pushConfig()
	cfg.Messages.Enabled = false
	cfg.Messages.CustomHeaderProperties.Enabled, cfg.Messages.CustomHeaderProperties.Include = true, []string{"*"}
	sink := &consumertest.LogsSink{}
	pt := tt.pushed(t, cfg, sink, nil)
	single := func(o *fakepush.Options) {
		o.JSONBatchType, o.SubValuesExtra, o.SubValuesInline = "single", true, false
	}
	require.NoError(t, pt.pusher(t, fakepush.TargetJSON, single).PushOnce(t.Context()))

	// What each message carries, from the simulator's own states.
	want := map[string]map[string]any{}
	states, _ := tt.sim.StatesSince(time.Time{}, tt.srv.URL)
	for _, st := range states {
		var m cpi.MessageProcessingLog
		require.NoError(t, json.Unmarshal(st.Entity, &m))
		for _, h := range m.CustomHeaderProperties {
			if want[st.MessageGuid] == nil {
				want[st.MessageGuid] = map[string]any{}
			}
			want[st.MessageGuid][mapping.AttrMessageCustomHeaders+"/"+h.Name] = h.Value
		}
		for _, a := range st.AdapterAttributes {
			if want[st.MessageGuid] == nil {
				want[st.MessageGuid] = map[string]any{}
			}
			want[st.MessageGuid][mapping.AttrMessageAdapterAttributes+"/"+a.AdapterId+"."+a.Name] = a.Value
		}
	}
	require.NotEmpty(t, want, "the simulated tenant sends sub-values")
	got, records := subValuesOf(sink.AllLogs())
	assert.Equal(t, want, got, "every custom header and adapter attribute reaches its message's sub-values")
	for id, attrs := range recordAttrs(sink.AllLogs()) {
		assert.NotContains(t, attrs, mapping.AttrMessageCustomHeaders, "%v: single batches carry no sub-value beside the Run", id)
	}

	require.NoError(t, pt.pusher(t, fakepush.TargetJSON, single).PushOnce(t.Context()))
	_, again := subValuesOf(sink.AllLogs())
	assert.Equal(t, records, again, "a window sent again gives no second sub-values record")
}

// messageRecordCount counts the sap.cpi.message records, repeats included.
func messageRecordCount(all []plog.Logs) int {
	n := 0
	for _, ld := range all {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			lrs := ld.ResourceLogs().At(i).ScopeLogs().At(0).LogRecords()
			for j := 0; j < lrs.Len(); j++ {
				if lrs.At(j).EventName() == mapping.EventMessage {
					n++
				}
			}
		}
	}
	return n
}
