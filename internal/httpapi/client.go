// Package httpapi is the HTTP machinery shared by the receiver's API clients (CPI OData, SAP Cloud ALM):
// rate limits per API group, bounded retries with back-off and Retry-After, one token refresh after a
// 401, size-capped bodies, and errors that say what the user can do. It knows nothing about OData.
package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/time/rate"
)

// Group is an API group: SAP documents a rate limit per group, and each group needs a role or scope,
// which a 403 names.
type Group struct {
	Name string
	// ForbiddenHint tells what to grant after a 403, e.g. which role the service key's instance lacks.
	ForbiddenHint string
	// NotFoundHint explains a 404 of this group's API.
	NotFoundHint string
}

// RateLimit is a client-side token bucket for one API group.
type RateLimit struct {
	RequestsPerSecond float64
	Burst             int
}

// RetryPolicy bounds how often and how long a failed call is repeated.
type RetryPolicy struct {
	// MaxRetries is the number of repeats after the first attempt; 0 disables retries.
	MaxRetries      int
	InitialInterval time.Duration
	MaxInterval     time.Duration
	// MaxRetryAfter caps a server's Retry-After, so a bad header cannot park a poller for hours.
	MaxRetryAfter time.Duration
}

// Outcome is how a logical call ended, as counted by an Observer.
type Outcome string

// OutcomeSuccess is a call that got the document it asked for.
const OutcomeSuccess Outcome = "success"

// Observer learns about every call, for the receiver's own telemetry. Implementations must be safe for
// concurrent use.
type Observer interface {
	// CallDone is called once per logical call (after retries) with its final outcome.
	CallDone(group string, outcome Outcome)
	// Throttled is called for each 429 answer, including those a retry recovered from.
	Throttled(group string)
}

// Settings configure a Client.
type Settings struct {
	// HTTPClient carries TLS, proxy, timeouts and authentication.
	HTTPClient *http.Client
	// Refresher, when set, is asked for a new token once after a 401 or a login page.
	Refresher   Refresher
	RateLimits  map[string]RateLimit
	Retry       RetryPolicy
	MaxBodySize int64
	Observer    Observer
	UserAgent   string
}

// Refresher drops a cached credential so that the next request fetches a new one.
type Refresher interface{ Invalidate() }

// Client calls one API. It is safe for concurrent use.
type Client struct {
	http     *http.Client
	refresh  Refresher
	retry    RetryPolicy
	maxBody  int64
	observer Observer
	agent    string

	mu       sync.Mutex
	limits   map[string]RateLimit
	limiters map[string]*rate.Limiter
	// sleep is replaced in tests to observe back-off without waiting.
	sleep func(ctx context.Context, d time.Duration) error
}

// DefaultMaxBodySize is generous for a 1000-entry page with every field and expanded headers.
const DefaultMaxBodySize = 64 << 20

// NewClient checks the settings and returns a Client.
func NewClient(s Settings) (*Client, error) {
	if s.HTTPClient == nil {
		return nil, errors.New("httpapi: no HTTP client")
	}
	if s.MaxBodySize <= 0 {
		s.MaxBodySize = DefaultMaxBodySize
	}
	return &Client{
		http:     s.HTTPClient,
		refresh:  s.Refresher,
		retry:    s.Retry,
		maxBody:  s.MaxBodySize,
		observer: s.Observer,
		agent:    s.UserAgent,
		limits:   s.RateLimits,
		limiters: map[string]*rate.Limiter{},
		sleep:    sleepCtx,
	}, nil
}

func (c *Client) limiter(group string) *rate.Limiter {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.limiters[group]
	if !ok {
		lim, configured := c.limits[group]
		if !configured || lim.RequestsPerSecond <= 0 {
			l = rate.NewLimiter(rate.Inf, 0)
		} else {
			l = rate.NewLimiter(rate.Limit(lim.RequestsPerSecond), max(1, lim.Burst))
		}
		c.limiters[group] = l
	}
	return l
}

// Request is one call: GET unless Method says otherwise, with an optional body.
type Request struct {
	Method      string
	URL         string
	Accept      string
	ContentType string
	Body        []byte
	// MaxBody overrides the client's body cap for this call (e.g. a log file download); 0 keeps it.
	MaxBody int64
}

