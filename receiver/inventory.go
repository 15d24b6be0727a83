package sapcpireceiver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"

	"github.com/sapcpi-otel/sapcpireceiver/internal/checkpoint"
	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/mapping"
	"github.com/sapcpi-otel/sapcpireceiver/internal/metadata"
)

// InventoryConfig configures what is deployed on the tenant: one source per object kind, each with its
// own interval, plus a full snapshot of every object on snapshot_interval.
type InventoryConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// SnapshotInterval is how often every object is emitted; between snapshots only changes are.
	SnapshotInterval time.Duration `mapstructure:"snapshot_interval"`
	// ExpiryWarning is how long before a certificate's expiry its records turn to WARN and it counts in
	// sapcpi.keystore_entries.expiring.
	ExpiryWarning    time.Duration         `mapstructure:"expiry_warning"`
	RuntimeArtifacts InventorySourceConfig `mapstructure:"runtime_artifacts"`
	ServiceEndpoints InventorySourceConfig `mapstructure:"service_endpoints"`
	Keystores        KeystoresConfig       `mapstructure:"keystores"`
	Packages         InventorySourceConfig `mapstructure:"packages"`
	JMS              InventorySourceConfig `mapstructure:"jms"`
}

// InventorySourceConfig switches one inventory source and sets its interval.
type InventorySourceConfig struct {
	Enabled  bool          `mapstructure:"enabled"`
	Interval time.Duration `mapstructure:"interval"`
}

// KeystoresConfig adds the keystores to read.
type KeystoresConfig struct {
	InventorySourceConfig `mapstructure:",squash"`
	// Names are keystores: system (the tenant keystore), backup_admin_system, KeyRenewal.
	Names []string `mapstructure:"names"`
}

func defaultInventoryConfig() InventoryConfig {
	return InventoryConfig{
		Enabled:          true,
		SnapshotInterval: time.Hour,
		ExpiryWarning:    30 * 24 * time.Hour,
		RuntimeArtifacts: InventorySourceConfig{Enabled: true, Interval: 5 * time.Minute},
		ServiceEndpoints: InventorySourceConfig{Enabled: true, Interval: 15 * time.Minute},
		Keystores:        KeystoresConfig{InventorySourceConfig: InventorySourceConfig{Enabled: true, Interval: time.Hour}, Names: []string{"system"}},
		// Design-time content needs more than MonitoringDataRead (WorkspacePackagesRead), so it is opt-in.
		Packages: InventorySourceConfig{Enabled: false, Interval: time.Hour},
		JMS:      InventorySourceConfig{Enabled: true, Interval: 5 * time.Minute},
	}
}

// Validate checks the section; the collector prefixes the errors with "inventory".
func (c *InventoryConfig) Validate() error {
	if !c.Enabled {
		return nil
	}
	var errs []error
	if c.SnapshotInterval < time.Minute {
		errs = append(errs, fmt.Errorf("snapshot_interval: must be at least 1m, got %s", c.SnapshotInterval))
	}
	if c.ExpiryWarning <= 0 {
		errs = append(errs, fmt.Errorf("expiry_warning: must be positive, got %s", c.ExpiryWarning))
	}
	for name, s := range map[string]InventorySourceConfig{
		"runtime_artifacts": c.RuntimeArtifacts, "service_endpoints": c.ServiceEndpoints, "keystores": c.Keystores.InventorySourceConfig,
		"packages": c.Packages, "jms": c.JMS,
	} {
		if s.Enabled && s.Interval < 10*time.Second {
			errs = append(errs, fmt.Errorf("%s.interval: must be at least 10s, got %s", name, s.Interval))
		}
	}
	if c.Keystores.Enabled && len(c.Keystores.Names) == 0 {
		errs = append(errs, errors.New("keystores.names: name at least one keystore (system is the tenant keystore)"))
	}
	return sectionErrors(errs)
}

// inventoryClient is the part of the CPI client the inventory sources need.
type inventoryClient interface {
	RuntimeArtifacts(ctx context.Context) ([]cpi.IntegrationRuntimeArtifact, error)
	RuntimeArtifactError(ctx context.Context, id string, limit int) (string, error)
	ServiceEndpoints(ctx context.Context) ([]cpi.ServiceEndpoint, error)
	KeystoreEntries(ctx context.Context, keystore string) ([]cpi.KeystoreEntry, error)
	IntegrationPackages(ctx context.Context) ([]cpi.IntegrationPackage, error)
	PackageArtifacts(ctx context.Context, packageID string) ([]cpi.IntegrationDesigntimeArtifact, error)
	JmsBroker(ctx context.Context) (cpi.JmsBroker, error)
}

