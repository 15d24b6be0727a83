package cpi

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
)

func TestKeyPredicateQuotesLiteralsAndEscapesOnlyWhatAPathCannotCarry(t *testing.T) {
	tests := []struct {
		name  string
		parts []keyPart
		want  string
	}{
		{"guid", []keyPart{{Value: "AGh8Jm9k-_xYz012"}}, "('AGh8Jm9k-_xYz012')"},
		{"quote inside is doubled", []keyPart{{Value: "O'Brien"}}, "('O''Brien')"},
		{"space", []keyPart{{Value: "Acme Finance"}}, "('Acme%20Finance')"},
		{"slash", []keyPart{{Value: "a/b"}}, "('a%2Fb')"},
		{"query, fragment and percent", []keyPart{{Value: "a?b#c%d"}}, "('a%3Fb%23c%25d')"},
		{"semicolon, which servlets cut off", []keyPart{{Value: "a;b"}}, "('a%3Bb')"},
		{"parentheses, equals and comma stay", []keyPart{{Value: "f(x)=1,2"}}, "('f(x)=1,2')"},
		{"other sub-delimiters stay", []keyPart{{Value: "a!$&*+:@~b"}}, "('a!$&*+:@~b')"},
		{"unicode as UTF-8", []keyPart{{Value: "Zürich_Ω"}}, "('Z%C3%BCrich_%CE%A9')"},
		{"controls and quotes of other kinds", []keyPart{{Value: "a\n\t\"<>\\b"}}, "('a%0A%09%22%3C%3E%5Cb')"},
		{"empty", []keyPart{{Value: ""}}, "('')"},
		{"named pairs", []keyPart{{Name: "Name", Value: "http access.log"}, {Name: "Application", Value: "iflmap"}},
			"(Name='http%20access.log',Application='iflmap')"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, keyPredicate(tt.parts...))
		})
	}
}

// wireRecorder is a tenant that answers every path with something decodable and remembers each
// request line's target exactly as it arrived.
type wireRecorder struct {
	mu      sync.Mutex
	targets []string
}

func (rec *wireRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec.mu.Lock()
	rec.targets = append(rec.targets, r.RequestURI)
	rec.mu.Unlock()
	switch {
	case strings.HasSuffix(r.URL.Path, "/$value"):
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "text")
	case strings.HasPrefix(r.URL.Path, "/api/v1/JmsBrokers"):
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"d":{"Key":"Broker1"}}`)
	case strings.HasSuffix(r.URL.Path, "/RunSteps") && r.URL.Query().Get("$skiptoken") == "":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"d":{"results":[{"ChildCount":2}],"__count":"2","__next":"MessageProcessingLogRuns('R''1')/RunSteps?$skiptoken=1&$top=1"}}`)
	default:
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"d":{"results":[],"__count":"1"}}`)
	}
}

func (rec *wireRecorder) paths() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := make([]string, len(rec.targets))
	for i, t := range rec.targets {
		out[i], _, _ = strings.Cut(t, "?")
	}
	return out
}

func TestKeyedPathsGoOutWithLiteralQuotes(t *testing.T) {
	rec := &wireRecorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	c, err := NewClient(Settings{ServiceRoot: srv.URL, Settings: httpapi.Settings{HTTPClient: srv.Client(), Retry: testRetry}})
	require.NoError(t, err)
	ctx := t.Context()

	_, _, err = c.MessageErrorText(ctx, "AGx'1", 100)
	require.NoError(t, err)
	_, err = c.RuntimeArtifactError(ctx, "Send Invoice", 100)
	require.NoError(t, err)
	_, err = c.PackageArtifacts(ctx, "Acme/Finance")
	require.NoError(t, err)
	require.NoError(t, c.LogFileContent(ctx, LogFile{Name: "trace 1.log", Application: "iflmap"}, 1<<20, func(r io.Reader) error {
		_, err := io.Copy(io.Discard, r)
		return err
	}))
	_, err = c.JmsBroker(ctx)
	require.NoError(t, err)
	_, err = c.MessageRuns(ctx, "AGx'1")
	require.NoError(t, err)
	_, err = c.RunSteps(ctx, "R'1", 0)
	require.NoError(t, err)

	assert.Equal(t, []string{
		"/api/v1/MessageProcessingLogs('AGx''1')/ErrorInformation/$value",
		"/api/v1/IntegrationRuntimeArtifacts('Send%20Invoice')/ErrorInformation/$value",
		"/api/v1/IntegrationPackages('Acme%2FFinance')/IntegrationDesigntimeArtifacts",
		"/api/v1/LogFiles(Name='trace%201.log',Application='iflmap')/$value",
		"/api/v1/JmsBrokers('Broker1')",
		"/api/v1/MessageProcessingLogs('AGx''1')/Runs",
		"/api/v1/MessageProcessingLogRuns('R''1')/RunSteps",
		"/api/v1/MessageProcessingLogRuns('R''1')/RunSteps", // the relative next link, resolved
	}, rec.paths())
}

func TestKeyedCallsWorkOnTenantsThatMatchQuotesLiterallyOrNot(t *testing.T) {
	start := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	for _, literalOnly := range []bool{false, true} {
		t.Run(fmt.Sprintf("literal quotes only %v", literalOnly), func(t *testing.T) {
			// Epoch 1 of the simulated tenant: Send_Invoice_to_Ariba is in ERROR.
			c, sim, _ := simClient(t, fakecpi.Options{Backlog: 300, BacklogSpan: 10 * time.Minute, Start: start, TimeScale: 30 * time.Second,
				Now: func() time.Time { return start.Add(45 * time.Second) }, LiteralQuotesOnly: literalOnly}, "")
			ctx := t.Context()
			var failed string
			for _, tr := range sim.Truth() {
				if tr.Final().Status == StatusFailed {
					failed = tr.MessageGUID
					break
				}
			}
			require.NotEmpty(t, failed)

			text, _, err := c.MessageErrorText(ctx, failed, 1<<20)
			require.NoError(t, err)
			assert.NotEmpty(t, text, "error text")

			artifactErr, err := c.RuntimeArtifactError(ctx, "Send_Invoice_to_Ariba", 4096)
			require.NoError(t, err)
			assert.Contains(t, artifactErr, "no valid credential alias")

			arts, err := c.PackageArtifacts(ctx, "AcmeFinance")
			require.NoError(t, err)
			assert.Len(t, arts, 4)

			files, err := c.LogFiles(ctx, []string{"http", "trace"})
			require.NoError(t, err)
			require.NotEmpty(t, files)
			var got strings.Builder
			require.NoError(t, c.LogFileContent(ctx, files[0], 1<<30, func(r io.Reader) error {
				got.Reset()
				_, err := io.Copy(&got, r)
				return err
			}))
			assert.Equal(t, sim.LogFileText(files[0].Name), got.String())

			runs, err := c.MessageRuns(ctx, failed)
			require.NoError(t, err)
			require.NotEmpty(t, runs)
			steps, err := c.RunSteps(ctx, runs[0].Id, 0)
			require.NoError(t, err)
			assert.NotEmpty(t, steps)

			// The spelling this client used to send: found by default, not on a literal-only tenant.
			old, _, err := c.GetText(ctx, GroupMessages, "old spelling", "MessageProcessingLogs(%27"+failed+"%27)/ErrorInformation/$value", 1<<20)
			require.NoError(t, err)
			if literalOnly {
				assert.Empty(t, old, "404 for %27")
			} else {
				assert.Equal(t, text, old)
			}
		})
	}
}
