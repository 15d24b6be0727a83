package sapcpireceiver

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/sapcpi-otel/sapcpireceiver/internal/checkpoint"
	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/mapping"
	"github.com/sapcpi-otel/sapcpireceiver/internal/metadata"
)

// OperationsConfig configures the tenant's operational state: one source per API, each on its own
// interval and under its API group's rate limit. What MonitoringDataRead reads is on by default; the
// sources that need another role are opt-in, so that a key with the minimum role starts without
// warnings (README, "Operational state").
type OperationsConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// DataStores needs DataStoresAndQueuesRead.
	DataStores   DataStoresConfig       `mapstructure:"data_stores"`
	NumberRanges OperationsSourceConfig `mapstructure:"number_ranges"`
	// ResourceUsage reads the Inspect API hour by hour.
	ResourceUsage ResourceUsageConfig    `mapstructure:"resource_usage"`
	Archiving     OperationsSourceConfig `mapstructure:"archiving"`
	// ExternalLogging needs ExternalLoggingActivationRead (Cloud Foundry only).
	ExternalLogging OperationsSourceConfig `mapstructure:"external_logging"`
	// Queues needs DataStoresAndQueuesRead; not every tenant offers the set.
	Queues OperationsSourceConfig `mapstructure:"queues"`
	// CertificateUserMappings exist on Neo only; a Cloud Foundry tenant answers 404 once.
	CertificateUserMappings OperationsSourceConfig `mapstructure:"certificate_user_mappings"`
	// AccessPolicies needs AccessPoliciesRead.
	AccessPolicies OperationsSourceConfig `mapstructure:"access_policies"`
}

// OperationsSourceConfig switches one operational source and sets its interval.
type OperationsSourceConfig struct {
	Enabled  bool          `mapstructure:"enabled"`
	Interval time.Duration `mapstructure:"interval"`
}

// DataStoresConfig adds what the data-store source reads besides the stores themselves.
type DataStoresConfig struct {
	OperationsSourceConfig `mapstructure:",squash"`
	// Entries reads the entries of a store when it becomes overdue, for the overdue message ids and the
	// earliest due date on its event: one call per store and transition, not per poll.
	Entries bool `mapstructure:"entries"`
	// OverdueOnly asks the tenant for the stores with overdue entries only (overdueonly=true): cheaper on
	// a tenant with very many stores, but the gauges then cover only those.
	OverdueOnly bool `mapstructure:"overdue_only"`
}

// ResourceUsageConfig is how the hourly Inspect figures are read: each closed hour once.
type ResourceUsageConfig struct {
	OperationsSourceConfig `mapstructure:",squash"`
	// CloseDelay is how long after an hour's end it is read, so that the tenant has aggregated it.
	CloseDelay time.Duration `mapstructure:"close_delay"`
	// InitialLookback is how many hours the very first poll reads.
	InitialLookback time.Duration `mapstructure:"initial_lookback"`
	// MaxCatchUp bounds how far back a poll reads after an outage; older hours are skipped with a warning.
	MaxCatchUp time.Duration `mapstructure:"max_catch_up"`
	// Types are the resource types to read (cpi.ResourceUsageTypes).
	Types []string `mapstructure:"types"`
}

func defaultOperationsConfig() OperationsConfig {
	return OperationsConfig{
		Enabled: true,
		DataStores: DataStoresConfig{
			OperationsSourceConfig: OperationsSourceConfig{Enabled: false, Interval: 15 * time.Minute},
			Entries:                true,
		},
		NumberRanges: OperationsSourceConfig{Enabled: true, Interval: time.Hour},
		ResourceUsage: ResourceUsageConfig{
			OperationsSourceConfig: OperationsSourceConfig{Enabled: true, Interval: 15 * time.Minute},
			CloseDelay:             10 * time.Minute, InitialLookback: 24 * time.Hour, MaxCatchUp: 7 * 24 * time.Hour,
			Types: slices.Clone(cpi.ResourceUsageTypes),
		},
		Archiving:               OperationsSourceConfig{Enabled: true, Interval: time.Hour},
		ExternalLogging:         OperationsSourceConfig{Enabled: false, Interval: 5 * time.Minute},
		Queues:                  OperationsSourceConfig{Enabled: false, Interval: 5 * time.Minute},
		CertificateUserMappings: OperationsSourceConfig{Enabled: true, Interval: time.Hour},
		AccessPolicies:          OperationsSourceConfig{Enabled: false, Interval: time.Hour},
	}
}

