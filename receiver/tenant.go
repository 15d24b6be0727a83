package sapcpireceiver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"

	"github.com/sapcpi-otel/sapcpireceiver/internal/calm"
	"github.com/sapcpi-otel/sapcpireceiver/internal/checkpoint"
	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/k8sstore"
	"github.com/sapcpi-otel/sapcpireceiver/internal/mapping"
	"github.com/sapcpi-otel/sapcpireceiver/internal/metadata"
)

// tenant is the state shared by the logs and metrics receivers of one configured receiver: one client,
// one storage client, one set of pollers. The collector creates the two signals separately; whichever
// starts first starts the tenant, the last to shut down stops it.
type tenant struct {
	cfg       *Config
	set       receiver.Settings
	telemetry *telemetry
	inventory *inventoryCache
	// clock replaces time.Now in tests of the inventory.
	clock func() time.Time

	mu sync.Mutex
	// jobsMu guards stopPollers; the election starts and stops pollers from its own goroutine.
	jobsMu       sync.Mutex
	stopPollers  context.CancelFunc
	stopElection context.CancelFunc
	election     sync.WaitGroup
	logs         consumer.Logs
	metrics      consumer.Metrics
	refs         int
	started      bool
	cancel       context.CancelFunc
	wg           sync.WaitGroup
	storage      storage.Client
}

// registry maps a receiver's *Config to its tenant; the collector hands both signals the same pointer.
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

func (t *tenant) setLogsConsumer(next consumer.Logs) {
	t.mu.Lock()
	t.logs = next
	t.mu.Unlock()
}

func (t *tenant) setMetricsConsumer(next consumer.Metrics) {
	t.mu.Lock()
	t.metrics = next
	t.mu.Unlock()
}

func (t *tenant) start(ctx context.Context, host component.Host) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.started {
		return nil
	}
	client, err := t.newClient(ctx, host)
	if err != nil {
		return err
	}
	le := t.cfg.LeaderElection
	var kube kubeClients
	if le.Enabled {
		if kube, err = kubeClient(); err != nil {
			return err
		}
		// The next leader, in another pod, must read the checkpoint: it lives in a ConfigMap.
		t.storage = k8sstore.New(kube.Core, le.namespace(), le.CheckpointConfigMap)
	} else if t.storage, err = storageClient(ctx, host, t.cfg.StorageID, t.set.ID); err != nil {
		return err
	}
	if t.cfg.StorageID == nil && !le.Enabled {
		t.set.Logger.Warn("No storage extension configured: checkpoints live in memory, so after a restart the receiver reads messages.initial_lookback again and repeats records. Set storage: file_storage to resume where it stopped.")
	}
	if t.cfg.ClientConfig.TLS.InsecureSkipVerify {
		t.set.Logger.Warn("tls.insecure_skip_verify is on: the tenant's certificate is not checked")
	}
	obs, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID: t.set.ID, Transport: "http", LongLivedCtx: true, ReceiverCreateSettings: t.set,
	})
	if err != nil {
		return err
	}
	mapper := &mapping.Mapper{
		Tenant:       mapping.Tenant{URL: client.Root(), Name: t.cfg.TenantName},
		Scope:        mapping.Scope{Name: metadata.ScopeName, Version: t.set.BuildInfo.Version},
		CustomHeader: t.cfg.Messages.customHeaderFilter(),
	}
	t.telemetry.setResource(mapper.Tenant)

	store := checkpoint.NewStore(t.storage)
	almSources, err := t.cloudALMSources(ctx, host, obs, store, mapper.Tenant)
	if err != nil {
		_ = t.storage.Close(ctx)
		return err
	}
	var btpAudit *btpAuditSource
	if a := t.cfg.AuditLogs; a.BTP.Enabled {
		bc, err := t.newBTPAuditClient(ctx, host)
		if err != nil {
			_ = t.storage.Close(ctx)
			return err
		}
		btpAudit = &btpAuditSource{cfg: a.BTP, client: bc, mapper: mapper, logs: t.logs, obs: obs, store: store, tel: t.telemetry,
			logger: t.set.Logger.With(zap.String("source", "audit_logs/btp")), now: time.Now, window: checkpoint.NewWindow()}
	}

	var jobs []job
	add := func(name string, interval time.Duration, load, poll func(context.Context) error) {
		jobs = append(jobs, job{name: name, interval: interval, load: load, poll: poll})
	}
	if t.cfg.Messages.Enabled {
		src := newMessageSource(t.cfg.Messages, client, mapper, t.logs, obs, store, t.telemetry, t.set.Logger)
		add(src.name, t.cfg.Messages.PollInterval, src.load, src.poll)
	}
	for _, src := range almSources {
		add(src.name(), t.cfg.CloudALM.PollInterval, src.load, src.poll)
	}
	if a := t.cfg.AuditLogs; a.Enabled {
		src := newAuditSource(a, client, mapper, t.logs, obs, store, t.telemetry, t.set.Logger.With(zap.String("source", "audit_logs")))
		add(src.name, a.PollInterval, src.load, src.poll)
	}
	if lf := t.cfg.LogFiles; lf.Enabled {
		src := &logFileSource{cfg: lf, client: client, mapper: mapper, logs: t.logs, obs: obs, store: store,
			logger: t.set.Logger.With(zap.String("source", "log_files")), now: time.Now}
		add(src.name(), lf.PollInterval, src.load, src.poll)
	}
	if btpAudit != nil {
		add(btpAudit.name(), t.cfg.AuditLogs.BTP.PollInterval, btpAudit.load, btpAudit.poll)
	}
	inventory := t.inventorySources(client, mapper, obs, store)
	for _, src := range inventory {
		add(src.name(), src.interval, src.load, src.poll)
	}

	runCtx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	t.started = true
	if !le.Enabled {
		t.runJobs(runCtx, jobs)
	} else {
		// Each leadership term runs the pollers afresh: they load the checkpoint the last leader left.
		electCtx, stopElection := context.WithCancel(context.Background())
		t.stopElection = stopElection
		t.election.Add(1)
		go func() {
			defer t.election.Done()
			lead(electCtx, kube, le, t.set.Logger,
				func() { t.runJobs(runCtx, jobs) },
				func() { t.stopJobs() })
		}()
	}
	t.set.Logger.Info("Watching SAP Cloud Integration tenant", zap.String("endpoint", client.Root()),
		zap.Bool("messages", t.cfg.Messages.Enabled), zap.Int("inventory_sources", len(inventory)), zap.Int("cloud_alm_providers", len(almSources)),
		zap.Bool("leader_election", le.Enabled),
		zap.Bool("logs_pipeline", t.logs != nil), zap.Bool("metrics_pipeline", t.metrics != nil))
	return nil
}

