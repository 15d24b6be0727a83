package cpi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
)

// testRetry keeps the retry rules but not the waiting.
var testRetry = httpapi.RetryPolicy{MaxRetries: 3, InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond, MaxRetryAfter: 20 * time.Millisecond}

type recordingObserver struct {
	calls     atomic.Int64
	throttled atomic.Int64
	last      atomic.Value
}

func (o *recordingObserver) CallDone(_ string, outcome httpapi.Outcome) {
	o.calls.Add(1)
	o.last.Store(outcome)
}
func (o *recordingObserver) Throttled(string) { o.throttled.Add(1) }

// simClient returns a client of a simulated tenant with a backlog of n messages, authenticated with
// OAuth2 client credentials exactly as in production.
func simClient(t *testing.T, opts fakecpi.Options, secret string, tunes ...func(*httpapi.Settings)) (*Client, *fakecpi.Server, *recordingObserver) {
	t.Helper()
	sim := fakecpi.New(opts)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	id, realSecret := sim.Credentials()
	if secret == "" {
		secret = realSecret
	}
	base := &http.Client{Timeout: 2 * time.Second}
	rt, refresher := httpapi.NewOAuth2Transport(http.DefaultTransport, base, httpapi.OAuth2Credentials{ClientID: id, ClientSecret: secret, TokenURL: srv.URL + "/oauth/token"})
	obs := &recordingObserver{}
	settings := httpapi.Settings{
		HTTPClient: &http.Client{Transport: rt, Timeout: 2 * time.Second},
		Refresher:  refresher, Retry: testRetry, Observer: obs,
	}
	for _, tune := range tunes {
		tune(&settings)
	}
	c, err := NewClient(Settings{ServiceRoot: srv.URL, Settings: settings})
	require.NoError(t, err)
	return c, sim, obs
}

func allTime() MessageQuery {
	return MessageQuery{From: time.Unix(0, 0), Until: time.Now().Add(time.Hour)}
}

func TestListFollowsRelativeNextLinksUntilTheLastPage(t *testing.T) {
	c, _, _ := simClient(t, fakecpi.Options{Backlog: 2500}, "")
	q := allTime().Query() // no $top: the tenant pages at 1000 and sends __next
	var sizes []int
	seen := map[string]bool{}
	err := List(t.Context(), c, GroupMessages, "listing", "MessageProcessingLogs", q, func(p Page[MessageProcessingLog]) error {
		sizes = append(sizes, len(p.Results))
		for _, m := range p.Results {
			assert.False(t, seen[m.MessageGuid], "repeated %s", m.MessageGuid)
			seen[m.MessageGuid] = true
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []int{1000, 1000, 500}, sizes)
}

func TestListFollowsAbsoluteNextLinksWithExplicitPort(t *testing.T) {
	var srvURL string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("$skiptoken") == "" {
			fmt.Fprintf(w, `{"d":{"results":[{"ID":"a"}],"__next":"%s/api/v1/Things?$skiptoken=1"}}`, srvURL)
			return
		}
		fmt.Fprint(w, `{"d":{"results":[{"ID":"b"}]}}`)
	}))
	defer srv.Close()
	srvURL = srv.URL
	c, err := NewClient(Settings{ServiceRoot: srv.URL, Settings: httpapi.Settings{HTTPClient: srv.Client(), Retry: testRetry}})
	require.NoError(t, err)
	var ids []string
	require.NoError(t, List(t.Context(), c, GroupMessages, "listing", "Things", nil, func(p Page[entity]) error {
		for _, e := range p.Results {
			ids = append(ids, e.ID)
		}
		return nil
	}))
	assert.Equal(t, []string{"a", "b"}, ids)
}

func TestNextLinkToAnotherHostIsRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `{"d":{"results":[],"__next":"https://attacker.example/api/v1/Things?$skiptoken=1"}}`)
	}))
	defer srv.Close()
	c, err := NewClient(Settings{ServiceRoot: srv.URL, Settings: httpapi.Settings{HTTPClient: srv.Client(), Retry: testRetry}})
	require.NoError(t, err)
	err = List(t.Context(), c, GroupMessages, "listing Things", "Things", nil, func(Page[entity]) error { return nil })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "points away from the tenant")
}