// minOperationsInterval keeps a misconfigured interval from hammering APIs whose data changes slowly.
const minOperationsInterval = 10 * time.Second

// Validate checks the section; the collector prefixes the errors with "operations".
func (c *OperationsConfig) Validate() error {
	if !c.Enabled {
		return nil
	}
	var errs []error
	for _, s := range []struct {
		name string
		cfg  OperationsSourceConfig
	}{
		{"data_stores", c.DataStores.OperationsSourceConfig}, {"number_ranges", c.NumberRanges}, {"archiving", c.Archiving},
		{"external_logging", c.ExternalLogging}, {"queues", c.Queues}, {"certificate_user_mappings", c.CertificateUserMappings},
		{"access_policies", c.AccessPolicies},
	} {
		if s.cfg.Enabled && s.cfg.Interval < minOperationsInterval {
			errs = append(errs, fmt.Errorf("%s.interval: must be at least %s, got %s", s.name, minOperationsInterval, s.cfg.Interval))
		}
	}
	if r := c.ResourceUsage; r.Enabled {
		if r.Interval < time.Minute {
			errs = append(errs, fmt.Errorf("resource_usage.interval: must be at least 1m (the figures are hourly), got %s", r.Interval))
		}
		if r.CloseDelay < 0 {
			errs = append(errs, fmt.Errorf("resource_usage.close_delay: must not be negative, got %s", r.CloseDelay))
		}
		if r.MaxCatchUp < time.Hour {
			errs = append(errs, fmt.Errorf("resource_usage.max_catch_up: must be at least 1h, got %s", r.MaxCatchUp))
		}
		if r.InitialLookback < time.Hour || r.InitialLookback > r.MaxCatchUp {
			errs = append(errs, fmt.Errorf("resource_usage.initial_lookback: must be at least 1h and at most max_catch_up (%s), got %s", shortDuration(r.MaxCatchUp), r.InitialLookback))
		}
		if len(r.Types) == 0 {
			errs = append(errs, fmt.Errorf("resource_usage.types: list at least one of %s", strings.Join(cpi.ResourceUsageTypes, ", ")))
		}
		for _, t := range r.Types {
			if !slices.Contains(cpi.ResourceUsageTypes, t) {
				errs = append(errs, fmt.Errorf("resource_usage.types: unknown type %q; use %s", t, strings.Join(cpi.ResourceUsageTypes, ", ")))
			}
		}
	}
	return sectionErrors(errs)
}

// operationsClient is the part of the CPI client the operational sources need.
type operationsClient interface {
	DataStores(ctx context.Context, overdueOnly bool) ([]cpi.DataStore, error)
	DataStoreEntries(ctx context.Context, store cpi.DataStore) ([]cpi.DataStoreEntry, error)
	NumberRanges(ctx context.Context) ([]cpi.NumberRange, error)
	ResourceUsage(ctx context.Context, typ string, from, to time.Time) (cpi.ResourceUsage, error)
	ArchivingRuns(ctx context.Context) ([]cpi.ArchivingKeyPerformanceIndicators, error)
	ExternalLoggingActivation(ctx context.Context) (cpi.ExternalLoggingActivationStatus, error)
	ExternalLoggingEvents(ctx context.Context) ([]cpi.ExternalLoggingEvent, error)
	Queues(ctx context.Context) ([]cpi.Queue, error)
	CertificateUserMappings(ctx context.Context) ([]cpi.CertificateUserMapping, error)
	AccessPolicies(ctx context.Context) ([]cpi.AccessPolicy, error)
}

