package sapcpireceiver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/sapcpi-otel/sapcpireceiver/internal/checkpoint"
	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/mapping"
)

// MessagesConfig configures the incremental read of MessageProcessingLogs by LogEnd.
type MessagesConfig struct {
	Enabled      bool `mapstructure:"enabled"`
	WindowConfig `mapstructure:",squash"`
	// PageSize is $top per request (1..1000; CPI pages at 1000).
	PageSize int `mapstructure:"page_size"`

	IncludeIFlows   []string `mapstructure:"include_iflows"`
	ExcludeIFlows   []string `mapstructure:"exclude_iflows"`
	IncludeStatuses []string `mapstructure:"include_statuses"`
	ExcludeStatuses []string `mapstructure:"exclude_statuses"`

	ErrorDetails           ErrorDetailsConfig  `mapstructure:"error_details"`
	CustomHeaderProperties CustomHeadersConfig `mapstructure:"custom_header_properties"`
	// Payloads reads the message store and attachments of allow-listed messages (off by default).
	Payloads PayloadsConfig `mapstructure:"payloads"`
}

// ErrorDetailsConfig controls fetching ErrorInformation/$value for messages in error.
type ErrorDetailsConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// Statuses whose error text is fetched; DISCARDED has none, and asking for it only loads the tenant.
	Statuses []string `mapstructure:"statuses"`
	// MaxConcurrency bounds the parallel requests per page.
	MaxConcurrency int `mapstructure:"max_concurrency"`
	// MaxSize caps the text in bytes; a longer text is cut and marked truncated.
	MaxSize int `mapstructure:"max_size"`
	// FromRunSteps takes the text from the failing run step when the message's runs are read for its
	// trace anyway, instead of one more ErrorInformation/$value request.
	FromRunSteps bool `mapstructure:"from_run_steps"`
}

// CustomHeadersConfig controls the opt-in custom header properties.
type CustomHeadersConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// Include is the allow-list of header names; "*" allows every name.
	Include []string `mapstructure:"include"`
}

// mplRetention is how long a tenant keeps MPLs: the furthest back a read can go.
const mplRetention = 30 * 24 * time.Hour

func defaultMessagesConfig() MessagesConfig {
	return MessagesConfig{
		Enabled: true,
		WindowConfig: WindowConfig{
			PollInterval: time.Minute, SettleDelay: time.Minute, Overlap: 2 * time.Minute, InitialLookback: time.Hour,
		},
		PageSize: 1000,
		ErrorDetails: ErrorDetailsConfig{
			Enabled:        true,
			Statuses:       []string{cpi.StatusFailed, cpi.StatusEscalated, cpi.StatusRetry},
			MaxConcurrency: 4,
			MaxSize:        8 << 10,
			FromRunSteps:   true,
		},
		Payloads: defaultPayloadsConfig(),
	}
}

// Validate checks the section; the collector prefixes the errors with "messages".
func (m *MessagesConfig) Validate() error {
	if !m.Enabled {
		return nil
	}
	errs := m.WindowConfig.validate(mplRetention, "the 30-day MPL retention")
	if m.PageSize < 1 || m.PageSize > 1000 {
		errs = append(errs, fmt.Errorf("page_size: must be between 1 and 1000 (CPI pages at 1000), got %d", m.PageSize))
	}
	errs = append(errs, checkStatuses("include_statuses", m.IncludeStatuses)...)
	errs = append(errs, checkStatuses("exclude_statuses", m.ExcludeStatuses)...)
	errs = append(errs, checkStatuses("error_details.statuses", m.ErrorDetails.Statuses)...)
	if len(m.IncludeIFlows) > 0 && len(m.ExcludeIFlows) > 0 {
		errs = append(errs, errors.New("include_iflows and exclude_iflows cannot both be set"))
	}
	if len(m.IncludeStatuses) > 0 && len(m.ExcludeStatuses) > 0 {
		errs = append(errs, errors.New("include_statuses and exclude_statuses cannot both be set"))
	}
	if d := m.ErrorDetails; d.Enabled {
		if d.MaxConcurrency < 1 || d.MaxConcurrency > 16 {
			errs = append(errs, fmt.Errorf("error_details.max_concurrency: must be between 1 and 16, got %d", d.MaxConcurrency))
		}
		if d.MaxSize < 64 {
			errs = append(errs, fmt.Errorf("error_details.max_size: must be at least 64 bytes, got %d", d.MaxSize))
		}
	}
	if h := m.CustomHeaderProperties; h.Enabled && len(h.Include) == 0 {
		errs = append(errs, errors.New("custom_header_properties.include: list the header names to emit (they can hold personal data), or [\"*\"] for all"))
	}
	errs = append(errs, m.Payloads.validate()...)
	return sectionErrors(errs)
}