func TestServiceRootAppendsAPIPathOnce(t *testing.T) {
	for in, want := range map[string]string{
		"https://t.example":                 "https://t.example/api/v1/",
		"https://t.example/":                "https://t.example/api/v1/",
		"https://t.example/api/v1":          "https://t.example/api/v1/",
		"https://t.example/local/api/v1/":   "https://t.example/local/api/v1/",
		"https://user:pw@t.example/?x=1#f":  "https://t.example/api/v1/",
		"https://t.example:8443/prefix/api": "https://t.example:8443/prefix/api/api/v1/",
	} {
		u, err := ServiceRoot(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, u.String(), in)
	}
	for _, bad := range []string{"", "t.example", "ftp://t.example", "https://"} {
		_, err := ServiceRoot(bad)
		assert.Error(t, err, bad)
	}
}

func TestExpiredTokenIsRefreshedOnceAndTheCallSucceeds(t *testing.T) {
	c, sim, _ := simClient(t, fakecpi.Options{Backlog: 10}, "")
	_, err := c.MessageProcessingLogs(t.Context(), allTime())
	require.NoError(t, err)
	require.Equal(t, 1, sim.Stats().TokensIssued)

	sim.InjectFaults(fakecpi.FaultExpiredToken)
	page, err := c.MessageProcessingLogs(t.Context(), allTime())
	require.NoError(t, err)
	assert.Len(t, page.Results, 10)
	assert.Equal(t, 2, sim.Stats().TokensIssued, "exactly one new token after the 401")
}

func TestRejectedCredentialsFailWithoutLeakingTheSecret(t *testing.T) {
	const secret = "s3cr3t-do-not-print"
	c, _, obs := simClient(t, fakecpi.Options{}, secret)
	_, err := c.MessageProcessingLogs(t.Context(), allTime())
	require.Error(t, err)
	assert.Equal(t, httpapi.KindUnauthorized, httpapi.KindOf(err))
	assert.Contains(t, err.Error(), "token endpoint")
	assert.Contains(t, err.Error(), "invalid_client")
	assert.NotContains(t, err.Error(), secret)
	assert.Equal(t, httpapi.Outcome("unauthorized"), obs.last.Load())
}

func TestPersistent401AfterRefreshIsAnAuthError(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
	}))
	defer srv.Close()
	ref := &countingRefresher{}
	c, err := NewClient(Settings{ServiceRoot: srv.URL, Settings: httpapi.Settings{HTTPClient: srv.Client(), Refresher: ref, Retry: testRetry}})
	require.NoError(t, err)
	_, err = c.MessageProcessingLogs(t.Context(), allTime())
	require.Error(t, err)
	assert.Equal(t, httpapi.KindUnauthorized, httpapi.KindOf(err))
	assert.Contains(t, err.Error(), "401 Unauthorized")
	assert.Contains(t, err.Error(), "check client id and secret")
	assert.EqualValues(t, 1, ref.n.Load(), "one refresh")
	assert.EqualValues(t, 2, calls.Load(), "the first call and one after the refresh; no back-off retries")
}

// resetFaults queues f alone.
func resetFaults(sim *fakecpi.Server, f fakecpi.Fault) {
	sim.ClearFaults()
	sim.InjectFaults(f)
}

type countingRefresher struct{ n atomic.Int32 }

func (r *countingRefresher) Invalidate() { r.n.Add(1) }

func TestHTMLLoginPageIsAnAuthenticationErrorSayingSo(t *testing.T) {
	c, sim, _ := simClient(t, fakecpi.Options{Backlog: 1}, "")
	sim.InjectFaults(fakecpi.FaultLoginPage, fakecpi.FaultLoginPage)
	_, err := c.MessageProcessingLogs(t.Context(), allTime())
	require.Error(t, err)
	assert.Equal(t, httpapi.KindLoginPage, httpapi.KindOf(err))
	assert.Contains(t, err.Error(), "HTML page instead of JSON")
	assert.Contains(t, err.Error(), "not authenticated")
}