const opsPrefix = "operations/"

func operationsSources(e *sourceEnv) ([]source, error) {
	return buildOperationsSources(e, e.client), nil
}

// buildOperationsSources builds the enabled sources over one client; their gauges go to the
// telemetry's operations cache.
func buildOperationsSources(e *sourceEnv, client operationsClient) []source {
	c := e.cfg.Operations
	if !c.Enabled {
		return nil
	}
	cache := e.tel.operations
	var out, skipped []source
	// Sources whose only product is gauges (or, for resource usage, metric points) are pointless without
	// a metrics pipeline; the event sources feed logs and keep their gauges for a metrics pipeline too.
	metricsOnly := func(s source) {
		if e.out.metrics == nil {
			skipped = append(skipped, s)
			return
		}
		out = append(out, s)
	}
	if c.DataStores.Enabled {
		out = append(out, newDataStoreSource(c.DataStores, client, e))
	}
	if c.NumberRanges.Enabled {
		metricsOnly(newNumberRangeSource(c.NumberRanges, client, e))
	}
	if c.ResourceUsage.Enabled {
		metricsOnly(newResourceUsageSource(c.ResourceUsage, client, e))
	}
	if c.Archiving.Enabled {
		out = append(out, newArchivingSource(c.Archiving, client, e))
	}
	if c.ExternalLogging.Enabled {
		out = append(out, newExternalLoggingSource(c.ExternalLogging, client, e))
	}
	if c.Queues.Enabled {
		metricsOnly(&opSource{label: opsPrefix + "queues", every: c.Queues.Interval, pollFn: func(ctx context.Context) error {
			queues, err := client.Queues(ctx)
			if err != nil {
				return err
			}
			cache.setQueues(queues)
			return nil
		}})
	}
	if c.CertificateUserMappings.Enabled {
		warn := e.cfg.Inventory.ExpiryWarning
		metricsOnly(&opSource{label: opsPrefix + "certificate_user_mappings", every: c.CertificateUserMappings.Interval, pollFn: func(ctx context.Context) error {
			mappings, err := client.CertificateUserMappings(ctx)
			if err != nil {
				return err
			}
			cache.setCertificateUserMappings(mappings, warn)
			return nil
		}})
	}
	if c.AccessPolicies.Enabled {
		out = append(out, newAccessPolicySource(c.AccessPolicies, client, e))
	}
	if len(skipped) > 0 {
		names := make([]string, len(skipped))
		for i, s := range skipped {
			names[i] = s.name()
		}
		e.set.Logger.Info("This receiver is in no metrics pipeline: the operational sources that only give metrics are not read", zap.Strings("sources", names))
	}
	return out
}

// opSource is a source whose state needs no checkpoint: each poll reads the whole set again and
// replaces the gauges' state.
type opSource struct {
	label  string
	every  time.Duration
	pollFn func(ctx context.Context) error
}

func (s *opSource) name() string                   { return s.label }
func (s *opSource) interval() time.Duration        { return s.every }
func (s *opSource) load(context.Context) error     { return nil }
func (s *opSource) poll(ctx context.Context) error { return s.pollFn(ctx) }

// ---- Data stores

// dataStoreSource reads the data stores and emits an event when a store's overdue count leaves or
// returns to 0. The counts it last delivered are its checkpoint: a restart compares with them, so it
// neither repeats a transition nor misses one that happened while it was down.
type dataStoreSource struct {
	cfg    DataStoresConfig
	client operationsClient
	mapper *mapping.Mapper
	out    *output
	store  *checkpoint.Store
	cache  *operationsCache
	logger *zap.Logger
	now    func() time.Time

	// prev is the state last delivered (nil before the first delivery without a checkpoint).
	prev    []cpi.DataStore
	lastErr string // of the entries read, logged once
}

