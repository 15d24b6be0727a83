package sapcpireceiver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/sapcpi-otel/sapcpireceiver/internal/checkpoint"
	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/mapping"
)

// TracesConfig configures message processing as traces. It takes effect when the receiver is in a
// traces pipeline: then every MPL that reaches a final status gives one message span, and the runs and
// steps of the selected messages give child spans.
type TracesConfig struct {
	// ChangeableStatusDelay: ESCALATED and ABANDONED are final for a span but a message can still leave
	// them (a retry, a resumed run). Their span waits until the state is this old, so that such a message
	// gives one span, of its last state. It must be shorter than messages.overlap, within which a state
	// is read again.
	ChangeableStatusDelay time.Duration `mapstructure:"changeable_status_delay"`
	Runs                  RunsConfig    `mapstructure:"runs"`
	// TraceparentFromHeaders expands the custom header properties of every MPL (one $expand per page,
	// no extra request) to find a W3C traceparent, which becomes a link of the message span. With
	// messages.custom_header_properties on they are read anyway.
	TraceparentFromHeaders bool `mapstructure:"traceparent_from_headers"`
}

// RunsConfig selects the messages whose runs and steps are read (two requests and more per message, in
// the message rate-limit group).
type RunsConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// Statuses whose runs are read. At log level INFO a tenant keeps the steps of failed runs only.
	Statuses []string `mapstructure:"statuses"`
	// LogLevels whose messages' runs are read whatever their status: DEBUG and TRACE keep every step.
	LogLevels []string `mapstructure:"log_levels"`
	// MaxSteps caps the steps read per message, newest runs first.
	MaxSteps int `mapstructure:"max_steps"`
	// MaxConcurrency bounds the parallel requests per page.
	MaxConcurrency int `mapstructure:"max_concurrency"`
}

// spanStatuses are the statuses that end a message's span; changeable ones wait ChangeableStatusDelay.
var (
	spanStatuses       = []string{cpi.StatusCompleted, cpi.StatusFailed, cpi.StatusEscalated, cpi.StatusDiscarded, cpi.StatusAbandoned, cpi.StatusCancelled}
	changeableStatuses = []string{cpi.StatusEscalated, cpi.StatusAbandoned}
	knownLogLevels     = []string{"NONE", "ERROR", "INFO", "DEBUG", "TRACE"}
)

func defaultTracesConfig() TracesConfig {
	return TracesConfig{
		ChangeableStatusDelay: time.Minute,
		Runs: RunsConfig{
			Enabled:        true,
			Statuses:       []string{cpi.StatusFailed, cpi.StatusEscalated},
			MaxSteps:       200,
			MaxConcurrency: 4,
		},
	}
}

// Validate checks the section; the collector prefixes the errors with "traces".
func (c *TracesConfig) Validate() error {
	var errs []error
	if c.ChangeableStatusDelay < 0 {
		errs = append(errs, fmt.Errorf("changeable_status_delay: must not be negative, got %s", c.ChangeableStatusDelay))
	}
	if r := c.Runs; r.Enabled {
		for _, s := range r.Statuses {
			if !slices.Contains(spanStatuses, s) {
				errs = append(errs, fmt.Errorf("runs.statuses: %q does not end a message span; use one of %s", s, strings.Join(spanStatuses, ", ")))
			}
		}
		for _, l := range r.LogLevels {
			if !slices.Contains(knownLogLevels, l) {
				errs = append(errs, fmt.Errorf("runs.log_levels: unknown log level %q; use one of %s", l, strings.Join(knownLogLevels, ", ")))
			}
		}
		if r.MaxSteps < 1 || r.MaxSteps > 10000 {
			errs = append(errs, fmt.Errorf("runs.max_steps: must be between 1 and 10000, got %d", r.MaxSteps))
		}
		if r.MaxConcurrency < 1 || r.MaxConcurrency > 16 {
			errs = append(errs, fmt.Errorf("runs.max_concurrency: must be between 1 and 16, got %d", r.MaxConcurrency))
		}
	}
	return sectionErrors(errs)
}

// Sinks of the message source besides its records.
const (
	sinkSpans    checkpoint.Sinks = 1 << 1
	sinkPayloads checkpoint.Sinks = 1 << 2
)