func TestHTMLLoginPageOnceIsCuredByANewToken(t *testing.T) {
	c, sim, _ := simClient(t, fakecpi.Options{Backlog: 1}, "")
	sim.InjectFaults(fakecpi.FaultLoginPage)
	page, err := c.MessageProcessingLogs(t.Context(), allTime())
	require.NoError(t, err)
	assert.Len(t, page.Results, 1)
}

func TestForbiddenNamesTheMissingRole(t *testing.T) {
	c, sim, _ := simClient(t, fakecpi.Options{}, "")
	sim.InjectFaults(fakecpi.FaultForbidden)
	_, err := c.MessageProcessingLogs(t.Context(), allTime())
	require.Error(t, err)
	assert.Equal(t, httpapi.KindForbidden, httpapi.KindOf(err))
	assert.Contains(t, err.Error(), "fetching MessageProcessingLogs: 403 Forbidden")
	assert.Contains(t, err.Error(), "lacks role MonitoringDataRead")
	assert.Contains(t, err.Error(), "User does not have the required role", "the tenant's own text is kept")
}

func TestNotFoundSaysTheAPIIsNotAvailable(t *testing.T) {
	c, _, _ := simClient(t, fakecpi.Options{CloudFoundry: true}, "")
	_, err := GetPage[entity](t.Context(), c, GroupAudit, "fetching AuditLogs", "AuditLogs", nil)
	require.Error(t, err)
	assert.Equal(t, httpapi.KindNotFound, httpapi.KindOf(err))
	assert.Contains(t, err.Error(), "not available on this tenant")
}

func TestTransientFaultsAreRetried(t *testing.T) {
	for _, f := range fakecpi.AllTransientFaults {
		t.Run(string(f), func(t *testing.T) {
			c, sim, obs := simClient(t, fakecpi.Options{Backlog: 20, SlowDelay: 3 * time.Second}, "", func(s *httpapi.Settings) {
				s.HTTPClient.Timeout = 500 * time.Millisecond
			})
			sim.InjectFaults(f, f)
			if f == fakecpi.FaultExpiredToken {
				// Two 401s in a row are bad credentials by definition; one is an expired token.
				resetFaults(sim, f)
			}
			page, err := c.MessageProcessingLogs(t.Context(), allTime())
			require.NoError(t, err)
			assert.Len(t, page.Results, 20)
			if f == fakecpi.FaultThrottle {
				assert.EqualValues(t, 2, obs.throttled.Load())
			}
			assert.Equal(t, httpapi.OutcomeSuccess, obs.last.Load())
		})
	}
}

func TestRetriesAreBoundedAndTheLastErrorIsKept(t *testing.T) {
	c, sim, _ := simClient(t, fakecpi.Options{}, "")
	sim.InjectFaults(fakecpi.FaultServerError, fakecpi.FaultServerError, fakecpi.FaultServerError, fakecpi.FaultServerError, fakecpi.FaultServerError)
	_, err := c.MessageProcessingLogs(t.Context(), allTime())
	require.Error(t, err)
	assert.Equal(t, httpapi.KindServer, httpapi.KindOf(err))
	assert.Contains(t, err.Error(), "500 Internal Server Error: InternalError: Internal Server Error")
	assert.Equal(t, 1+testRetry.MaxRetries, sim.Stats().FaultsInjected[fakecpi.FaultServerError], "one attempt plus max_retries")
}

func TestOversizedBodyIsAnErrorNotATruncation(t *testing.T) {
	c, _, _ := simClient(t, fakecpi.Options{Backlog: 50}, "", func(s *httpapi.Settings) { s.MaxBodySize = 4096 })
	_, err := c.MessageProcessingLogs(t.Context(), allTime())
	require.Error(t, err)
	assert.Equal(t, httpapi.KindBadResponse, httpapi.KindOf(err))
	assert.Contains(t, err.Error(), "exceeds max_response_size")
	assert.Contains(t, err.Error(), "raise max_response_size")
}