// dataStoreState is the checkpoint: the stores with their counts as last delivered.
type dataStoreState struct {
	Stores []dataStoreRow `json:"stores"`
}

type dataStoreRow struct {
	Name       string `json:"name"`
	Flow       string `json:"flow,omitempty"`
	Type       string `json:"type,omitempty"`
	Visibility string `json:"visibility,omitempty"`
	Entries    int64  `json:"entries"`
	Overdue    int64  `json:"overdue"`
}

func newDataStoreSource(c DataStoresConfig, client operationsClient, e *sourceEnv) *dataStoreSource {
	return &dataStoreSource{cfg: c, client: client, mapper: e.mapper, out: e.out, store: e.store, cache: e.tel.operations,
		logger: e.logger(opsPrefix + "data_stores"), now: e.now}
}

func (s *dataStoreSource) name() string            { return opsPrefix + "data_stores" }
func (s *dataStoreSource) interval() time.Duration { return s.cfg.Interval }

func (s *dataStoreSource) load(ctx context.Context) error {
	var st dataStoreState
	if _, err := s.store.Load(ctx, s.name(), &st); err != nil {
		return err
	}
	s.prev = nil
	for _, r := range st.Stores {
		s.prev = append(s.prev, cpi.DataStore{DataStoreName: r.Name, IntegrationFlow: r.Flow, Type: r.Type, Visibility: r.Visibility,
			NumberOfMessages: cpi.Int64(r.Entries), NumberOfOverdueMessages: cpi.Int64(r.Overdue)})
	}
	return nil
}

func (s *dataStoreSource) poll(ctx context.Context) error {
	stores, err := s.client.DataStores(ctx, s.cfg.OverdueOnly)
	if err != nil {
		return err
	}
	// Without a checkpoint every store counts as having had no overdue entries: a store that is overdue
	// at the first start is reported.
	transitions := mapping.DataStoreTransitions(s.prev, stores)
	if s.cfg.Entries {
		for i := range transitions {
			if !transitions[i].Overdue {
				continue
			}
			entries, err := s.client.DataStoreEntries(ctx, transitions[i].Store)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				// The event matters more than its details: it goes out without them.
				if msg := err.Error(); msg != s.lastErr {
					s.logger.Warn("Cannot read the entries of an overdue data store; its event goes out without the overdue message ids",
						zap.String("data_store", transitions[i].Store.DataStoreName), zap.Error(err))
					s.lastErr = msg
				}
				continue
			}
			s.lastErr = ""
			transitions[i].Entries = entries
		}
	}
	if err := s.out.consumeLogs(ctx, formatOData, s.mapper.DataStoreEvents(transitions, s.now()), "data store overdue records"); err != nil {
		return err
	}
	st := dataStoreState{Stores: make([]dataStoreRow, 0, len(stores))}
	for _, d := range stores {
		st.Stores = append(st.Stores, dataStoreRow{Name: d.DataStoreName, Flow: d.IntegrationFlow, Type: d.Type, Visibility: d.Visibility,
			Entries: int64(d.NumberOfMessages), Overdue: int64(d.NumberOfOverdueMessages)})
	}
	if err := s.store.Save(ctx, s.name(), st); err != nil {
		return err
	}
	s.prev = stores
	s.cache.setDataStores(stores)
	return nil
}

// ---- Number ranges

