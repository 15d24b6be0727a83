// Package fakepush is SAP Cloud Integration's External Logging for the simulated tenant: it pushes the
// MPL states of a fakecpi.Server to a target (OTEL, JSON or Splunk) the way the destination
// CloudIntegration_MonitoringDataConsumer configures it, and knows exactly which states it delivered.
package fakepush

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/push"
)

// Target is the destination property TargetSystem.
type Target string

// The target systems SAP offers.
const (
	TargetOTEL   Target = "OTEL"
	TargetJSON   Target = "JSON"
	TargetSplunk Target = "Splunk"
)

// Options mirror the destination's properties, plus the simulation's own knobs. A zero Options is not
// SAP's default (CompressData and SubValuesExtra are true there): start from Defaults.
type Options struct {
	Target Target
	// URL is where events go: OTEL the full OTLP path (…/v1/logs), JSON the endpoint, Splunk the HEC
	// base to which Endpoint is appended.
	URL string
	// Endpoint is the Splunk path (default /services/collector/event).
	Endpoint string

	CompressData    bool // gzip request bodies
	MaxBatchCount   int  // events per request (≤ 0: 1)
	SubValuesInline bool // custom headers and adapter attributes inside the Run event
	SubValuesExtra  bool // the same as stand-alone events after the Run event
	DateFormat      string

	JSONBatchType         string // single (default), array or sequence
	JSONSequenceDelimiter string // "\n" (default), "\r" or "\r\n"
	JSONFormatting        string // standard (default), pretty or compact

	IndexName, Source, Host, SourceType string // Splunk envelope fields
	DynamicSourceType                   bool   // sourcetype = SourceTypePrefix + Run|CustomHeader|AdapterAttribute
	SourceTypePrefix                    string

	OTELServiceName, OTELScopeName, OTELScopeVersion string // defaults MessageProcessingLogs, MPL, 1.0.0

	// User and Password are BasicAuthentication; AuthHeader a raw Authorization value ("Splunk <token>").
	User, Password, AuthHeader string

	// MaxRetries is how often a batch is repeated after a 5xx, a 429 or a transport error; Backoff the
	// wait before the first repeat, doubled each time.
	MaxRetries int
	Backoff    time.Duration

	// DropShare is the share of windows never pushed (their states stay readable by pull), drawn from
	// a source seeded with Seed so a test knows which.
	DropShare float64
	Seed      uint64

	// TenantURL is the simulated tenant's address, for AlternateWebLink.
	TenantURL string
	// Since: only states that become visible after it are pushed; zero pushes the backlog too.
	Since time.Time
	// Client sends the requests (default: a client with a 10 s timeout).
	Client *http.Client
}

// Defaults are SAP's destination defaults for a target, and a bounded retry.
func Defaults(target Target, url string) Options {
	return Options{
		Target: target, URL: url, CompressData: true, SubValuesExtra: true, MaxBatchCount: 100,
		MaxRetries: 3, Backoff: 200 * time.Millisecond,
	}
}

// StateKey names one pushed MPL state, as the receiver de-duplicates it.
type StateKey struct {
	MessageGuid string
	Status      string
	LogEnd      time.Time
}

// Stats count what the pusher did.
type Stats struct {
	Windows          int // PushOnce calls
	ForgottenWindows int // windows never pushed (DropShare, ForgetNext)
	Requests         int // POSTs, repeats included
	Retries          int // repeats after a 5xx, 429 or transport error
	Batches          int // batches delivered (2xx)
	SentEvents       int // events in delivered batches
	DroppedBatches   int // batches refused with a 4xx or out of retries
	DroppedEvents    int
}

// Pusher pushes one simulated tenant's MPL states to one target.
type Pusher struct {
	sim    *fakecpi.Server
	opts   Options
	dates  push.DateFormat
	target string // the URL requests go to
	client *http.Client

	runMu  sync.Mutex // one window at a time
	cursor time.Time

	mu         sync.Mutex
	rng        *mrand.Rand
	forgetNext bool
	stats      Stats
	pushed     []StateKey
	notPushed  []StateKey
}