// spanKey identifies a message's span: one per MPL, whatever state it was emitted in.
func spanKey(m *cpi.MessageProcessingLog) checkpoint.Key {
	return checkpoint.KeyOf("span", m.MessageGuid)
}

// wantsSpan: the MPL is in a status that ends its span, and a changeable one has stayed long enough.
func (s *messageSource) wantsSpan(m *cpi.MessageProcessingLog, until time.Time) bool {
	if !slices.Contains(spanStatuses, m.Status) {
		return false
	}
	if slices.Contains(changeableStatuses, m.Status) {
		return !m.LogEnd.After(until.Add(-s.traces.ChangeableStatusDelay))
	}
	return true
}

// wantsRuns: the message's runs become child spans.
func (s *messageSource) wantsRuns(m *cpi.MessageProcessingLog) bool {
	r := s.traces.Runs
	return s.out.traces != nil && r.Enabled && (slices.Contains(r.Statuses, m.Status) || slices.Contains(r.LogLevels, m.LogLevel))
}

// pageCache holds what one page's sinks share: the runs read and the error texts fetched, so that no
// request is made twice for one message.
type pageCache struct {
	mu     sync.Mutex
	runs   map[string]runsResult
	errors map[string]mapping.ErrorDetail
}

type runsResult struct {
	runs []mapping.RunTrace
	err  error
}

func (c *pageCache) reset() {
	c.mu.Lock()
	c.runs = map[string]runsResult{}
	c.errors = map[string]mapping.ErrorDetail{}
	c.mu.Unlock()
}

// runsFor reads a message's runs and their steps (newest runs first until max_steps), once per page.
func (s *messageSource) runsFor(ctx context.Context, m *cpi.MessageProcessingLog) ([]mapping.RunTrace, error) {
	s.page.mu.Lock()
	if r, ok := s.page.runs[m.MessageGuid]; ok {
		s.page.mu.Unlock()
		return r.runs, r.err
	}
	s.page.mu.Unlock()
	runs, err := s.readRuns(ctx, m.MessageGuid)
	s.page.mu.Lock()
	s.page.runs[m.MessageGuid] = runsResult{runs, err}
	s.page.mu.Unlock()
	return runs, err
}

func (s *messageSource) readRuns(ctx context.Context, guid string) ([]mapping.RunTrace, error) {
	if until := s.runsAbsentUntil.Load(); until != nil && s.now().Before(*until) {
		return nil, errRunsAbsent
	}
	runs, err := s.client.MessageRuns(ctx, guid)
	if err != nil {
		if httpapi.KindOf(err) == httpapi.KindNotFound {
			// The tenant does not offer runs: say so once and ask again rarely, not for every message.
			next := s.now().Add(rareInterval)
			if s.runsAbsentUntil.Swap(&next) == nil {
				s.logger.Warn("MPL runs are not available on this tenant; message spans go out without run and step spans, checking again rarely", zap.Error(err))
			}
			return nil, errRunsAbsent
		}
		return nil, err
	}
	// Tenants answer newest first; the step budget goes to the newest runs.
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].RunStart.After(runs[j].RunStart.Time) })
	left := s.traces.Runs.MaxSteps
	out := make([]mapping.RunTrace, 0, len(runs))
	for _, r := range runs {
		rt := mapping.RunTrace{Run: r}
		if left > 0 {
			steps, err := s.client.RunSteps(ctx, r.Id, left)
			if err != nil {
				return nil, err
			}
			rt.Steps, left = steps, left-len(steps)
		}
		out = append(out, rt)
	}
	return out, nil
}

var errRunsAbsent = errors.New("runs are not available on this tenant")

// errorText is a message's error text: the failing step's error when its runs are read anyway (one
// request less per failed message, the same text on the tenants measured), else ErrorInformation/$value.
// The cache is the pull page's (nil for pushed states, which read no runs).
func (s *messageSource) errorText(ctx context.Context, cache *pageCache, m *cpi.MessageProcessingLog) (mapping.ErrorDetail, error) {
	if cache == nil {
		text, truncated, err := s.client.MessageErrorText(ctx, m.MessageGuid, s.cfg.ErrorDetails.MaxSize)
		return mapping.ErrorDetail{Text: text, Truncated: truncated}, err
	}
	cache.mu.Lock()
	if d, ok := cache.errors[m.MessageGuid]; ok {
		cache.mu.Unlock()
		return d, nil
	}
	cache.mu.Unlock()
	d, err := s.fetchErrorText(ctx, m)
	if err == nil {
		cache.mu.Lock()
		cache.errors[m.MessageGuid] = d
		cache.mu.Unlock()
	}
	return d, err
}

