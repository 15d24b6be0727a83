package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/simauth"
)

// The static server must answer exactly what the simulated tenant answers for the receiver's queries,
// or a measurement against it would measure different pages.
func TestStaticPagesMatchTheSimulatedTenantByteForByte(t *testing.T) {
	const base = "http://tenant.example/api/v1/"
	opts := fakecpi.Options{Start: time.Now().Add(-time.Minute), Seed: 3, Backlog: 2500, BacklogSpan: 10 * time.Minute, BurstSize: 40, BurstEvery: 300}
	st, err := render(opts, base)
	require.NoError(t, err)
	require.Equal(t, 2500+8*39, st.len(), "every backlog entry, bursts included, is kept once")

	sim := fakecpi.New(opts)
	simToken := mustToken(t, sim.Handler(), sim.Credentials)
	static := &server{st: st, auth: simauth.New("id", "secret", time.Hour, time.Now), pageCap: 1000}
	staticToken := mustToken(t, static.routes(), func() (string, string) { return "id", "secret" })

	first := time.UnixMilli(st.logEnd[0])
	mid := time.UnixMilli(st.logEnd[1700]).Truncate(time.Second)
	last := time.UnixMilli(st.logEnd[st.len()-1])
	for _, q := range []cpi.MessageQuery{
		{From: first.Add(-time.Hour), Until: last.Add(time.Hour), Top: 1000},
		{From: mid, Until: last.Add(time.Hour), Top: 1000, Skip: 3},
		{From: mid, Until: mid.Add(20 * time.Second), Top: 1000},
		{From: mid, Until: last.Add(time.Hour), Top: 10},
		{From: last.Add(time.Second), Until: last.Add(time.Hour), Top: 1000},
	} {
		want := get(t, sim.Handler(), simToken, base, q)
		got := get(t, static.routes(), staticToken, base, q)
		require.Equal(t, want, got, "query %s", q.Query().Encode())
	}
}

func TestStaticPageCapSendsANextLinkLikeTheSimulatedTenant(t *testing.T) {
	const base = "http://tenant.example/api/v1/"
	start := time.Now().Add(-time.Minute)
	opts := fakecpi.Options{Start: start, Seed: 4, Backlog: 900, BacklogSpan: 10 * time.Minute, PageCap: 250}
	st, err := render(fakecpi.Options{Start: start, Seed: 4, Backlog: 900, BacklogSpan: 10 * time.Minute}, base)
	require.NoError(t, err)
	sim := fakecpi.New(opts)
	static := &server{st: st, auth: simauth.New("id", "secret", time.Hour, time.Now), pageCap: 250}
	q := cpi.MessageQuery{From: time.UnixMilli(st.logEnd[0]), Until: time.UnixMilli(st.logEnd[899]).Add(time.Second), Top: 1000, Skip: 5}
	want := get(t, sim.Handler(), mustToken(t, sim.Handler(), sim.Credentials), base, q)
	got := get(t, static.routes(), mustToken(t, static.routes(), func() (string, string) { return "id", "secret" }), base, q)
	require.Contains(t, got, `"__next":"MessageProcessingLogs?`)
	require.Equal(t, want, got)
}

func TestStaticServerRefusesQueriesItCannotAnswer(t *testing.T) {
	st, err := render(fakecpi.Options{Seed: 1, Backlog: 10}, "http://x/api/v1/")
	require.NoError(t, err)
	static := &server{st: st, auth: simauth.New("id", "secret", time.Hour, time.Now), pageCap: 1000}
	tok := mustToken(t, static.routes(), func() (string, string) { return "id", "secret" })
	q := cpi.MessageQuery{From: time.Unix(0, 0), Until: time.Now().Add(time.Hour), Top: 1000, CustomHeaders: true}
	rec := serve(static.routes(), tok, "http://x/api/v1/", q.Query().Encode())
	require.Equal(t, http.StatusBadRequest, rec.Code)
	q = cpi.MessageQuery{From: time.Unix(0, 0), Until: time.Now().Add(time.Hour), Statuses: []string{"FAILED"}}
	rec = serve(static.routes(), tok, "http://x/api/v1/", q.Query().Encode())
	require.Equal(t, http.StatusBadRequest, rec.Code)
	rec = serve(static.routes(), "wrong", "http://x/api/v1/", cpi.MessageQuery{From: time.Unix(0, 0), Until: time.Now()}.Query().Encode())
	require.Equal(t, http.StatusUnauthorized, rec.Code)
}

func TestBareDecodeMeasuresEveryRecord(t *testing.T) {
	st, err := render(fakecpi.Options{Seed: 1, Backlog: 1500}, "http://x/api/v1/")
	require.NoError(t, err)
	_, n, err := bareDecode(st, 2)
	require.NoError(t, err)
	require.Equal(t, 3000, n)
}

func mustToken(t *testing.T, h http.Handler, creds func() (string, string)) string {
	t.Helper()
	id, secret := creds()
	tok, err := fetchToken(h, id, secret)
	require.NoError(t, err)
	return tok
}

func serve(h http.Handler, token, base, query string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, base+"MessageProcessingLogs?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func get(t *testing.T, h http.Handler, token, base string, q cpi.MessageQuery) string {
	t.Helper()
	rec := serve(h, token, base, q.Query().Encode())
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	body, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(body), `{"d":{"results":[`))
	return string(body)
}