// newNumberRangeSource reads the number ranges for the usage gauge. A range without a usage figure
// (never drawn from, or figures that are no numbers) is reported once per reason, not on every poll.
func newNumberRangeSource(c OperationsSourceConfig, client operationsClient, e *sourceEnv) *opSource {
	logger := e.logger(opsPrefix + "number_ranges")
	cache := e.tel.operations
	reported := map[string]string{}
	return &opSource{label: opsPrefix + "number_ranges", every: c.Interval, pollFn: func(ctx context.Context) error {
		ranges, err := client.NumberRanges(ctx)
		if err != nil {
			return err
		}
		next := map[string]string{}
		for _, r := range ranges {
			if _, _, err := mapping.NumberRangeUsage(r); err != nil {
				reason := err.Error()
				if reported[r.Name] != reason {
					logger.Info("Number range left out of sapcpi.number_range.usage", zap.String("number_range", r.Name), zap.String("reason", reason))
				}
				next[r.Name] = reason
			}
		}
		reported = next
		cache.setNumberRanges(ranges)
		return nil
	}}
}

// ---- Resource usage

// resourceUsageSource reads the Inspect figures one closed hour and type at a time, each bucket once
// (key <type>@<hour>); the watermark is the end of the last hour read, committed after the metrics
// pipeline accepted its points.
// resourceUsageLateGrace is how long after close_delay an hour for which no type has a figure is asked
// for again before it counts as empty: a tenant may aggregate an hour late. (The lag it adds stays below
// the three hours at which the example alert calls the source stuck.)
const resourceUsageLateGrace = 30 * time.Minute

type resourceUsageSource struct {
	*windowed[mapping.ResourceUsageBucket]
}

func newResourceUsageSource(c ResourceUsageConfig, client operationsClient, e *sourceEnv) resourceUsageSource {
	name := opsPrefix + "resource_usage"
	mb := metadata.NewMetricsBuilder(e.cfg.MetricsBuilderConfig, e.set)
	types := slices.Clone(c.Types)
	return resourceUsageSource{&windowed[mapping.ResourceUsageBucket]{
		label: name, key: name, every: c.Interval,
		align: time.Hour, settle: c.CloseDelay, step: time.Hour,
		lookback: c.InitialLookback, maxCatchUp: c.MaxCatchUp,
		read: func(ctx context.Context, from, to time.Time, page func([]mapping.ResourceUsageBucket) error) error {
			buckets := make([]mapping.ResourceUsageBucket, 0, len(types))
			for _, typ := range types {
				u, err := client.ResourceUsage(ctx, typ, from, to)
				if err != nil {
					return err
				}
				if b := mapping.ResourceUsageBucketOf(u); !b.Empty() {
					buckets = append(buckets, b)
				}
			}
			if len(buckets) == 0 && e.now().Before(to.Add(c.CloseDelay+resourceUsageLateGrace)) {
				// No type has a figure for the hour: the tenant may not have aggregated it yet.
				return errRangeNotReady
			}
			// One page per type: a failure on a later type repeats none that was delivered.
			for i := range buckets {
				if err := page(buckets[i : i+1]); err != nil {
					return err
				}
			}
			return nil
		},
		id:    func(b *mapping.ResourceUsageBucket) checkpoint.Key { return checkpoint.KeyOf(b.Key) },
		stamp: func(b *mapping.ResourceUsageBucket) time.Time { return b.Hour },
		deliver: func(ctx context.Context, buckets []mapping.ResourceUsageBucket) error {
			for i := range buckets {
				mapping.RecordResourceUsage(mb, buckets[i])
			}
			md := mb.Emit(metadata.WithResource(mapping.TenantResource(mb, e.mapper.Tenant)))
			return e.out.consumeMetrics(ctx, formatOData, md, "resource-usage buckets")
		},
		store: e.store, tel: e.tel, logger: e.logger(name), now: e.now,
		window: checkpoint.NewWindow(),
	}}
}

func (s resourceUsageSource) poll(ctx context.Context) error {
	err := s.windowed.poll(ctx)
	if err != nil && s.window.Watermark.IsZero() {
		switch httpapi.KindOf(err) {
		case httpapi.KindNotFound, httpapi.KindForbidden:
			// A source that never worked starts afresh once it does (the role added, the API offered):
			// from initial_lookback then, not from the first failed attempt, which may be days back.
			s.firstFrom = time.Time{}
		}
	}
	return err
}