// cloudALMSources prepares one source per Cloud ALM provider; they deliver to the metrics pipeline.
func (t *tenant) cloudALMSources(ctx context.Context, host component.Host, obs *receiverhelper.ObsReport, store *checkpoint.Store, tenantInfo mapping.Tenant) ([]*almSource, error) {
	c := t.cfg.CloudALM
	if !c.Enabled {
		return nil, nil
	}
	if t.metrics == nil {
		t.set.Logger.Warn("cloud_alm is enabled, but this receiver is in no metrics pipeline: Cloud ALM figures are not read")
		return nil, nil
	}
	client, err := t.newCloudALMClient(ctx, host)
	if err != nil {
		return nil, err
	}
	res, err := calm.ParseResolution(c.Resolution)
	if err != nil {
		return nil, err
	}
	providers := []string{calm.ProviderCPIMessages}
	if c.HealthMonitoring.Enabled {
		providers = append(providers, calm.ProviderHealth)
	}
	var out []*almSource
	for _, p := range providers {
		out = append(out, &almSource{
			provider: p, cfg: c, res: res, client: client, next: t.metrics, obs: obs, store: store, tel: t.telemetry,
			logger: t.set.Logger.With(zap.String("provider", p)), tenant: tenantInfo, now: time.Now, warned: map[string]bool{},
			mb: metadata.NewMetricsBuilder(t.cfg.MetricsBuilderConfig, t.set),
		})
	}
	return out, nil
}

// job is one source's poll loop.
type job struct {
	name     string
	interval time.Duration
	load     func(context.Context) error
	poll     func(context.Context) error
}

// runJobs starts one poller goroutine per job, stoppable by stopJobs.
func (t *tenant) runJobs(parent context.Context, jobs []job) {
	t.jobsMu.Lock()
	defer t.jobsMu.Unlock()
	ctx, cancel := context.WithCancel(parent)
	t.stopPollers = cancel
	for _, j := range jobs {
		p := &poller{name: j.name, interval: j.interval, load: j.load, poll: j.poll, logger: t.set.Logger.With(zap.String("source", j.name))}
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			p.run(ctx)
		}()
	}
}

