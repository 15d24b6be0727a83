package sapcpireceiver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"

	"github.com/sapcpi-otel/sapcpireceiver/internal/checkpoint"
	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/k8sstore"
	"github.com/sapcpi-otel/sapcpireceiver/internal/mapping"
	"github.com/sapcpi-otel/sapcpireceiver/internal/metadata"
)

// tenant is the state shared by the logs, metrics and traces receivers of one configured receiver: one
// client, one storage client, one set of pollers. The collector creates the signals separately; whichever
// starts first starts the tenant, the last to shut down stops it.
type tenant struct {
	cfg       *Config
	set       receiver.Settings
	telemetry *telemetry
	inventory *inventoryCache
	// clock replaces time.Now in tests.
	clock func() time.Time

	mu      sync.Mutex
	out     output
	refs    int
	started bool
	storage storage.Client
	cancel  context.CancelFunc
	servers []server

	// jobsMu guards stopPollers; the election starts and stops pollers from its own goroutine.
	jobsMu       sync.Mutex
	stopPollers  context.CancelFunc
	wg           sync.WaitGroup
	stopElection context.CancelFunc
	// holdsLease, with leader election, reports whether this pod still holds the tenant's Lease.
	holdsLease func(context.Context) bool
	election   sync.WaitGroup
}

// registry maps a receiver's *Config to its tenant; the collector hands every signal the same pointer.
type registry struct {
	mu sync.Mutex
	m  map[*Config]*tenant
}

var tenants = &registry{m: map[*Config]*tenant{}}

func (r *registry) acquire(cfg *Config, set receiver.Settings) *tenant {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.m[cfg]
	if !ok {
		t = &tenant{cfg: cfg, set: set, telemetry: newTelemetry(), inventory: &inventoryCache{}}
		t.telemetry.inventory, t.telemetry.expiryWarning = t.inventory, cfg.Inventory.ExpiryWarning
		r.m[cfg] = t
	}
	t.refs++
	return t
}

// release drops one reference; the last one stops the tenant and forgets it.
func (r *registry) release(ctx context.Context, cfg *Config, t *tenant) error {
	r.mu.Lock()
	t.refs--
	last := t.refs <= 0
	if last && r.m[cfg] == t {
		delete(r.m, cfg)
	}
	r.mu.Unlock()
	if !last {
		return nil
	}
	return t.stop(ctx)
}

func (t *tenant) setLogs(next consumer.Logs) {
	t.mu.Lock()
	t.out.logs = next
	t.mu.Unlock()
}

func (t *tenant) setMetrics(next consumer.Metrics) {
	t.mu.Lock()
	t.out.metrics = next
	t.mu.Unlock()
}

func (t *tenant) setTraces(next consumer.Traces) {
	t.mu.Lock()
	t.out.traces = next
	t.mu.Unlock()
}

func (t *tenant) now() time.Time {
	if t.clock != nil {
		return t.clock()
	}
	return time.Now()
}

func (t *tenant) start(ctx context.Context, host component.Host) (err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.started {
		return nil
	}
	env, kube, err := t.environment(ctx, host)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = t.storage.Close(ctx)
		}
	}()
	var sources []source
	for _, build := range sourceBuilders {
		s, err := build(env)
		if err != nil {
			return err
		}
		sources = append(sources, s...)
	}
	for i, srv := range env.servers {
		if err := srv.start(ctx, host); err != nil {
			for _, started := range env.servers[:i] {
				_ = started.shutdown(ctx)
			}
			return err
		}
	}
	t.servers = env.servers

	le := t.cfg.LeaderElection
	var cand *candidate
	if le.Enabled {
		if cand, err = joinElection(kube, le, t.set.ID, t.set.Logger); err != nil {
			return err
		}
	}
	runCtx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	t.started = true
	if !le.Enabled {
		t.runPollers(runCtx, sources)
	} else {
		// Each leadership term runs the pollers afresh, under the term's context: they load the
		// checkpoint the last leader left, having forgotten what this pod knew at its last term's end.
		electCtx, stopElection := context.WithCancel(context.Background())
		t.stopElection = stopElection
		t.holdsLease = cand.holdsLease
		t.election.Go(func() {
			cand.lead(electCtx, func(term context.Context) { t.runPollers(term, sources) }, func() {
				t.stopPollersAndWait()
				endTerms(sources)
			})
		})
	}
	names := make([]string, len(sources))
	for i, s := range sources {
		names[i] = s.name()
	}
	t.set.Logger.Info("Watching SAP Cloud Integration tenant", zap.String("endpoint", env.client.Root()),
		zap.Strings("sources", names), zap.Bool("leader_election", le.Enabled),
		zap.Bool("logs_pipeline", t.out.logs != nil), zap.Bool("metrics_pipeline", t.out.metrics != nil),
		zap.Bool("traces_pipeline", t.out.traces != nil))
	return nil
}