func checkStatuses(field string, values []string) []error {
	var errs []error
	for _, s := range values {
		if !slices.Contains(cpi.KnownStatuses, s) {
			errs = append(errs, fmt.Errorf("%s: unknown status %q; use one of %s", field, s, strings.Join(cpi.KnownStatuses, ", ")))
		}
	}
	return errs
}

// customHeaderFilter returns the allow-list test, or nil when custom headers are off.
func (m *MessagesConfig) customHeaderFilter() func(string) bool {
	h := m.CustomHeaderProperties
	if !h.Enabled {
		return nil
	}
	if slices.Contains(h.Include, "*") {
		return func(string) bool { return true }
	}
	allowed := make(map[string]struct{}, len(h.Include))
	for _, n := range h.Include {
		allowed[n] = struct{}{}
	}
	return func(name string) bool {
		_, ok := allowed[name]
		return ok
	}
}

// messageClient is the part of the CPI client the message source needs.
type messageClient interface {
	MessageProcessingLogs(ctx context.Context, q cpi.MessageQuery) (cpi.Page[cpi.MessageProcessingLog], error)
	MessageErrorText(ctx context.Context, guid string, limit int) (string, bool, error)
	MessageRuns(ctx context.Context, guid string) ([]cpi.MessageProcessingLogRun, error)
	RunSteps(ctx context.Context, runID string, max int) ([]cpi.MessageProcessingLogRunStep, error)
}

const messagesCheckpointKey = "messages"

// Sinks of the message source.
const sinkRecords checkpoint.Sinks = 1 << 0 // log records and the metrics derived from them

// messageKey identifies one state of one MPL: a message yields one record per state it is seen in.
func messageKey(m *cpi.MessageProcessingLog) checkpoint.Key {
	return checkpoint.StateKey(m.MessageGuid, m.Status, m.LogEnd.Time)
}

// messageSource reads MessageProcessingLogs incrementally by LogEnd (see incremental for the paging,
// de-duplication and checkpoint rules) and delivers each MPL state once as a record, each final MPL
// once as a trace, and the payloads of allow-listed messages once.
type messageSource struct {
	*incremental[cpi.MessageProcessingLog]
	cfg      MessagesConfig
	traces   TracesConfig
	client   messageClient
	payloads payloadClient
	mapper   *mapping.Mapper
	out      *output

	// page is what the sinks of the page being delivered share; payloadBudget is left of this poll's.
	page          pageCache
	payloadBudget int
	// runsAbsentUntil is set when the tenant answered 404 for runs: they are not asked for until then.
	runsAbsentUntil atomic.Pointer[time.Time]
	// heldSpans and heldPayloads are the messages of the page being delivered whose spans or payloads
	// wait for another read: their runs or payloads failed to read for a transient reason.
	heldSpans, heldPayloads map[string]bool
}

func messageSources(e *sourceEnv) ([]source, error) {
	if !e.cfg.Messages.Enabled && !e.cfg.Push.Enabled {
		return nil, nil
	}
	s := newMessageSource(e.cfg.Messages, e.client, e.mapper, e.out, e.store, e.tel, e.logger("messages"), e.now)
	s.traces, s.payloads = e.cfg.Traces, e.client
	s.configureSinks()
	if e.cfg.Push.Enabled {
		// The push endpoint delivers through this source's window, so both paths share one key store.
		s.retain = e.cfg.Push.DedupWindow
		ps, err := newPushServer(e.cfg.Push, s, e)
		if err != nil {
			return nil, err
		}
		e.servers = append(e.servers, ps)
	}
	if !e.cfg.Messages.Enabled {
		return nil, nil
	}
	return []source{s}, nil
}

func newMessageSource(cfg MessagesConfig, client messageClient, mapper *mapping.Mapper, out *output,
	store *checkpoint.Store, tel *telemetry, logger *zap.Logger, now func() time.Time,
) *messageSource {
	s := &messageSource{cfg: cfg, traces: defaultTracesConfig(), client: client, mapper: mapper, out: out}
	s.incremental = &incremental[cpi.MessageProcessingLog]{
		label: "messages", key: messagesCheckpointKey,
		cfg: cfg.WindowConfig, pageSize: cfg.PageSize, every: cfg.PollInterval,
		read:  s.read,
		stamp: func(m *cpi.MessageProcessingLog) time.Time { return m.LogEnd.Time },
		store: store, tel: tel, logger: logger, now: now,
		window: checkpoint.NewWindow(),
	}
	s.configureSinks()
	return s
}