// stopJobs ends the pollers and waits for them, so that no poll overlaps the next leader's.
func (t *tenant) stopJobs() {
	t.jobsMu.Lock()
	if t.stopPollers != nil {
		t.stopPollers()
		t.stopPollers = nil
	}
	t.jobsMu.Unlock()
	t.wg.Wait()
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
		t.stopJobs()
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
	if t.storage != nil {
		return t.storage.Close(ctx)
	}
	return nil
}

// newClient builds the CPI client: confighttp (TLS, proxy, timeout, headers, auth extension) with the
// receiver's own authentication on top.
func (t *tenant) newClient(ctx context.Context, host component.Host) (*cpi.Client, error) {
	cfg := t.cfg
	creds, endpoint, err := keyOrOAuth2(cfg.ServiceKeyFile, cpi.ReadServiceKey, cfg.OAuth2, cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	settings, err := t.apiSettings(ctx, host, cfg.ClientConfig, endpoint, creds, cfg.Basic)
	if err != nil {
		return nil, err
	}
	settings.RateLimits = toClientLimits(cfg.RateLimits)
	return cpi.NewClient(cpi.Settings{ServiceRoot: endpoint, Settings: settings})
}

// serviceKey is what every service key gives: client credentials and the API's base URL.
type serviceKey interface {
	Credentials() (httpapi.OAuth2Credentials, error)
	BaseURL() string
}

// keyOrOAuth2 resolves the credentials of an API from either its service key file or explicit OAuth2
// settings; endpoint, when set, wins over the key's URL. Neither (an auth extension) gives nil credentials.
func keyOrOAuth2[K serviceKey](keyFile string, read func(string) (K, error), oauth *OAuth2Config, endpoint string) (*httpapi.OAuth2Credentials, string, error) {
	switch {
	case keyFile != "":
		key, err := read(keyFile)
		if err != nil {
			return nil, "", err
		}
		creds, err := key.Credentials()
		if err != nil {
			return nil, "", err
		}
		if endpoint == "" {
			endpoint = key.BaseURL()
		}
		return &creds, endpoint, nil
	case oauth != nil:
		return oauth.credentials(), endpoint, nil
	}
	return nil, endpoint, nil
}

func (o *OAuth2Config) credentials() *httpapi.OAuth2Credentials {
	return &httpapi.OAuth2Credentials{ClientID: o.ClientID, ClientSecret: string(o.ClientSecret), TokenURL: o.TokenURL}
}

// apiSettings builds what every API client shares: the HTTP client from confighttp with OAuth2 (through
// a token client with the same TLS, proxy and timeout but without the API's headers) or Basic on top,
// and the receiver's retry, size and telemetry settings.
func (t *tenant) apiSettings(ctx context.Context, host component.Host, httpCfg confighttp.ClientConfig, endpoint string,
	creds *httpapi.OAuth2Credentials, basic *BasicAuthConfig,
) (httpapi.Settings, error) {
	tokenCfg := httpCfg
	httpCfg.Endpoint = endpoint
	httpClient, err := httpCfg.ToClient(ctx, host.GetExtensions(), t.set.TelemetrySettings)
	if err != nil {
		return httpapi.Settings{}, fmt.Errorf("building the HTTP client for %s: %w", endpoint, err)
	}
	var refresher httpapi.Refresher
	switch {
	case creds != nil:
		tokenCfg.Headers = nil
		tokenClient, err := tokenCfg.ToClient(ctx, nil, t.set.TelemetrySettings)
		if err != nil {
			return httpapi.Settings{}, fmt.Errorf("building the token client for %s: %w", creds.TokenURL, err)
		}
		httpClient.Transport, refresher = httpapi.NewOAuth2Transport(httpClient.Transport, tokenClient, *creds)
	case basic != nil:
		httpClient.Transport = &httpapi.BasicTransport{Username: basic.Username, Password: string(basic.Password), Base: httpClient.Transport}
	}
	r := t.cfg.Retry
	return httpapi.Settings{
		HTTPClient:  httpClient,
		Refresher:   refresher,
		Retry:       httpapi.RetryPolicy{MaxRetries: r.MaxRetries, InitialInterval: r.InitialInterval, MaxInterval: r.MaxInterval, MaxRetryAfter: r.MaxRetryAfter},
		MaxBodySize: t.cfg.MaxResponseSize,
		Observer:    t.telemetry,
		UserAgent:   "otelcol-sapcpi/" + t.set.BuildInfo.Version,
	}, nil
}

func toClientLimits(r RateLimitsConfig) map[string]httpapi.RateLimit {
	out := map[string]httpapi.RateLimit{}
	for name, l := range r.byGroup() {
		out[name] = httpapi.RateLimit{RequestsPerSecond: l.RequestsPerSecond, Burst: l.Burst}
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