// inventoryCache holds the latest delivered state of each source, for the joined inventory view and
// for the gauges of the metrics pipeline.
type inventoryCache struct {
	mu         sync.Mutex
	artifacts  []cpi.IntegrationRuntimeArtifact
	hasArts    bool
	endpoints  []cpi.ServiceEndpoint
	keystore   map[string][]cpi.KeystoreEntry
	packages   []cpi.IntegrationPackage
	designtime map[string]cpi.IntegrationDesigntimeArtifact // by artifact id
	jms        *cpi.JmsBroker
}

// inventoryState is a source's checkpoint: when it last emitted a snapshot, and what it saw.
type inventoryState struct {
	LastSnapshot time.Time                    `json:"last_snapshot"`
	Objects      map[string]inventoryStateObj `json:"objects"`
}

type inventoryStateObj struct {
	Event    string            `json:"event"`
	Resource map[string]string `json:"resource"`
	Compare  map[string]string `json:"compare"`
}

// inventorySource is one kind of inventory object. Every poll fetches the current objects, compares
// them with the state committed last time and emits change events; on snapshot_interval it also emits
// every object. The new state is committed only after the next consumer accepted the records, so a
// restart neither repeats nor loses a change, and emits no spurious "created" events.
type inventorySource struct {
	kind     string
	every    time.Duration
	snapshot time.Duration
	fetch    func(ctx context.Context) ([]mapping.Object, func(), error)
	mapper   *mapping.Mapper
	out      *output
	store    *checkpoint.Store
	logger   *zap.Logger
	now      func() time.Time

	state  inventoryState
	loaded bool
}

func (s *inventorySource) name() string { return "inventory/" + s.kind }

func (s *inventorySource) interval() time.Duration { return s.every }

func (s *inventorySource) load(ctx context.Context) error {
	var st inventoryState
	found, err := s.store.Load(ctx, s.name(), &st)
	if err != nil {
		return err
	}
	s.state, s.loaded = st, found
	return nil
}

func (s *inventorySource) poll(ctx context.Context) error {
	objects, commit, err := s.fetch(ctx)
	if errors.Is(err, errNotReady) {
		return nil
	}
	if err != nil {
		return err
	}
	now := s.now()
	var changes []mapping.Change
	if s.loaded {
		prev := make(map[string]map[string]string, len(s.state.Objects))
		prevRes := make(map[string]map[string]string, len(s.state.Objects))
		prevEvent := make(map[string]string, len(s.state.Objects))
		for k, o := range s.state.Objects {
			prev[k], prevRes[k], prevEvent[k] = o.Compare, o.Resource, o.Event
		}
		changes = mapping.Diff(prev, prevRes, prevEvent, objects)
	}
	snapshot := !s.loaded || now.Sub(s.state.LastSnapshot) >= s.snapshot
	var all []mapping.Object
	if snapshot {
		all = objects
	}
	if s.out.logs != nil && (len(all) > 0 || len(changes) > 0) {
		if err := s.out.consumeLogs(ctx, formatOData, s.mapper.Inventory(all, changes, now), s.kind+" inventory records"); err != nil {
			return err
		}
	}
	next := inventoryState{LastSnapshot: s.state.LastSnapshot, Objects: make(map[string]inventoryStateObj, len(objects))}
	if snapshot {
		next.LastSnapshot = now
	}
	for _, o := range objects {
		next.Objects[o.Key] = inventoryStateObj{Event: o.Event, Resource: o.ResourceStrings(), Compare: o.Compare()}
	}
	if err := s.store.Save(ctx, s.name(), next); err != nil {
		return err
	}
	s.state, s.loaded = next, true
	if commit != nil {
		commit()
	}
	return nil
}

func inventorySources(e *sourceEnv) ([]source, error) {
	return buildInventorySources(e, e.client), nil
}