// fetchErrorText reads the text for a pulled state; the window is locked (the page is being delivered).
func (s *messageSource) fetchErrorText(ctx context.Context, m *cpi.MessageProcessingLog) (mapping.ErrorDetail, error) {
	limit := s.cfg.ErrorDetails.MaxSize
	if s.cfg.ErrorDetails.FromRunSteps && s.wantsRuns(m) && !s.window.Has(spanKey(m), sinkSpans) {
		if runs, err := s.runsFor(ctx, m); err == nil {
			if text := mapping.FailingStepError(runs); text != "" {
				if len(text) > limit {
					return mapping.ErrorDetail{Text: text[:limit], Truncated: true}, nil
				}
				return mapping.ErrorDetail{Text: text}, nil
			}
		}
	}
	text, truncated, err := s.client.MessageErrorText(ctx, m.MessageGuid, limit)
	return mapping.ErrorDetail{Text: text, Truncated: truncated}, err
}

// deliverSpans builds the spans of the page's new final MPLs and hands them to the traces pipeline. A
// run that cannot be read is logged and its message span goes out without it; only a refusal of the
// pipeline holds the spans back.
func (s *messageSource) deliverSpans(ctx context.Context, mpls []cpi.MessageProcessingLog) error {
	traces := make([]mapping.MessageTrace, len(mpls))
	s.heldSpans = map[string]bool{}
	holdAfter := s.holdAfter()
	var mu sync.Mutex
	var failed, held int
	var firstErr error
	forEachBounded(len(mpls), s.traces.Runs.MaxConcurrency, func(int) bool { return true }, func(i int) {
		m := &mpls[i]
		traces[i].MPL = *m
		if s.wantsRuns(m) {
			runs, err := s.runsFor(ctx, m)
			if err != nil && !errors.Is(err, errRunsAbsent) {
				mu.Lock()
				hold := retryable(err) && m.LogEnd.After(holdAfter)
				if hold {
					s.heldSpans[m.MessageGuid] = true
					held++
				} else {
					failed++
					firstErr = cmpErr(firstErr, err)
				}
				mu.Unlock()
				if hold {
					return
				}
			}
			traces[i].Runs = runs
		}
		if m.Status == cpi.StatusFailed || m.Status == cpi.StatusEscalated {
			if text := mapping.FailingStepError(traces[i].Runs); text != "" {
				traces[i].ErrorText = text
			} else if d, err := s.errorText(ctx, &s.page, m); err == nil {
				traces[i].ErrorText = d.Text
			}
		}
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if failed > 0 {
		s.logger.Warn("Some runs could not be read; their message spans go out without run and step spans",
			zap.Int("failed", failed), zap.Error(firstErr))
	}
	if held > 0 {
		s.logger.Debug("Runs of some messages failed to read; their spans wait for the next poll", zap.Int("messages", held))
		out := traces[:0]
		for _, mt := range traces {
			if !s.heldSpans[mt.MPL.MessageGuid] {
				out = append(out, mt)
			}
		}
		traces = out
	}
	if err := s.out.consumeTraces(ctx, formatOData, s.mapper.Traces(traces), "message spans"); err != nil {
		return err
	}
	s.tel.recordFailedSteps(traces)
	return nil
}

// retryable: a failure that reading again may cure (5xx, 429, timeouts, cut-off bodies, a login page).
// holdAfter is how young a message state must be for what failed to read about it (runs, payloads) for
// a transient reason to wait for the next read of the state: within half the overlap, the next poll reads
// it again. An older one goes out without.
func (s *messageSource) holdAfter() time.Time {
	return s.now().Add(-s.cfg.SettleDelay - s.cfg.Overlap/2)
}

func retryable(err error) bool {
	switch httpapi.KindOf(err) {
	case httpapi.KindTransport, httpapi.KindServer, httpapi.KindThrottled, httpapi.KindBadResponse, httpapi.KindLoginPage, httpapi.KindUnauthorized:
		return true
	}
	return false
}

func cmpErr(first, err error) error {
	if first == nil {
		return err
	}
	return first
}
