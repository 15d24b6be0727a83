// Package k8sstore keeps the receiver's checkpoints in a Kubernetes ConfigMap, so that whichever pod
// leads next (leader election in a DaemonSet) resumes where the last leader stopped. It implements the
// collector's storage.Client.
//
// One ConfigMap belongs to one tenant: the store writes the tenant's Lease name into an annotation and
// refuses a ConfigMap that carries another, so two tenants never overwrite or crowd out each other's
// checkpoints. Writes are coalesced (Options.FlushInterval): a ConfigMap update sends the whole object,
// which during a backfill would otherwise be tens of full-size writes a second to the API server and etcd.
package k8sstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/extension/xextension/storage"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/util/retry"
)

// MaxSize is the most a ConfigMap may hold: Kubernetes refuses one whose values add up to more than
// 1 MiB. The store counts keys as well as values, so its own check always fires before the API server's.
const MaxSize = 1 << 20

// OwnerAnnotation names the tenant (by its Lease) whose checkpoints a ConfigMap holds.
const OwnerAnnotation = "sapcpi.opentelemetry.io/lease"

// ErrTooLarge is returned by a write that would take the ConfigMap past MaxSize. The write is refused
// whole, so the stored checkpoint stays as it was.
var ErrTooLarge = errors.New("over the 1 MiB Kubernetes allows a ConfigMap")

// ErrOwned is returned when the ConfigMap holds another tenant's checkpoints.
var ErrOwned = errors.New("the ConfigMap holds another tenant's checkpoints")

// Options configure a Client.
type Options struct {
	// Owner is the tenant's Lease name: written into OwnerAnnotation, and a ConfigMap that names another
	// owner is neither read nor written.
	Owner string
	// FlushInterval is how long a commit may wait in memory before it is written, so that the commits
	// of a burst (a backfill commits once per page) become one update. Zero writes every Batch at once.
	// Flush writes what waits at once; the receiver calls it when its pollers stop, before the Lease is
	// released.
	FlushInterval time.Duration
}

// Client stores each key as binaryData of one ConfigMap. Every write reads the ConfigMap and updates it
// with the resourceVersion it read, so a concurrent writer makes it retry instead of being overwritten.
type Client struct {
	cs        corev1client.ConfigMapsGetter
	namespace string
	name      string
	opts      Options

	mu sync.Mutex
	// pending are the writes not yet in the ConfigMap, by data key; a nil value is a deletion.
	pending map[string]pendingValue
	// stored is the size of every key of the ConfigMap as last read or written (data and binaryData).
	stored     map[string]int
	storedRead bool
	timer      *time.Timer
	// flushErr is the last write's failure; while it is set, every Batch writes at once, so that the
	// caller sees the failure.
	flushErr error
	writes   int
	seq      uint64

	flushMu sync.Mutex // one ConfigMap update at a time
}

type pendingValue struct {
	value []byte // nil: delete
	seq   uint64 // tells a value written again since a flush started from the one it wrote
}

var _ storage.Client = (*Client)(nil)

// New returns a client of the ConfigMap namespace/name (created on first write).
func New(cs corev1client.ConfigMapsGetter, namespace, name string, opts Options) *Client {
	return &Client{cs: cs, namespace: namespace, name: name, opts: opts, pending: map[string]pendingValue{}, stored: map[string]int{}}
}

// dataKey maps a checkpoint key to a ConfigMap key ([-._a-zA-Z0-9]+).
func dataKey(key string) string { return strings.ReplaceAll(key, "/", "_") }

func (c *Client) describe() string { return c.namespace + "/" + c.name }

// Get returns the value of key, nil when there is none.
func (c *Client) Get(ctx context.Context, key string) ([]byte, error) {
	op := storage.GetOperation(key)
	if err := c.Batch(ctx, op); err != nil {
		return nil, err
	}
	return op.Value, nil
}

// Set writes key.
func (c *Client) Set(ctx context.Context, key string, value []byte) error {
	return c.Batch(ctx, storage.SetOperation(key, value))
}

// Delete removes key.
func (c *Client) Delete(ctx context.Context, key string) error {
	return c.Batch(ctx, storage.DeleteOperation(key))
}

