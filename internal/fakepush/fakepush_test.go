package fakepush

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/push"
)

const tenantURL = "https://acme.it-cpi018.cfapps.eu10-003.hana.ondemand.com"

var simStart = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

// request is what the target received.
type request struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

// target is an httptest server that records every request and answers with status(n) for the n-th
// POST (from 0), 200 by default.
type target struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []request
	posts  int
	status func(n int) int
}

func newTarget(t *testing.T) *target {
	tg := newUnstartedTarget(t)
	tg.Start()
	return tg
}

func newUnstartedTarget(t *testing.T) *target {
	tg := &target{status: func(int) int { return http.StatusOK }}
	tg.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		tg.mu.Lock()
		tg.reqs = append(tg.reqs, request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
		status := http.StatusOK
		if r.Method == http.MethodPost {
			status = tg.status(tg.posts)
			tg.posts++
		}
		tg.mu.Unlock()
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"partialSuccess":{}}`))
	}))
	t.Cleanup(tg.Close)
	return tg
}

func (tg *target) posted() []request {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	var out []request
	for _, r := range tg.reqs {
		if r.Method == http.MethodPost {
			out = append(out, r)
		}
	}
	return out
}

// backlogSim is a tenant whose states (backlog only, some with several states) are all visible at once.
func backlogSim(n int) *fakecpi.Server {
	return fakecpi.New(fakecpi.Options{Seed: 11, Backlog: n, Start: simStart, TimeScale: time.Second, Now: func() time.Time { return simStart }})
}

// flat is an event reduced to what the two packages must agree on.
type flat struct {
	Kind     push.Kind
	Guid     string
	MPL      *cpi.MessageProcessingLog
	Headers  []cpi.CustomHeaderProperty
	Adapters []push.AdapterAttribute
}

// expected is what the tenant's states should decode to under opts.
func expected(t *testing.T, states []fakecpi.PushState, opts Options) []flat {
	var out []flat
	for _, st := range states {
		var m cpi.MessageProcessingLog
		require.NoError(t, json.Unmarshal(st.Entity, &m))
		adapters := make([]push.AdapterAttribute, len(st.AdapterAttributes))
		for i, a := range st.AdapterAttributes {
			adapters[i] = push.AdapterAttribute(a)
		}
		headers := []cpi.CustomHeaderProperty(m.CustomHeaderProperties)
		run := flat{Kind: push.KindRun, Guid: m.MessageGuid, MPL: &m}
		if opts.SubValuesInline {
			run.Headers, run.Adapters = headers, adapters
		} else {
			m.CustomHeaderProperties = nil
		}
		out = append(out, run)
		if opts.SubValuesExtra {
			for _, h := range headers {
				out = append(out, flat{Kind: push.KindCustomHeader, Guid: m.MessageGuid, Headers: []cpi.CustomHeaderProperty{h}})
			}
			for _, a := range adapters {
				out = append(out, flat{Kind: push.KindAdapterAttribute, Guid: m.MessageGuid, Adapters: []push.AdapterAttribute{a}})
			}
		}
	}
	return out
}

// decoded reads every POST the target got with internal/push, as the receiver will.
func decoded(t *testing.T, reqs []request, opts Options) []flat {
	d, err := push.NewDecoder(push.Options{DateFormat: opts.DateFormat})
	require.NoError(t, err)
	var out []flat
	for _, r := range reqs {
		body, err := push.Decompress(bytes.NewReader(r.Body), r.Header.Get("Content-Encoding"), 64<<20)
		require.NoError(t, err)
		var events []push.Event
		switch opts.Target {
		case TargetOTEL:
			events, err = d.DecodeOTLP(body, r.Header.Get("Content-Type"))
		case TargetJSON:
			events, err = d.DecodeJSON(body)
		case TargetSplunk:
			events, err = d.DecodeHEC(body)
		}
		require.NoError(t, err)
		for _, ev := range events {
			f := flat{Kind: ev.Kind, Guid: ev.MessageGuid, Headers: ev.CustomHeaders, Adapters: ev.AdapterAttributes}
			if ev.Kind == push.KindRun {
				assert.Empty(t, ev.Unknown, "every field the simulator pushes is known")
				m := ev.MPL
				f.MPL = &m
			}
			out = append(out, f)
		}
	}
	return out
}

var sameTime = cmp.Comparer(func(a, b cpi.Time) bool { return a.Equal(b.Time) })

func TestEveryTargetBatchAndFormatDeliversTheSimulatorsStates(t *testing.T) {
	type variant struct {
		name string
		opts func(*Options)
	}
	var cases []variant
	for i, f := range []func(*Options){
		func(o *Options) {},
		func(o *Options) { o.CompressData = false },
		func(o *Options) { o.SubValuesInline, o.SubValuesExtra = true, false },
		func(o *Options) { o.SubValuesInline, o.SubValuesExtra, o.MaxBatchCount = true, true, 1 },
		func(o *Options) { o.MaxBatchCount, o.DateFormat = 7, "yyyy-MM-dd'T'HH:mm:ss.SSSXXX" },
	} {
		cases = append(cases, variant{fmt.Sprintf("OTEL/%d", i), func(o *Options) { o.Target = TargetOTEL; f(o) }})
	}
	n := 0
	for _, batch := range []string{"single", "array", "sequence"} {
		for _, format := range []string{"standard", "pretty", "compact"} {
			delims := []string{""}
			if batch == "sequence" {
				delims = []string{"\n", "\r", "\r\n"}
			}
			for _, delim := range delims {
				gz := n%2 == 0
				inline := n%3 == 0
				n++
				cases = append(cases, variant{fmt.Sprintf("JSON/%s/%s/%q/gzip=%v", batch, format, delim, gz), func(o *Options) {
					o.Target, o.JSONBatchType, o.JSONFormatting, o.JSONSequenceDelimiter = TargetJSON, batch, format, delim
					o.CompressData, o.SubValuesInline, o.MaxBatchCount = gz, inline, 6
				}})
			}
		}
	}
	for i, f := range []func(*Options){
		func(o *Options) { o.AuthHeader = "Splunk 0f3c-token" },
		func(o *Options) { o.User, o.Password, o.DynamicSourceType = "Splunk", "0f3c-token", true },
		func(o *Options) { o.DynamicSourceType, o.SourceTypePrefix, o.CompressData = true, "Custom", false },
		func(o *Options) { o.SubValuesInline, o.SubValuesExtra, o.SourceType = true, false, "sap:cpi:mpl" },
	} {
		cases = append(cases, variant{fmt.Sprintf("Splunk/%d", i), func(o *Options) { o.Target = TargetSplunk; f(o) }})
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tg := newTarget(t)
			sim := backlogSim(25)
			opts := Defaults("", tg.URL+"/v1/logs")
			c.opts(&opts)
			opts.TenantURL = tenantURL
			if opts.Target == TargetSplunk {
				opts.URL = tg.URL
			}
			p, err := New(sim, opts)
			require.NoError(t, err)
			require.NoError(t, p.PushOnce(context.Background()))

			states, _ := sim.StatesSince(time.Time{}, tenantURL)
			want := expected(t, states, opts)
			require.Greater(t, len(states), 25, "some messages have several states")
			reqs := tg.posted()
			assert.Empty(t, cmp.Diff(want, decoded(t, reqs, opts), cmpopts.EquateEmpty(), sameTime))

			per := opts.MaxBatchCount
			if opts.Target == TargetJSON && opts.JSONBatchType == "single" {
				per = 1
			}
			assert.Len(t, reqs, (len(want)+per-1)/per, "batches of MaxBatchCount")
			for _, r := range reqs {
				assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
				if opts.CompressData {
					assert.Equal(t, "gzip", r.Header.Get("Content-Encoding"))
					assert.Equal(t, []byte{0x1f, 0x8b}, r.Body[:2])
				} else {
					assert.Empty(t, r.Header.Get("Content-Encoding"))
				}
			}
			assert.Equal(t, Stats{Windows: 1, Requests: len(reqs), Batches: len(reqs), SentEvents: len(want)}, p.Stats())
			assert.Len(t, p.Pushed(), len(states))
			assert.Empty(t, p.NotPushed())
		})
	}
}

func TestJSONFormattingShapesTheBody(t *testing.T) {
	for _, c := range []struct {
		batch, format, delim string
		check                func(t *testing.T, body string)
	}{
		{"array", "standard", "", func(t *testing.T, b string) {
			assert.True(t, strings.HasPrefix(b, `[{"MessageGuid":`))
			assert.NotContains(t, b, "\n")
		}},
		{"array", "pretty", "", func(t *testing.T, b string) {
			assert.True(t, strings.HasPrefix(b, "[\n  {\n    \"MessageGuid\": "), "two-space indent")
		}},
		{"sequence", "compact", "\r\n", func(t *testing.T, b string) {
			lines := strings.Split(b, "\r\n")
			assert.Len(t, lines, 3)
			for _, l := range lines {
				assert.True(t, json.Valid([]byte(l)))
			}
		}},
		{"sequence", "pretty", "\r", func(t *testing.T, b string) {
			assert.Contains(t, b, "}\r{")
		}},
		{"single", "standard", "", func(t *testing.T, b string) {
			assert.True(t, strings.HasPrefix(b, `{"MessageGuid":`))
		}},
	} {
		tg := newTarget(t)
		opts := Defaults(TargetJSON, tg.URL)
		opts.JSONBatchType, opts.JSONFormatting, opts.JSONSequenceDelimiter = c.batch, c.format, c.delim
		opts.CompressData, opts.SubValuesExtra, opts.MaxBatchCount = false, false, 3
		p, err := New(backlogSim(3), opts)
		require.NoError(t, err)
		require.NoError(t, p.PushOnce(context.Background()))
		reqs := tg.posted()
		require.NotEmpty(t, reqs)
		c.check(t, string(reqs[0].Body))
	}
}

func TestOTELRecordsCarrySAPsEnvelope(t *testing.T) {
	tg := newTarget(t)
	opts := Defaults(TargetOTEL, tg.URL+"/v1/logs")
	opts.CompressData, opts.SubValuesExtra = false, false
	sim := backlogSim(60)
	p, err := New(sim, opts)
	require.NoError(t, err)
	require.NoError(t, p.Activate(context.Background()), "the connection test is answered with partialSuccess")
	require.NoError(t, p.PushOnce(context.Background()))

	reqs := tg.posted()
	assert.Equal(t, []byte("{}"), reqs[0].Body, "the connection test posts {}")
	assert.Equal(t, "/v1/logs", reqs[0].Path)
	req := plogotlp.NewExportRequest()
	require.NoError(t, req.UnmarshalJSON(reqs[1].Body))
	rl := req.Logs().ResourceLogs().At(0)
	name, _ := rl.Resource().Attributes().Get("service.name")
	assert.Equal(t, "MessageProcessingLogs", name.Str())
	sl := rl.ScopeLogs().At(0)
	assert.Equal(t, "MPL", sl.Scope().Name())
	assert.Equal(t, "1.0.0", sl.Scope().Version())
	severities := map[plog.SeverityNumber]int{}
	for i := range sl.LogRecords().Len() {
		lr := sl.LogRecords().At(i)
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(lr.Body().Str()), &m), "the body is the MPL as a JSON string")
		want := plog.SeverityNumberInfo
		switch m["Status"] {
		case "FAILED", "ESCALATED", "CANCELLED", "ABANDONED":
			want = plog.SeverityNumberError
		}
		assert.Equal(t, want, lr.SeverityNumber())
		severities[lr.SeverityNumber()]++
		end, err := time.Parse("2006-01-02 15:04:05.000", m["LogEnd"].(string))
		require.NoError(t, err)
		assert.Equal(t, end, lr.Timestamp().AsTime(), "timeUnixNano is the processing stop")
	}
	assert.NotZero(t, severities[plog.SeverityNumberError], "the backlog has failures")
	assert.NotZero(t, severities[plog.SeverityNumberInfo])
}

func TestSplunkActivationProbesTheHECEndpointWithOPTIONS(t *testing.T) {
	tg := newTarget(t)
	opts := Defaults(TargetSplunk, tg.URL+"/")
	opts.AuthHeader = "Splunk 0f3c-token"
	p, err := New(backlogSim(2), opts)
	require.NoError(t, err)
	require.NoError(t, p.Activate(context.Background()))
	require.NoError(t, p.PushOnce(context.Background()))
	tg.mu.Lock()
	reqs := append([]request(nil), tg.reqs...)
	tg.mu.Unlock()
	require.GreaterOrEqual(t, len(reqs), 2)
	assert.Equal(t, http.MethodOptions, reqs[0].Method)
	for _, r := range reqs {
		assert.Equal(t, "/services/collector/event", r.Path)
		assert.Equal(t, "Splunk 0f3c-token", r.Header.Get("Authorization"))
	}

	notHEC := httptest.NewServer(http.NotFoundHandler())
	defer notHEC.Close()
	p, err = New(backlogSim(2), Defaults(TargetSplunk, notHEC.URL))
	require.NoError(t, err)
	err = p.Activate(context.Background())
	assert.ErrorContains(t, err, "answered 404, want 200")
}

func TestTransientFailuresAreRetriedWithBackoff(t *testing.T) {
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusInternalServerError} {
		tg := newTarget(t)
		tg.status = func(n int) int {
			if n < 2 {
				return status
			}
			return http.StatusOK
		}
		opts := Defaults(TargetJSON, tg.URL)
		opts.Backoff, opts.MaxBatchCount, opts.JSONBatchType = 5*time.Millisecond, 1000, "array"
		p, err := New(backlogSim(10), opts)
		require.NoError(t, err)
		start := time.Now()
		require.NoError(t, p.PushOnce(context.Background()))
		assert.GreaterOrEqual(t, time.Since(start), 15*time.Millisecond, "waits 5 ms, then 10 ms")
		st := p.Stats()
		assert.Equal(t, 3, st.Requests, status)
		assert.Equal(t, 2, st.Retries, status)
		assert.Equal(t, 1, st.Batches, status)
		assert.Zero(t, st.DroppedBatches, status)
		assert.NotEmpty(t, p.Pushed())
		reqs := tg.posted()
		assert.Equal(t, reqs[0].Body, reqs[2].Body, "the same batch is repeated")
	}
}

func TestRetriesAreBounded(t *testing.T) {
	tg := newTarget(t)
	tg.status = func(int) int { return http.StatusServiceUnavailable }
	opts := Defaults(TargetSplunk, tg.URL)
	opts.Backoff, opts.MaxRetries, opts.MaxBatchCount = time.Millisecond, 2, 1000
	p, err := New(backlogSim(5), opts)
	require.NoError(t, err)
	require.NoError(t, p.PushOnce(context.Background()))
	st := p.Stats()
	assert.Equal(t, 3, st.Requests, "one try and MaxRetries repeats")
	assert.Equal(t, 1, st.DroppedBatches)
	assert.Empty(t, p.Pushed())
	assert.NotEmpty(t, p.NotPushed())
}

func TestClientErrorsDropTheBatchWithoutRetry(t *testing.T) {
	tg := newTarget(t)
	tg.status = func(n int) int {
		if n == 1 {
			return http.StatusBadRequest
		}
		return http.StatusOK
	}
	opts := Defaults(TargetOTEL, tg.URL+"/v1/logs")
	opts.MaxBatchCount, opts.SubValuesExtra = 4, false
	sim := backlogSim(10)
	p, err := New(sim, opts)
	require.NoError(t, err)
	require.NoError(t, p.PushOnce(context.Background()))

	st := p.Stats()
	assert.Zero(t, st.Retries)
	assert.Equal(t, 1, st.DroppedBatches)
	assert.Equal(t, 4, st.DroppedEvents)
	assert.Equal(t, st.Batches+1, st.Requests)
	states, _ := sim.StatesSince(time.Time{}, "")
	var all []StateKey
	for _, s := range states {
		all = append(all, StateKey{s.MessageGuid, s.Status, s.LogEnd})
	}
	assert.Equal(t, all[4:8], p.NotPushed(), "the second batch is lost")
	assert.Equal(t, append(append([]StateKey(nil), all[:4]...), all[8:]...), p.Pushed())
}

// liveRun pushes windows of a live tenant every 200 ms of tenant time and returns the pusher, the
// keys the target actually received and every state visible at the end.
func liveRun(t *testing.T, windows int, tune func(*Options), between func(i int, p *Pusher)) (*Pusher, []StateKey, []StateKey) {
	tg := newTarget(t)
	clock := simStart
	sim := fakecpi.New(fakecpi.Options{Seed: 5, Rate: 25, Start: simStart, TimeScale: time.Second, LateBy: 700 * time.Millisecond, Now: func() time.Time { return clock }})
	opts := Defaults(TargetJSON, tg.URL)
	opts.JSONBatchType, opts.SubValuesExtra = "sequence", false
	tune(&opts)
	p, err := New(sim, opts)
	require.NoError(t, err)
	for i := range windows {
		clock = clock.Add(200 * time.Millisecond)
		if between != nil {
			between(i, p)
		}
		require.NoError(t, p.PushOnce(context.Background()))
	}
	var received []StateKey
	for _, f := range decoded(t, tg.posted(), opts) {
		received = append(received, StateKey{f.Guid, f.MPL.Status, f.MPL.LogEnd.Time})
	}
	states, _ := sim.StatesSince(time.Time{}, "")
	var all []StateKey
	for _, s := range states {
		all = append(all, StateKey{s.MessageGuid, s.Status, s.LogEnd})
	}
	return p, received, all
}

func TestWindowsNeitherMissNorRepeatAState(t *testing.T) {
	p, received, all := liveRun(t, 30, func(*Options) {}, nil)
	require.Greater(t, len(all), 100)
	assert.Equal(t, all, received, "late writes included, in the order they became visible")
	assert.Equal(t, all, p.Pushed())
}

func TestDropShareForgetsWholeWindowsReproducibly(t *testing.T) {
	tune := func(o *Options) { o.DropShare, o.Seed = 0.4, 99 }
	p, received, all := liveRun(t, 30, tune, nil)
	st := p.Stats()
	assert.Equal(t, 30, st.Windows)
	assert.Greater(t, st.ForgottenWindows, 3)
	assert.Less(t, st.ForgottenWindows, 27)
	assert.Equal(t, received, p.Pushed(), "Pushed is exactly what arrived")
	assert.ElementsMatch(t, all, append(p.Pushed(), p.NotPushed()...), "every state is pushed or known to be withheld")

	again, _, _ := liveRun(t, 30, tune, nil)
	assert.Equal(t, p.Pushed(), again.Pushed(), "the same seed forgets the same windows")
}

func TestForgetNextSkipsOneWindow(t *testing.T) {
	p, received, all := liveRun(t, 10, func(*Options) {}, func(i int, p *Pusher) {
		if i == 6 { // a window with states; the first ones of a live tenant may be empty
			p.ForgetNext()
		}
	})
	assert.Equal(t, 1, p.Stats().ForgottenWindows)
	assert.NotEmpty(t, p.NotPushed())
	assert.Equal(t, len(all), len(received)+len(p.NotPushed()))
	for _, k := range p.NotPushed() {
		assert.NotContains(t, received, k)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	_, err := New(backlogSim(1), Options{Target: "Kafka", URL: "ftp://x", JSONBatchType: "bulk", JSONSequenceDelimiter: ";", JSONFormatting: "tabs", DropShare: 2, DateFormat: "EEE"})
	require.Error(t, err)
	for _, want := range []string{`Target "Kafka"`, `URL "ftp://x"`, `JSONBatchType "bulk"`, `JSONSequenceDelimiter ";"`, `JSONFormatting "tabs"`, "DropShare 2", "pattern letter 'E'"} {
		assert.ErrorContains(t, err, want)
	}
}

func TestRunActivatesAndPushesUntilCancelled(t *testing.T) {
	tg := newTarget(t)
	sim := fakecpi.New(fakecpi.Options{Seed: 2, Rate: 200, TimeScale: 100 * time.Millisecond})
	opts := Defaults(TargetSplunk, tg.URL)
	opts.Since = time.Now()
	p, err := New(sim, opts)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, 20*time.Millisecond) }()
	require.Eventually(t, func() bool { return len(p.Pushed()) > 0 }, 5*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	tg.mu.Lock()
	assert.Equal(t, http.MethodOptions, tg.reqs[0].Method)
	tg.mu.Unlock()
}

// A target that starts after the simulator is activated once it answers, and gets the states of the
// time before from the first window on; one that answers wrongly stops Run.
func TestRunWaitsForATargetThatIsNotUpYet(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	sim := fakecpi.New(fakecpi.Options{Seed: 2, Rate: 200, TimeScale: 100 * time.Millisecond})
	sim.Truth() // the stream starts now
	opts := Defaults(TargetOTEL, "http://"+addr+"/v1/logs")
	opts.Since = time.Now()
	p, err := New(sim, opts)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, 20*time.Millisecond) }()
	time.Sleep(500 * time.Millisecond)
	assert.Empty(t, p.Pushed(), "nothing while the target is down")

	tg := newUnstartedTarget(t)
	late, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	_ = tg.Listener.Close()
	tg.Listener = late
	tg.Start()
	require.Eventually(t, func() bool { return len(p.Pushed()) > 0 }, 5*time.Second, 10*time.Millisecond)
	up := time.Now()
	defer func() {
		if t.Failed() {
			t.Logf("up %s, since %s, pushed %v", up, opts.Since, p.Pushed())
		}
	}()
	require.Eventually(t, func() bool {
		for _, k := range p.Pushed() {
			if k.LogEnd.Before(up) {
				return true
			}
		}
		return false
	}, 5*time.Second, 10*time.Millisecond, "the states from before the target was up are pushed too")
	cancel()
	require.NoError(t, <-done)

	refusing := newTarget(t)
	refusing.status = func(int) int { return http.StatusNotFound }
	p, err = New(sim, Defaults(TargetOTEL, refusing.URL+"/v1/logs"))
	require.NoError(t, err)
	require.ErrorContains(t, p.Run(t.Context(), 10*time.Millisecond), "answered 404")
}

// Render gives the bodies PushOnce would have sent for the same window, and nothing twice.
func TestRenderGivesTheBodiesAPushWouldSend(t *testing.T) {
	sim := backlogSim(120)
	tg := newTarget(t)
	sent, err := New(sim, Defaults(TargetOTEL, tg.URL+"/v1/logs"))
	require.NoError(t, err)
	require.NoError(t, sent.PushOnce(t.Context()))
	rendered, err := New(sim, Defaults(TargetOTEL, tg.URL+"/v1/logs"))
	require.NoError(t, err)
	bodies, runs, err := rendered.Render()
	require.NoError(t, err)

	require.Len(t, bodies, len(tg.reqs))
	for i, r := range tg.reqs {
		assert.Equal(t, r.Body, bodies[i], "body %d", i)
	}
	assert.Equal(t, len(sent.Pushed()), runs, "one Run event per pushed state")
	again, runs, err := rendered.Render()
	require.NoError(t, err)
	assert.Empty(t, again)
	assert.Zero(t, runs)
}