// environment builds what every source needs: the tenant's client, the checkpoint store, the mapping
// and the consumers.
func (t *tenant) environment(ctx context.Context, host component.Host) (*sourceEnv, kubeClients, error) {
	env := &sourceEnv{ctx: ctx, cfg: t.cfg, set: t.set, host: host, tel: t.telemetry, inventory: t.inventory, now: t.now}
	settings, endpoint, err := env.apiSettings(t.cfg.Credentials, toClientLimits(t.cfg.RateLimits))
	if err != nil {
		return nil, kubeClients{}, err
	}
	client, err := cpi.NewClient(cpi.Settings{ServiceRoot: endpoint, Settings: settings})
	if err != nil {
		return nil, kubeClients{}, err
	}
	env.client = client

	le := t.cfg.LeaderElection
	var kube kubeClients
	if le.Enabled {
		if kube, err = kubeClient(le); err != nil {
			return nil, kubeClients{}, err
		}
		// The next leader, in another pod, must read the checkpoint: it lives in a ConfigMap.
		t.storage = k8sstore.New(kube.Core, le.namespace(), le.CheckpointConfigMap,
			k8sstore.Options{Owner: le.LeaseName, FlushInterval: le.CheckpointFlushInterval})
	} else if t.storage, err = storageClient(ctx, host, t.cfg.StorageID, t.set.ID); err != nil {
		return nil, kubeClients{}, err
	}
	if t.cfg.StorageID == nil && !le.Enabled {
		t.set.Logger.Warn("No storage extension configured: checkpoints live in memory, so after a restart the receiver reads messages.initial_lookback again and repeats records. Set storage: file_storage to resume where it stopped.")
	}
	if t.cfg.TLS.InsecureSkipVerify {
		t.set.Logger.Warn("tls.insecure_skip_verify is on: the tenant's certificate is not checked")
	}
	env.store = checkpoint.NewStore(t.storage)

	obs, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID: t.set.ID, Transport: "http", LongLivedCtx: true, ReceiverCreateSettings: t.set,
	})
	if err != nil {
		return nil, kubeClients{}, err
	}
	t.out.obs = obs
	env.out = &t.out
	env.mapper = mapping.NewMapper(
		mapping.Tenant{URL: client.Root(), Name: t.cfg.TenantName},
		mapping.Scope{Name: metadata.ScopeName, Version: t.set.BuildInfo.Version},
		mapping.Switches{Events: t.cfg.Events, ResourceAttributes: t.cfg.ResourceAttributes},
	)
	env.mapper.CustomHeader = t.cfg.Messages.customHeaderFilter()
	t.telemetry.setResource(env.mapper.Tenant)
	return env, kube, nil
}

// runPollers starts one poller goroutine per source, stoppable by stopPollersAndWait.
func (t *tenant) runPollers(parent context.Context, sources []source) {
	t.jobsMu.Lock()
	defer t.jobsMu.Unlock()
	ctx, cancel := context.WithCancel(parent)
	t.stopPollers = cancel
	for _, s := range sources {
		p := &poller{src: s, logger: t.set.Logger.With(zap.String("source", s.name()))}
		t.wg.Go(func() { p.run(ctx) })
	}
}

// flusher is a storage client that coalesces commits (the ConfigMap store of leader election).
type flusher interface {
	Flush(context.Context) error
	Discard()
}

// stopPollersAndWait ends the pollers and waits for them, so that no poll overlaps the next leader's.
func (t *tenant) stopPollersAndWait() {
	t.jobsMu.Lock()
	if t.stopPollers != nil {
		t.stopPollers()
		t.stopPollers = nil
	}
	t.jobsMu.Unlock()
	t.wg.Wait()
	// What the pollers committed is written before the Lease can go to another pod — unless it has
	// expired meanwhile (renewals failed): then another pod may lead already, and a late write would land
	// over its checkpoint. The commits are dropped instead; the next leader repeats the records since.
	if f, ok := t.storage.(flusher); ok {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if t.holdsLease != nil && !t.holdsLease(ctx) {
			f.Discard()
			t.set.Logger.Warn("The Lease expired before the checkpoint was written; not writing it, so as not to overwrite the next leader's: it repeats the records since the last written checkpoint")
			return
		}
		if err := f.Flush(ctx); err != nil {
			t.set.Logger.Warn("Checkpoint not written when the pollers stopped; the next leader resumes from the one before and repeats the records since", zap.Error(err))
		}
	}
}