// buildInventorySources builds the enabled sources over one client and one cache.
func buildInventorySources(e *sourceEnv, client inventoryClient) []source {
	c := e.cfg.Inventory
	if !c.Enabled {
		return nil
	}
	cache := e.inventory
	clock := e.now
	newSource := func(kind string, interval time.Duration, fetch func(context.Context) ([]mapping.Object, func(), error)) *inventorySource {
		return &inventorySource{kind: kind, every: interval, snapshot: c.SnapshotInterval, fetch: fetch, mapper: e.mapper, out: e.out,
			store: e.store, logger: e.logger("inventory/" + kind), now: clock}
	}
	var out []source
	if c.RuntimeArtifacts.Enabled {
		out = append(out, newSource("runtime_artifacts", c.RuntimeArtifacts.Interval, func(ctx context.Context) ([]mapping.Object, func(), error) {
			arts, err := client.RuntimeArtifacts(ctx)
			if err != nil {
				return nil, nil, err
			}
			objs := make([]mapping.Object, 0, len(arts))
			for _, a := range arts {
				var text string
				if a.Status == "ERROR" {
					// The error text is what an operator needs; a failed lookup is not worth failing the poll.
					if text, err = client.RuntimeArtifactError(ctx, a.Id, 8<<10); err != nil && ctx.Err() == nil {
						e.logger("inventory/runtime_artifacts").Warn("Cannot read the error of an artifact in ERROR", zap.String("artifact", a.Id), zap.Error(err))
					}
				}
				objs = append(objs, mapping.RuntimeArtifactObject(a, text))
			}
			return objs, func() { cache.setArtifacts(arts) }, nil
		}))
	}
	if c.ServiceEndpoints.Enabled {
		out = append(out, newSource("service_endpoints", c.ServiceEndpoints.Interval, func(ctx context.Context) ([]mapping.Object, func(), error) {
			eps, err := client.ServiceEndpoints(ctx)
			if err != nil {
				return nil, nil, err
			}
			started, known := cache.startedArtifacts()
			objs := make([]mapping.Object, 0, len(eps))
			for _, e := range eps {
				// Without the runtime artifacts, an endpoint the tenant lists counts as active.
				objs = append(objs, mapping.ServiceEndpointObject(e, !known || started[e.Name]))
			}
			return objs, func() { cache.setEndpoints(eps) }, nil
		}))
	}
	if c.Keystores.Enabled {
		out = append(out, newSource("keystores", c.Keystores.Interval, func(ctx context.Context) ([]mapping.Object, func(), error) {
			byStore := map[string][]cpi.KeystoreEntry{}
			var objs []mapping.Object
			now := clock()
			for _, name := range c.Keystores.Names {
				entries, err := client.KeystoreEntries(ctx, name)
				if err != nil {
					return nil, nil, err
				}
				byStore[name] = entries
				for _, e := range entries {
					objs = append(objs, mapping.KeystoreEntryObject(name, e, now, c.ExpiryWarning))
				}
			}
			return objs, func() { cache.setKeystore(byStore) }, nil
		}))
	}
	if c.Packages.Enabled {
		out = append(out, newSource("packages", c.Packages.Interval, func(ctx context.Context) ([]mapping.Object, func(), error) {
			pkgs, err := client.IntegrationPackages(ctx)
			if err != nil {
				return nil, nil, err
			}
			designtime := map[string]cpi.IntegrationDesigntimeArtifact{}
			objs := make([]mapping.Object, 0, len(pkgs))
			for _, p := range pkgs {
				arts, err := client.PackageArtifacts(ctx, p.Id)
				if err != nil {
					return nil, nil, err
				}
				ids := make([]string, 0, len(arts))
				for _, a := range arts {
					ids = append(ids, a.Id)
					designtime[a.Id] = a
				}
				objs = append(objs, mapping.IntegrationPackageObject(p, ids))
			}
			return objs, func() { cache.setPackages(pkgs, designtime) }, nil
		}))
	}
	if c.JMS.Enabled {
		out = append(out, newSource("jms", c.JMS.Interval, func(ctx context.Context) ([]mapping.Object, func(), error) {
			b, err := client.JmsBroker(ctx)
			if err != nil {
				return nil, nil, err
			}
			return []mapping.Object{mapping.JMSBrokerObject(b)}, func() { cache.setJMS(b) }, nil
		}))
	}
	if c.RuntimeArtifacts.Enabled {
		// The consolidated view joins the other sources' latest state; it calls no API itself.
		view := newSource("view", c.RuntimeArtifacts.Interval, func(context.Context) ([]mapping.Object, func(), error) {
			rows, ok := cache.view()
			if !ok {
				return nil, nil, errNotReady
			}
			objs := make([]mapping.Object, 0, len(rows))
			for _, r := range rows {
				objs = append(objs, mapping.InventoryObject(r))
			}
			return objs, nil, nil
		})
		out = append(out, view)
	}
	return out
}

// errNotReady skips a poll quietly: the view waits for the runtime artifacts to be read first.
var errNotReady = errors.New("not ready")

func (c *inventoryCache) setArtifacts(a []cpi.IntegrationRuntimeArtifact) {
	c.mu.Lock()
	c.artifacts, c.hasArts = a, true
	c.mu.Unlock()
}

func (c *inventoryCache) setEndpoints(e []cpi.ServiceEndpoint) {
	c.mu.Lock()
	c.endpoints = e
	c.mu.Unlock()
}

func (c *inventoryCache) setKeystore(k map[string][]cpi.KeystoreEntry) {
	c.mu.Lock()
	c.keystore = k
	c.mu.Unlock()
}