func TestCancellationStopsRetriesAndRateLimitWaits(t *testing.T) {
	c, sim, _ := simClient(t, fakecpi.Options{}, "", func(s *httpapi.Settings) {
		s.Retry = httpapi.RetryPolicy{MaxRetries: 100, InitialInterval: time.Hour, MaxInterval: time.Hour, MaxRetryAfter: time.Hour}
		s.RateLimits = map[string]httpapi.RateLimit{GroupMessages.Name: {RequestsPerSecond: 0.001, Burst: 2}}
	})
	sim.InjectFaults(fakecpi.FaultUnavailable)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.MessageProcessingLogs(ctx, allTime())
	require.Error(t, err)
	assert.Less(t, time.Since(start), 5*time.Second)

	_, err = c.MessageProcessingLogs(t.Context(), allTime()) // the bucket's second and last token
	require.NoError(t, err)
	ctx2, cancel2 := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel2()
	_, err = c.MessageProcessingLogs(ctx2, allTime())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "rate limiter")
}

func TestMessageErrorTextIsCappedAndMarked(t *testing.T) {
	c, sim, _ := simClient(t, fakecpi.Options{Backlog: 400, Seed: 3}, "")
	page, err := c.MessageProcessingLogs(t.Context(), allTime())
	require.NoError(t, err)
	var failed, discarded string
	for _, m := range page.Results {
		if m.Status == StatusFailed && failed == "" {
			failed = m.MessageGuid
		}
		if m.Status == StatusDiscarded && discarded == "" {
			discarded = m.MessageGuid
		}
	}
	require.NotEmpty(t, failed)
	text, truncated, err := c.MessageErrorText(t.Context(), failed, 64)
	require.NoError(t, err)
	assert.Len(t, text, 64)
	assert.True(t, truncated)
	full, truncated, err := c.MessageErrorText(t.Context(), failed, 1<<20)
	require.NoError(t, err)
	assert.False(t, truncated)
	runs := sim.RunsOf(failed)
	require.NotEmpty(t, runs)
	assert.Equal(t, runs[len(runs)-1].Error, full, "the whole text, as the failing step carries it")

	text, truncated, err = c.MessageErrorText(t.Context(), discarded, 64)
	require.NoError(t, err, "no error information is not an error")
	assert.Empty(t, text)
	assert.False(t, truncated)
}

func TestBasicTransportSendsCredentials(t *testing.T) {
	sim := fakecpi.New(fakecpi.Options{Backlog: 3, BasicUser: "S0001", BasicPassword: "pw"})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	c, err := NewClient(Settings{ServiceRoot: srv.URL, Settings: httpapi.Settings{HTTPClient: &http.Client{Transport: &httpapi.BasicTransport{Username: "S0001", Password: "pw", Base: http.DefaultTransport}}, Retry: testRetry}})
	require.NoError(t, err)
	page, err := c.MessageProcessingLogs(t.Context(), allTime())
	require.NoError(t, err)
	assert.Len(t, page.Results, 3)
}

func TestTokenEndpointOutageIsRetriedNotBlamedOnCredentials(t *testing.T) {
	sim := fakecpi.New(fakecpi.Options{Backlog: 2})
	var tokenCalls atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/oauth/token", func(w http.ResponseWriter, r *http.Request) {
		// Four failures: each token fetch tries two auth styles, and a 401 would get only one refresh.
		if tokenCalls.Add(1) <= 4 {
			http.Error(w, `{"error":"server_error"}`, http.StatusServiceUnavailable)
			return
		}
		sim.Handler().ServeHTTP(w, r)
	})
	mux.Handle("/", sim.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	id, secret := sim.Credentials()
	rt, ref := httpapi.NewOAuth2Transport(http.DefaultTransport, srv.Client(), httpapi.OAuth2Credentials{ClientID: id, ClientSecret: secret, TokenURL: srv.URL + "/oauth/token"})
	c, err := NewClient(Settings{ServiceRoot: srv.URL, Settings: httpapi.Settings{HTTPClient: &http.Client{Transport: rt}, Refresher: ref, Retry: testRetry}})
	require.NoError(t, err)
	page, err := c.MessageProcessingLogs(t.Context(), allTime())
	require.NoError(t, err)
	assert.Len(t, page.Results, 2)
	assert.GreaterOrEqual(t, tokenCalls.Load(), int32(5))
}