// Batch applies the operations in order, as one write: they reach the ConfigMap together, in one update.
// A write that would take the ConfigMap past MaxSize is refused whole (ErrTooLarge).
func (c *Client) Batch(ctx context.Context, ops ...*storage.Operation) error {
	var cm *corev1.ConfigMap
	if c.needsRead(ops) {
		var err error
		if cm, err = c.read(ctx); err != nil {
			return err
		}
	}
	c.mu.Lock()
	if cm != nil {
		c.remember(cm)
	}
	// The operations see each other's effect: a Get after a Set in the same batch returns the new value.
	local := map[string]pendingValue{}
	value := func(k string) []byte {
		if v, ok := local[k]; ok {
			return v.value
		}
		if v, ok := c.pending[k]; ok {
			return v.value
		}
		if cm != nil {
			return cm.BinaryData[k]
		}
		return nil
	}
	for _, op := range ops {
		k := dataKey(op.Key)
		switch op.Type {
		case storage.Get:
			op.Value = clone(value(k))
		case storage.Set:
			local[k] = pendingValue{value: clone(op.Value)}
			if local[k].value == nil {
				local[k] = pendingValue{value: []byte{}}
			}
		case storage.Delete:
			local[k] = pendingValue{}
		}
	}
	if len(local) == 0 {
		c.mu.Unlock()
		return nil
	}
	if size := c.sizeWith(local); size > MaxSize {
		c.mu.Unlock()
		return fmt.Errorf("writing checkpoint ConfigMap %s: it would hold %d bytes, %w (%d bytes); the stored checkpoint stays at its last write. Give each tenant its own leader_election.checkpoint_configmap, or lower the overlap (%w)",
			c.describe(), size, ErrTooLarge, MaxSize, storage.ErrStorageFull)
	}
	for k, v := range local {
		c.seq++
		v.seq = c.seq
		c.pending[k] = v
	}
	now := c.opts.FlushInterval == 0 || c.flushErr != nil
	if !now && c.timer == nil {
		c.timer = time.AfterFunc(c.opts.FlushInterval, c.flushInBackground)
	}
	c.mu.Unlock()
	if now {
		return c.flush(ctx)
	}
	return nil
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// needsRead reports whether the batch must read the ConfigMap: to answer a Get that no pending write
// answers, or to know the stored sizes a write adds to.
func (c *Client) needsRead(ops []*storage.Operation) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, op := range ops {
		if op.Type == storage.Get {
			if _, ok := c.pending[dataKey(op.Key)]; !ok {
				return true
			}
		} else if !c.storedRead {
			return true
		}
	}
	return false
}

// sizeWith is the size the ConfigMap would have with the pending writes and more; callers hold c.mu.
func (c *Client) sizeWith(more map[string]pendingValue) int {
	sizes := make(map[string]int, len(c.stored))
	for k, n := range c.stored {
		sizes[k] = n
	}
	for _, m := range []map[string]pendingValue{c.pending, more} {
		for k, v := range m {
			if v.value == nil {
				delete(sizes, k)
			} else {
				sizes[k] = len(k) + len(v.value)
			}
		}
	}
	total := 0
	for _, n := range sizes {
		total += n
	}
	return total
}

// remember records the sizes of what the ConfigMap holds; callers hold c.mu.
func (c *Client) remember(cm *corev1.ConfigMap) {
	clear(c.stored)
	for k, v := range cm.Data {
		c.stored[k] = len(k) + len(v)
	}
	for k, v := range cm.BinaryData {
		c.stored[k] = len(k) + len(v)
	}
	c.storedRead = true
}