// ---- Event sets: archiving runs and External Logging events

// eventSet reads a small entity set the tenant keeps whole for a while and hands on each entity once.
// Its checkpoint is a window of the keys delivered; a key joins it only after the next consumer
// accepted the records, and leaves it once the tenant can no longer return the entity.
type eventSet[T any] struct {
	label string
	every time.Duration
	// read returns the whole set, and what to do once it is delivered (update the gauges).
	read  func(ctx context.Context) ([]T, func(), error)
	key   func(*T) string
	stamp func(*T) time.Time
	logs  func(fresh []T, observed time.Time) plog.Logs
	what  string
	// keepFrom is the oldest stamp whose key must be kept; zero keeps every key.
	keepFrom func(all []T, now time.Time) time.Time

	out    *output
	store  *checkpoint.Store
	logger *zap.Logger
	now    func() time.Time

	window     *checkpoint.Window
	warnedZero bool
}

func (s *eventSet[T]) name() string            { return s.label }
func (s *eventSet[T]) interval() time.Duration { return s.every }

func (s *eventSet[T]) load(ctx context.Context) error {
	w, _, err := s.store.LoadWindow(ctx, s.label)
	if err != nil {
		return err
	}
	s.window = w
	return nil
}

func (s *eventSet[T]) poll(ctx context.Context) error {
	all, delivered, err := s.read(ctx)
	if err != nil {
		return err
	}
	fresh := make([]T, 0, len(all))
	inAnswer := make(map[checkpoint.Key]bool, len(all))
	for i := range all {
		if s.stamp(&all[i]).IsZero() {
			// Without its key the entity cannot be delivered once; say so rather than repeat it.
			if !s.warnedZero {
				s.logger.Warn("Entries without a timestamp (their key) are left out")
				s.warnedZero = true
			}
			continue
		}
		k := checkpoint.KeyOf(s.key(&all[i]))
		if inAnswer[k] || s.window.Has(k, checkpoint.AllSinks) {
			continue
		}
		inAnswer[k] = true
		fresh = append(fresh, all[i])
	}
	sort.SliceStable(fresh, func(i, j int) bool { return s.stamp(&fresh[i]).Before(s.stamp(&fresh[j])) })
	if len(fresh) > 0 {
		if err := s.out.consumeLogs(ctx, formatOData, s.logs(fresh, s.now()), s.what); err != nil {
			return err
		}
		for i := range fresh {
			ts := s.stamp(&fresh[i])
			s.window.Add(checkpoint.KeyOf(s.key(&fresh[i])), ts, checkpoint.AllSinks)
			s.window.Advance(ts)
		}
	}
	if limit := s.keepFrom(all, s.now()); !limit.IsZero() {
		s.window.PruneBefore(limit)
	}
	if err := s.store.SaveWindow(ctx, s.label, s.window); err != nil {
		return err
	}
	if delivered != nil {
		delivered()
	}
	return nil
}

// newArchivingSource emits each state of an archiving run once (key RunStart and RunStatus). The tenant
// lists the runs it keeps; a run older than the oldest it lists cannot come back, so its key is forgotten.
func newArchivingSource(c OperationsSourceConfig, client operationsClient, e *sourceEnv) *eventSet[cpi.ArchivingKeyPerformanceIndicators] {
	name := opsPrefix + "archiving"
	cache := e.tel.operations
	stamp := func(r *cpi.ArchivingKeyPerformanceIndicators) time.Time { return r.RunStart.Time }
	return &eventSet[cpi.ArchivingKeyPerformanceIndicators]{
		label: name, every: c.Interval, what: "archiving run records",
		read: func(ctx context.Context) ([]cpi.ArchivingKeyPerformanceIndicators, func(), error) {
			runs, err := client.ArchivingRuns(ctx)
			return runs, func() { cache.setArchivingRuns(runs) }, err
		},
		key:   func(r *cpi.ArchivingKeyPerformanceIndicators) string { return mapping.ArchivingRunKey(*r) },
		stamp: stamp,
		logs:  e.mapper.ArchivingRuns,
		keepFrom: func(runs []cpi.ArchivingKeyPerformanceIndicators, _ time.Time) time.Time {
			var oldest time.Time
			for i := range runs {
				if t := stamp(&runs[i]); !t.IsZero() && (oldest.IsZero() || t.Before(oldest)) {
					oldest = t
				}
			}
			return oldest
		},
		out: e.out, store: e.store, logger: e.logger(name), now: e.now,
		window: checkpoint.NewWindow(),
	}
}