// Do is one logical call with rate limiting, retries and one token refresh. op names it in errors
// ("fetching MessageProcessingLogs"). handle reads a 2xx body; its error decides, like a status code,
// whether the call is repeated.
func (c *Client) Do(ctx context.Context, group Group, op string, r Request, handle func(io.Reader, *http.Response) error) error {
	refreshed := false
	for attempt := 0; ; attempt++ {
		if err := c.limiter(group.Name).Wait(ctx); err != nil {
			return c.done(group, &Error{Op: op, Kind: KindTransport, Detail: "cancelled while waiting for the rate limiter", Err: err})
		}
		err := c.attempt(ctx, group, op, r, handle)
		if err == nil {
			c.done(group, nil)
			return nil
		}
		var stop *stopError
		if errors.As(err, &stop) {
			// The handler gave up for a reason of its own (e.g. the next consumer refused): no retry, and
			// the call itself succeeded.
			c.done(group, nil)
			return stop.err
		}
		if e := (*Error)(nil); errors.As(err, &e) && e.Status == http.StatusTooManyRequests && c.observer != nil {
			c.observer.Throttled(group.Name)
		}
		if ctx.Err() != nil {
			return c.done(group, err)
		}
		var e *Error
		if !errors.As(err, &e) {
			return c.done(group, err)
		}
		if (e.Kind == KindUnauthorized || e.Kind == KindLoginPage) && c.refresh != nil && !refreshed {
			// A token can be revoked or expire early; one fresh token tells that apart from bad credentials.
			refreshed = true
			c.refresh.Invalidate()
			attempt--
			continue
		}
		if !e.retryable() || attempt >= c.retry.MaxRetries {
			return c.done(group, err)
		}
		if err := c.sleep(ctx, c.backoff(attempt, e.RetryAfter)); err != nil {
			return c.done(group, err)
		}
	}
}

func (c *Client) done(group Group, err error) error {
	if c.observer != nil {
		if err == nil {
			c.observer.CallDone(group.Name, OutcomeSuccess)
		} else {
			c.observer.CallDone(group.Name, Outcome(KindOf(err).String()))
		}
	}
	return err
}

// backoff is exponential with full jitter in [d/2, d], never below the server's Retry-After.
func (c *Client) backoff(attempt int, retryAfter time.Duration) time.Duration {
	d := c.retry.InitialInterval
	if d <= 0 {
		d = time.Second
	}
	for i := 0; i < attempt && d < c.retry.MaxInterval; i++ {
		d *= 2
	}
	if c.retry.MaxInterval > 0 && d > c.retry.MaxInterval {
		d = c.retry.MaxInterval
	}
	d = d/2 + rand.N(d/2+1)
	if retryAfter > 0 {
		if c.retry.MaxRetryAfter > 0 && retryAfter > c.retry.MaxRetryAfter {
			retryAfter = c.retry.MaxRetryAfter
		}
		d = max(d, retryAfter)
	}
	return d
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (c *Client) attempt(ctx context.Context, group Group, op string, r Request, handle func(io.Reader, *http.Response) error) error {
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader = http.NoBody
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.URL, body)
	if err != nil {
		return &Error{Op: op, Kind: KindClient, Detail: "cannot build request", Err: err}
	}
	req.Header.Set("Accept", r.Accept)
	if r.ContentType != "" {
		req.Header.Set("Content-Type", r.ContentType)
	}
	if c.agent != "" {
		req.Header.Set("User-Agent", c.agent)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return transportError(op, err)
	}
	defer func() {
		// Drain a little so the connection can be reused, but never a whole unexpected body.
		_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
		resp.Body.Close()
	}()
	limit := c.maxBody
	if r.MaxBody > 0 {
		limit = r.MaxBody
	}
	capped := bufio.NewReaderSize(&cappedReader{r: resp.Body, left: limit}, 4096)

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return statusError(op, group, resp, capped)
	}
	if resp.StatusCode == http.StatusNoContent {
		return handle(strings.NewReader(""), resp)
	}
	if isHTML(resp, capped) {
		return &Error{Op: op, Kind: KindLoginPage, Status: resp.StatusCode,
			Detail: "the tenant answered with an HTML page instead of JSON",
			Hint:   "the request was not authenticated: check that the endpoint is the API URL from the service key (oauth.url), not the Web UI, and that the credentials are for this tenant"}
	}
	if err := handle(capped, resp); err != nil {
		return bodyError(op, err)
	}
	return nil
}

func isHTML(resp *http.Response, body *bufio.Reader) bool {
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err == nil && mt == "text/html" {
		return true
	}
	head, _ := body.Peek(512)
	return looksLikeHTML(head)
}