// read fetches the ConfigMap (an empty one when it does not exist yet) and checks its owner.
func (c *Client) read(ctx context.Context) (*corev1.ConfigMap, error) {
	cm, err := c.cs.ConfigMaps(c.namespace).Get(ctx, c.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return &corev1.ConfigMap{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading checkpoint ConfigMap %s: %w", c.describe(), err)
	}
	if err := c.checkOwner(cm); err != nil {
		return nil, err
	}
	return cm, nil
}

func (c *Client) checkOwner(cm *corev1.ConfigMap) error {
	if owner := cm.Annotations[OwnerAnnotation]; owner != "" && c.opts.Owner != "" && owner != c.opts.Owner {
		return fmt.Errorf("checkpoint ConfigMap %s: %w (annotation %s: %s), not those of Lease %s; give each tenant its own leader_election.checkpoint_configmap",
			c.describe(), ErrOwned, OwnerAnnotation, owner, c.opts.Owner)
	}
	return nil
}

func (c *Client) flushInBackground() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.flush(ctx); err != nil {
		// Kept in flushErr: the next Batch writes at once and returns it. Tried again after another
		// interval too, so that a tenant whose sources commit rarely does not leave it waiting.
		c.mu.Lock()
		if c.timer == nil && len(c.pending) > 0 {
			c.timer = time.AfterFunc(c.opts.FlushInterval, c.flushInBackground)
		}
		c.mu.Unlock()
	}
}

// Flush writes the pending commits now. What it cannot write is dropped, so that a later term of this
// pod never writes an older checkpoint over what another leader wrote meanwhile; the receiver then
// reads the last written checkpoint again, and the records since it are delivered again.
func (c *Client) Flush(ctx context.Context) error {
	err := c.flush(ctx)
	if err != nil {
		c.mu.Lock()
		clear(c.pending)
		c.flushErr = nil
		c.mu.Unlock()
	}
	return err
}

// Discard drops the commits not yet written, for a pod whose Lease expired before it could write them:
// the ConfigMap may belong to another leader by now. Later reads see what the ConfigMap holds.
func (c *Client) Discard() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	clear(c.pending)
	c.flushErr = nil
	c.storedRead = false
}

// flush writes the pending operations in one update of the ConfigMap; on failure they stay pending.
func (c *Client) flush(ctx context.Context) error {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	c.mu.Lock()
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	batch := make(map[string]pendingValue, len(c.pending))
	for k, v := range c.pending {
		batch[k] = v
	}
	c.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}

	var written *corev1.ConfigMap
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cms := c.cs.ConfigMaps(c.namespace)
		cm, err := cms.Get(ctx, c.name, metav1.GetOptions{})
		create := apierrors.IsNotFound(err)
		if err != nil && !create {
			return err
		}
		if create {
			cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: c.name, Namespace: c.namespace,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "otelcol-sapcpi"}}}
		}
		if err := c.checkOwner(cm); err != nil {
			return err
		}
		if c.opts.Owner != "" {
			if cm.Annotations == nil {
				cm.Annotations = map[string]string{}
			}
			cm.Annotations[OwnerAnnotation] = c.opts.Owner
		}
		if cm.BinaryData == nil {
			cm.BinaryData = map[string][]byte{}
		}
		for k, v := range batch {
			if v.value == nil {
				delete(cm.BinaryData, k)
			} else {
				cm.BinaryData[k] = v.value
			}
		}
		if create {
			written, err = cms.Create(ctx, cm, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				return apierrors.NewConflict(corev1.Resource("configmaps"), c.name, err)
			}
			return err
		}
		written, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
		return err
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if !errors.Is(err, ErrOwned) {
			err = fmt.Errorf("writing checkpoint ConfigMap %s: %w", c.describe(), err)
		}
		c.flushErr = err
		return err
	}
	c.writes++
	c.flushErr = nil
	for k, v := range batch {
		// A key written again while this update was under way stays pending with its newer value.
		if p, ok := c.pending[k]; ok && p.seq == v.seq {
			delete(c.pending, k)
		}
	}
	if written != nil {
		c.remember(written)
	}
	if len(c.pending) > 0 && c.timer == nil && c.opts.FlushInterval > 0 {
		c.timer = time.AfterFunc(c.opts.FlushInterval, c.flushInBackground)
	}
	return nil
}

// Writes is the number of ConfigMap updates made so far.
func (c *Client) Writes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes
}

// Close writes what is pending: the ConfigMap outlives the pod.
func (c *Client) Close(ctx context.Context) error { return c.Flush(ctx) }