// externalLoggingRetention is how long the tenant keeps External Logging events; a day is added so
// that no clock difference makes a key be forgotten while the tenant still returns its event.
const externalLoggingRetention = 14 * 24 * time.Hour

// newExternalLoggingSource reads whether SAP's External Logging push is active and emits each of its
// events once (key Timestamp).
func newExternalLoggingSource(c OperationsSourceConfig, client operationsClient, e *sourceEnv) *eventSet[cpi.ExternalLoggingEvent] {
	name := opsPrefix + "external_logging"
	cache := e.tel.operations
	return &eventSet[cpi.ExternalLoggingEvent]{
		label: name, every: c.Interval, what: "External Logging records",
		read: func(ctx context.Context) ([]cpi.ExternalLoggingEvent, func(), error) {
			active, err := client.ExternalLoggingActivation(ctx)
			if err != nil {
				return nil, nil, err
			}
			events, err := client.ExternalLoggingEvents(ctx)
			return events, func() { cache.setExternalLogging(active, events) }, err
		},
		key:   func(ev *cpi.ExternalLoggingEvent) string { return mapping.ExternalLoggingEventKey(*ev) },
		stamp: func(ev *cpi.ExternalLoggingEvent) time.Time { return ev.Timestamp.Time },
		logs:  e.mapper.ExternalLoggingEvents,
		keepFrom: func(_ []cpi.ExternalLoggingEvent, now time.Time) time.Time {
			return now.Add(-externalLoggingRetention - 24*time.Hour)
		},
		out: e.out, store: e.store, logger: e.logger(name), now: e.now,
		window: checkpoint.NewWindow(),
	}
}

// ---- Access policies

// accessPolicySource counts the access policies and warns when there are any: the messages of the
// artifacts they protect are invisible to a key without access to them. The warning is logged once,
// and again only when it changes (a policy added or removed).
type accessPolicySource struct {
	every  time.Duration
	client operationsClient
	cache  *operationsCache
	logger *zap.Logger

	warning string
	read    bool
}

func newAccessPolicySource(c OperationsSourceConfig, client operationsClient, e *sourceEnv) *accessPolicySource {
	return &accessPolicySource{every: c.Interval, client: client, cache: e.tel.operations, logger: e.logger(opsPrefix + "access_policies")}
}

func (s *accessPolicySource) name() string               { return opsPrefix + "access_policies" }
func (s *accessPolicySource) interval() time.Duration    { return s.every }
func (s *accessPolicySource) load(context.Context) error { return nil }

func (s *accessPolicySource) poll(ctx context.Context) error {
	policies, err := s.client.AccessPolicies(ctx)
	if err != nil {
		return err
	}
	exists, warning := mapping.AccessPolicyWarning(policies)
	if warning != s.warning {
		switch {
		case exists:
			s.logger.Warn("Access policies exist: messages of the artifacts they protect may be missing", zap.String("detail", warning))
		case s.read:
			s.logger.Info("No access policies exist any more")
		}
		s.warning = warning
	}
	s.read = true
	s.cache.setAccessPolicies(policies)
	return nil
}