func (t *tenant) stop(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.started {
		return nil
	}
	t.started = false
	done := make(chan struct{})
	go func() {
		// Pollers first, then the election: the Lease is released only once nothing polls any more.
		t.cancel()
		t.stopPollersAndWait()
		if t.stopElection != nil {
			t.stopElection()
			t.election.Wait()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("sapcpi: pollers did not stop in time: %w", ctx.Err())
	}
	var errs []error
	for _, srv := range t.servers {
		errs = append(errs, srv.shutdown(ctx))
	}
	if t.storage != nil {
		errs = append(errs, t.storage.Close(ctx))
	}
	return errors.Join(errs...)
}

// apiSettings builds what every API client shares from one Credentials block: the HTTP client from
// confighttp with OAuth2 (through a token client with the same TLS, proxy and timeout but without the
// API's headers) or Basic on top, and the receiver's retry, size, rate-limit and telemetry settings.
func (e *sourceEnv) apiSettings(c Credentials, limits map[string]httpapi.RateLimit) (httpapi.Settings, string, error) {
	creds, endpoint, err := c.resolve()
	if err != nil {
		return httpapi.Settings{}, "", err
	}
	httpCfg := c.ClientConfig
	tokenCfg := httpCfg
	httpCfg.Endpoint = endpoint
	httpClient, err := httpCfg.ToClient(e.ctx, e.host.GetExtensions(), e.set.TelemetrySettings)
	if err != nil {
		return httpapi.Settings{}, "", fmt.Errorf("building the HTTP client for %s: %w", endpoint, err)
	}
	var refresher httpapi.Refresher
	switch {
	case creds != nil:
		tokenCfg.Headers = nil
		tokenClient, err := tokenCfg.ToClient(e.ctx, nil, e.set.TelemetrySettings)
		if err != nil {
			return httpapi.Settings{}, "", fmt.Errorf("building the token client for %s: %w", creds.TokenURL, err)
		}
		httpClient.Transport, refresher = httpapi.NewOAuth2Transport(httpClient.Transport, tokenClient, *creds)
	case c.Basic != nil:
		httpClient.Transport = &httpapi.BasicTransport{Username: c.Basic.Username, Password: string(c.Basic.Password), Base: httpClient.Transport}
	}
	r := e.cfg.Retry
	return httpapi.Settings{
		HTTPClient:  httpClient,
		Refresher:   refresher,
		RateLimits:  limits,
		Retry:       httpapi.RetryPolicy{MaxRetries: r.MaxRetries, InitialInterval: r.InitialInterval, MaxInterval: r.MaxInterval, MaxRetryAfter: r.MaxRetryAfter},
		MaxBodySize: e.cfg.MaxResponseSize,
		Observer:    e.tel,
		UserAgent:   "otelcol-sapcpi/" + e.set.BuildInfo.Version,
	}, endpoint, nil
}

func toClientLimits(r RateLimitsConfig) map[string]httpapi.RateLimit {
	out := map[string]httpapi.RateLimit{}
	for name, l := range r.byGroup() {
		out[name] = l.client()
	}
	return out
}

// storageClient resolves the storage extension named in the config, or an in-memory no-op client.
func storageClient(ctx context.Context, host component.Host, id *component.ID, owner component.ID) (storage.Client, error) {
	if id == nil {
		return storage.NewNopClient(), nil
	}
	ext, ok := host.GetExtensions()[*id]
	if !ok {
		return nil, fmt.Errorf("storage: extension %q is not configured; add it under extensions and service::extensions", id)
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return nil, fmt.Errorf("storage: extension %q is not a storage extension (use file_storage)", id)
	}
	client, err := se.GetClient(ctx, component.KindReceiver, owner, "")
	if err != nil {
		return nil, fmt.Errorf("storage: opening a client of %q: %w", id, err)
	}
	return client, nil
}

var errNotStarted = errors.New("sapcpi: receiver not started")