func transportError(op string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		// The token endpoint's own body is not repeated: it can echo request details.
		detail := "the token endpoint refused the client credentials"
		if re.Response != nil {
			detail = fmt.Sprintf("the token endpoint answered %s", re.Response.Status)
		}
		if re.ErrorCode != "" {
			detail += " (" + re.ErrorCode + ")"
		}
		out := &Error{Op: op, Kind: KindUnauthorized, Detail: detail,
			Hint: "check client id, client secret and token URL (the service key's oauth.tokenurl; on Neo the oauthasservices …/oauth2/api/v1/token URL)", Err: err}
		if re.Response != nil && (re.Response.StatusCode >= 500 || re.Response.StatusCode == http.StatusTooManyRequests) {
			// The token endpoint is down or busy, the credentials are not to blame: retry like any 5xx.
			out.Kind, out.Hint = KindServer, "the token endpoint is unavailable; the call is retried"
		}
		return out
	}
	var ue *url.Error
	inner := err
	if errors.As(err, &ue) {
		inner = ue.Err
	}
	detail := inner.Error()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		detail = "timed out: " + detail
	}
	return &Error{Op: op, Kind: KindTransport, Detail: oneLine(detail, maxDetailLen), Err: err}
}

func statusError(op string, group Group, resp *http.Response, body io.Reader) error {
	raw, _ := io.ReadAll(io.LimitReader(body, 64<<10))
	e := &Error{Op: op, Status: resp.StatusCode, Detail: errorDetail(raw)}
	switch s := resp.StatusCode; {
	case s == http.StatusUnauthorized:
		e.Kind = KindUnauthorized
		e.Hint = "the tenant rejected the credentials: check client id and secret (or user and password) and that they belong to this tenant"
	case s == http.StatusForbidden:
		e.Kind = KindForbidden
		e.Hint = group.ForbiddenHint
	case s == http.StatusNotFound:
		e.Kind = KindNotFound
		e.Hint = group.NotFoundHint
	case s == http.StatusTooManyRequests:
		e.Kind = KindThrottled
		e.Hint = "the tenant's rate limit was exceeded; lower rate_limits for this API group or poll less often"
		e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	case s >= 500:
		e.Kind = KindServer
		e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	default:
		e.Kind = KindClient
	}
	return e
}

// Stop marks an error a body handler returns as final: Do returns it as it is, without retrying.
func Stop(err error) error { return &stopError{err} }

type stopError struct{ err error }

func (s *stopError) Error() string { return s.err.Error() }
func (s *stopError) Unwrap() error { return s.err }

func bodyError(op string, err error) error {
	var e *Error
	var stop *stopError
	if errors.As(err, &e) || errors.As(err, &stop) {
		return err
	}
	out := &Error{Op: op, Kind: KindBadResponse, Detail: oneLine(err.Error(), maxDetailLen), Err: err}
	switch {
	case errors.Is(err, ErrBodyTooLarge):
		out.Hint = "raise max_response_size or ask for less per request"
	case errors.Is(err, ErrMalformed), errors.Is(err, ErrTruncated):
	default:
		// Anything else failed while reading the body (a reset, a client timeout): a transport failure.
		out.Kind = KindTransport
	}
	return out
}

// parseRetryAfter reads delay-seconds or an HTTP date; anything else means no hint.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// ErrBodyTooLarge is returned when a response is larger than the configured cap.
var ErrBodyTooLarge = errors.New("response body exceeds max_response_size")

// cappedReader fails, rather than silently truncating, when the body is larger than its cap.
type cappedReader struct {
	r    io.Reader
	left int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// One byte more tells "exactly at the cap" from "over it".
		var one [1]byte
		if n, _ := c.r.Read(one[:]); n > 0 {
			return 0, ErrBodyTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// ErrMalformed marks a 2xx body that is not the expected document; repeating the call will not help.
var ErrMalformed = errors.New("malformed response")

// ErrTruncated marks a body that ended in the middle of a JSON document (a dropped connection, or a
// proxy cutting the answer); such a read is worth retrying.
var ErrTruncated = errors.New("response body ended before the JSON document was complete")

// WrapJSON classifies an encoding/json error: a cut-off body is ErrTruncated, a syntax or type error
// ErrMalformed.
func WrapJSON(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %w", ErrTruncated, err)
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	if errors.As(err, &syn) || errors.As(err, &typ) {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return err
}