// configureSinks lists the consumers of the message stream: the records always (their metrics count
// even without a logs pipeline), the spans with a traces pipeline, the payloads when allow-listed.
func (s *messageSource) configureSinks() {
	sinks := []sink[cpi.MessageProcessingLog]{{bits: sinkRecords, key: messageKey, deliver: s.deliverRecords}}
	if s.out.traces != nil {
		sinks = append(sinks, sink[cpi.MessageProcessingLog]{bits: sinkSpans, key: spanKey, want: s.wantsSpan, deliver: s.deliverSpans,
			delivered: func(m *cpi.MessageProcessingLog) bool { return !s.heldSpans[m.MessageGuid] }})
	}
	if s.cfg.Payloads.Enabled && s.payloads != nil && s.out.logs != nil {
		sinks = append(sinks, sink[cpi.MessageProcessingLog]{bits: sinkPayloads,
			key:  func(m *cpi.MessageProcessingLog) checkpoint.Key { return checkpoint.KeyOf("payload", m.MessageGuid) },
			want: s.wantsPayloads, deliver: s.deliverPayloads,
			delivered: func(m *cpi.MessageProcessingLog) bool { return !s.heldPayloads[m.MessageGuid] }})
	}
	s.sinks = sinks
}

func (s *messageSource) poll(ctx context.Context) error {
	s.payloadBudget = s.cfg.Payloads.MaxPerPoll
	return s.incremental.poll(ctx)
}

func (s *messageSource) read(ctx context.Context, from, until time.Time, top, skip int) ([]cpi.MessageProcessingLog, bool, error) {
	s.page.reset()
	page, err := s.client.MessageProcessingLogs(ctx, cpi.MessageQuery{
		From: from, Until: until,
		IFlows: s.cfg.IncludeIFlows, ExcludeIFlows: s.cfg.ExcludeIFlows,
		Statuses: s.cfg.IncludeStatuses, ExcludeStatuses: s.cfg.ExcludeStatuses,
		Top: top, Skip: skip,
		CustomHeaders: s.cfg.CustomHeaderProperties.Enabled || (s.out.traces != nil && s.traces.TraceparentFromHeaders),
	})
	return page.Results, page.Next != "", err
}

// deliverRecords enriches, maps and hands one page's new MPL states to the logs pipeline; only once it
// accepted are they counted in the metrics.
func (s *messageSource) deliverRecords(ctx context.Context, mpls []cpi.MessageProcessingLog) error {
	if s.out.logs != nil && s.mapper.Enabled(mapping.EventMessage) {
		details, err := s.errorDetails(ctx, &s.page, mpls)
		if err != nil {
			return err
		}
		if err := s.out.consumeLogs(ctx, formatOData, s.mapper.Messages(mpls, details, s.now()), "message records"); err != nil {
			return err
		}
	}
	s.tel.recordMessages(mpls)
	return nil
}

// errorDetails fetches the error text of the messages whose status asks for it, a few at a time. A text
// that cannot be fetched is logged and left out: the record itself is not held back for it.
func (s *messageSource) errorDetails(ctx context.Context, cache *pageCache, mpls []cpi.MessageProcessingLog) ([]mapping.ErrorDetail, error) {
	d := s.cfg.ErrorDetails
	if !d.Enabled {
		return nil, nil
	}
	details := make([]mapping.ErrorDetail, len(mpls))
	var mu sync.Mutex
	var failures int
	var firstErr error
	forEachBounded(len(mpls), d.MaxConcurrency, func(i int) bool {
		return slices.Contains(d.Statuses, mpls[i].Status)
	}, func(i int) {
		detail, err := s.errorText(ctx, cache, &mpls[i])
		if err != nil {
			mu.Lock()
			failures++
			if firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
			return
		}
		details[i] = detail
	})
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if failures > 0 {
		s.logger.Warn("Some error texts could not be fetched; their records go out without error_text",
			zap.Int("failed", failures), zap.Error(firstErr))
	}
	return details, nil
}

// forEachBounded runs fn for the indexes below n that want selects, at most limit at a time.
func forEachBounded(n, limit int, want func(int) bool, fn func(int)) {
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		if !want(i) {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(i)
		})
	}
	wg.Wait()
}