func (c *inventoryCache) setPackages(p []cpi.IntegrationPackage, d map[string]cpi.IntegrationDesigntimeArtifact) {
	c.mu.Lock()
	c.packages, c.designtime = p, d
	c.mu.Unlock()
}

func (c *inventoryCache) setJMS(b cpi.JmsBroker) {
	c.mu.Lock()
	c.jms = &b
	c.mu.Unlock()
}

// startedArtifacts lists the STARTED artifacts, and whether the artifacts were read at all.
func (c *inventoryCache) startedArtifacts() (map[string]bool, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]bool, len(c.artifacts))
	for _, a := range c.artifacts {
		out[a.Id] = a.Status == "STARTED"
	}
	return out, c.hasArts
}

// view joins each deployed artifact with its package, design-time version and endpoints.
func (c *inventoryCache) view() ([]mapping.InventoryRow, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.hasArts {
		return nil, false
	}
	pkgNames := map[string]string{}
	for _, p := range c.packages {
		pkgNames[p.Id] = p.Name
	}
	rows := make([]mapping.InventoryRow, 0, len(c.artifacts))
	for _, a := range c.artifacts {
		r := mapping.InventoryRow{Artifact: a}
		if d, ok := c.designtime[a.Id]; ok {
			r.PackageID, r.PackageName, r.DesigntimeVersion = d.PackageId, pkgNames[d.PackageId], d.Version
		}
		for _, e := range c.endpoints {
			if e.Name != a.Id {
				continue
			}
			r.Protocols = append(r.Protocols, e.Protocol)
			for _, p := range e.EntryPoints {
				r.EndpointURLs = append(r.EndpointURLs, p.Url)
			}
		}
		rows = append(rows, r)
	}
	return rows, true
}

// record writes the inventory gauges from the latest delivered state of each source.
func (c *inventoryCache) record(mb *metadata.MetricsBuilder, ts pcommon.Timestamp, now time.Time, warn time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hasArts {
		type typeStatus struct{ typ, status string }
		counts := map[typeStatus]int64{}
		var inError int64
		for _, a := range c.artifacts {
			counts[typeStatus{a.Type, a.Status}]++
			if a.Status == "ERROR" {
				inError++
			}
		}
		for k, n := range counts {
			mb.RecordSapcpiRuntimeArtifactsDataPoint(ts, n, k.typ, k.status)
		}
		mb.RecordSapcpiRuntimeArtifactsInErrorDataPoint(ts, inError)
	}
	if c.endpoints != nil {
		byProtocol := map[string]int64{}
		for _, e := range c.endpoints {
			byProtocol[e.Protocol]++
		}
		for p, n := range byProtocol {
			mb.RecordSapcpiServiceEndpointsDataPoint(ts, n, p)
		}
	}
	for store, entries := range c.keystore {
		var expiring int64
		for _, e := range entries {
			if e.ValidNotAfter.IsZero() {
				continue
			}
			left := e.ValidNotAfter.Sub(now)
			mb.RecordSapcpiKeystoreEntryTimeToExpiryDataPoint(ts, left.Seconds(), store, e.Alias, e.Owner, e.Type)
			if left <= warn {
				expiring++
			}
		}
		mb.RecordSapcpiKeystoreEntriesExpiringDataPoint(ts, expiring, store)
	}
	if c.packages != nil {
		mb.RecordSapcpiIntegrationPackagesDataPoint(ts, int64(len(c.packages)))
	}
	if b := c.jms; b != nil {
		mb.RecordSapcpiJmsCapacityUsedDataPoint(ts, int64(b.Capacity), b.Key)
		mb.RecordSapcpiJmsCapacityLimitDataPoint(ts, int64(b.MaxCapacity), b.Key)
		mb.RecordSapcpiJmsQueuesUsedDataPoint(ts, int64(b.QueueNumber), b.Key)
		mb.RecordSapcpiJmsQueuesLimitDataPoint(ts, int64(b.MaxQueueNumber), b.Key)
		states := map[metadata.AttributeSapCpiJmsQueueState]int64{
			metadata.AttributeSapCpiJmsQueueStateOk: 0, metadata.AttributeSapCpiJmsQueueStateWarning: 0, metadata.AttributeSapCpiJmsQueueStateCritical: 0,
		}
		for _, q := range b.QueueStates {
			switch q.State {
			case 0:
				states[metadata.AttributeSapCpiJmsQueueStateOk]++
			case 1:
				states[metadata.AttributeSapCpiJmsQueueStateWarning]++
			default:
				states[metadata.AttributeSapCpiJmsQueueStateCritical]++
			}
		}
		for st, n := range states {
			mb.RecordSapcpiJmsQueuesDataPoint(ts, n, b.Key, st)
		}
	}
}