// New checks the options and fills the defaults that SAP documents for unset properties.
func New(sim *fakecpi.Server, opts Options) (*Pusher, error) {
	if opts.Endpoint == "" {
		opts.Endpoint = "/services/collector/event"
	}
	if opts.MaxBatchCount <= 0 {
		opts.MaxBatchCount = 1
	}
	opts.JSONBatchType = orDefault(opts.JSONBatchType, "single")
	opts.JSONSequenceDelimiter = orDefault(opts.JSONSequenceDelimiter, "\n")
	opts.JSONFormatting = orDefault(opts.JSONFormatting, "standard")
	opts.OTELServiceName = orDefault(opts.OTELServiceName, "MessageProcessingLogs")
	opts.OTELScopeName = orDefault(opts.OTELScopeName, "MPL")
	opts.OTELScopeVersion = orDefault(opts.OTELScopeVersion, "1.0.0")

	var errs []error
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("URL %q: want an absolute http(s) URL", opts.URL))
	}
	switch opts.Target {
	case TargetOTEL, TargetJSON, TargetSplunk:
	default:
		errs = append(errs, fmt.Errorf("Target %q: want OTEL, JSON or Splunk", opts.Target))
	}
	switch opts.JSONBatchType {
	case "single", "array", "sequence":
	default:
		errs = append(errs, fmt.Errorf("JSONBatchType %q: want single, array or sequence", opts.JSONBatchType))
	}
	switch opts.JSONSequenceDelimiter {
	case "\n", "\r", "\r\n":
	default:
		errs = append(errs, fmt.Errorf("JSONSequenceDelimiter %q: want \\n, \\r or \\r\\n", opts.JSONSequenceDelimiter))
	}
	switch opts.JSONFormatting {
	case "standard", "pretty", "compact":
	default:
		errs = append(errs, fmt.Errorf("JSONFormatting %q: want standard, pretty or compact", opts.JSONFormatting))
	}
	if opts.DropShare < 0 || opts.DropShare > 1 {
		errs = append(errs, fmt.Errorf("DropShare %v: want a share between 0 and 1", opts.DropShare))
	}
	if opts.MaxRetries < 0 || opts.Backoff < 0 {
		errs = append(errs, errors.New("MaxRetries and Backoff must not be negative"))
	}
	dates, err := push.ParseDateFormat(opts.DateFormat)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("fakepush: %w", err)
	}
	target := opts.URL
	if opts.Target == TargetSplunk {
		target = trimSlash(opts.URL) + opts.Endpoint
	}
	client := opts.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &Pusher{
		sim: sim, opts: opts, dates: dates, target: target, client: client, cursor: opts.Since,
		rng: mrand.New(mrand.NewPCG(opts.Seed, 0x5ab_cafe)),
	}, nil
}

// Run activates the target, then pushes a window every interval until ctx ends. A missing
// partialSuccess is only a warning, as in SAP's activation. A target that cannot be reached yet (the
// collector starts after the simulator) is asked again every interval, as an operator would retry the
// activation; the states of those intervals are pushed once it answers.
func (p *Pusher) Run(ctx context.Context, every time.Duration) error {
	tick := time.NewTicker(every)
	defer tick.Stop()
	active := false
	for {
		if !active {
			err := p.Activate(ctx)
			var reach *net.OpError
			switch {
			case err == nil, errors.Is(err, ErrNoPartialSuccess):
				active = true
			case !errors.As(err, &reach):
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if !active {
			continue
		}
		if err := p.PushOnce(ctx); err != nil && ctx.Err() == nil {
			return err
		}
	}
}

// PushOnce pushes every state that became visible since the last window: batched, compressed and
// retried as configured, or not at all when the window is forgotten. Delivery failures are counted,
// not returned; the error is for a cancelled context.
func (p *Pusher) PushOnce(ctx context.Context) error {
	p.runMu.Lock()
	defer p.runMu.Unlock()
	states, until := p.sim.StatesSince(p.cursor, p.opts.TenantURL)
	p.cursor = until

	p.mu.Lock()
	p.stats.Windows++
	forget := p.forgetNext
	p.forgetNext = false
	if p.opts.DropShare > 0 && p.rng.Float64() < p.opts.DropShare {
		forget = true
	}
	if forget {
		p.stats.ForgottenWindows++
		for _, st := range states {
			p.notPushed = append(p.notPushed, StateKey{st.MessageGuid, st.Status, st.LogEnd})
		}
	}
	p.mu.Unlock()
	if forget || len(states) == 0 {
		return nil
	}

	events, err := p.events(states)
	if err != nil {
		return err
	}
	for _, batch := range p.batches(events) {
		if err := p.deliver(ctx, batch); err != nil {
			return err
		}
	}
	return nil
}

// batches cuts a window's events into requests as MaxBatchCount and JSONBatchType say.
func (p *Pusher) batches(events []event) [][]event {
	size := p.opts.MaxBatchCount
	if p.opts.Target == TargetJSON && p.opts.JSONBatchType == "single" {
		size = 1
	}
	var out [][]event
	for len(events) > 0 {
		n := min(size, len(events))
		out = append(out, events[:n])
		events = events[n:]
	}
	return out
}

// Render returns the request bodies of every state visible since the last window, batched and
// compressed as configured, without sending them, and the number of Run events (MPL states) in them.
// It moves past the window like PushOnce. Benchmarks of a push endpoint post these.
func (p *Pusher) Render() (bodies [][]byte, runs int, err error) {
	p.runMu.Lock()
	defer p.runMu.Unlock()
	states, until := p.sim.StatesSince(p.cursor, p.opts.TenantURL)
	p.cursor = until
	events, err := p.events(states)
	if err != nil {
		return nil, 0, err
	}
	for _, batch := range p.batches(events) {
		body, err := p.encode(batch)
		if err != nil {
			return nil, 0, err
		}
		bodies = append(bodies, body)
	}
	for _, ev := range events {
		if ev.kind == push.KindRun {
			runs++
		}
	}
	return bodies, runs, nil
}

// ForgetNext makes the next window one that is never pushed.
func (p *Pusher) ForgetNext() {
	p.mu.Lock()
	p.forgetNext = true
	p.mu.Unlock()
}

// Pushed lists the states whose Run event was delivered, in the order sent.
func (p *Pusher) Pushed() []StateKey {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]StateKey(nil), p.pushed...)
}

// NotPushed lists the states never delivered: in forgotten windows, or in batches dropped after a
// 4xx or the last retry. Only pull can see them.
func (p *Pusher) NotPushed() []StateKey {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]StateKey(nil), p.notPushed...)
}

// Stats returns the counters.
func (p *Pusher) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}
