// Package k8sstore keeps the receiver's checkpoints in a Kubernetes ConfigMap, so that whichever pod
// leads next (leader election in a DaemonSet) resumes where the last leader stopped. It implements the
// collector's storage.Client.
package k8sstore

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/collector/extension/xextension/storage"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/util/retry"
)

// Client stores each key as binaryData of one ConfigMap. Writes use the ConfigMap's resourceVersion, so
// two writers never overwrite each other silently; a conflict is retried.
type Client struct {
	cs        corev1client.ConfigMapsGetter
	namespace string
	name      string
}

var _ storage.Client = (*Client)(nil)

// New returns a client of the ConfigMap namespace/name (created on first write).
func New(cs corev1client.ConfigMapsGetter, namespace, name string) *Client {
	return &Client{cs: cs, namespace: namespace, name: name}
}

// dataKey maps a checkpoint key to a ConfigMap key ([-._a-zA-Z0-9]+).
func dataKey(key string) string { return strings.ReplaceAll(key, "/", "_") }

// Get returns the value of key, nil when there is none.
func (c *Client) Get(ctx context.Context, key string) ([]byte, error) {
	cm, err := c.cs.ConfigMaps(c.namespace).Get(ctx, c.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading checkpoint ConfigMap %s/%s: %w", c.namespace, c.name, err)
	}
	return cm.BinaryData[dataKey(key)], nil
}

// Set writes key.
func (c *Client) Set(ctx context.Context, key string, value []byte) error {
	return c.Batch(ctx, storage.SetOperation(key, value))
}

// Delete removes key.
func (c *Client) Delete(ctx context.Context, key string) error {
	return c.Batch(ctx, storage.DeleteOperation(key))
}

// Batch applies the operations in one update of the ConfigMap.
func (c *Client) Batch(ctx context.Context, ops ...*storage.Operation) error {
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
		if cm.BinaryData == nil {
			cm.BinaryData = map[string][]byte{}
		}
		for _, op := range ops {
			k := dataKey(op.Key)
			switch op.Type {
			case storage.Get:
				op.Value = cm.BinaryData[k]
			case storage.Set:
				cm.BinaryData[k] = op.Value
			case storage.Delete:
				delete(cm.BinaryData, k)
			}
		}
		if create {
			_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				return apierrors.NewConflict(corev1.Resource("configmaps"), c.name, err)
			}
			return err
		}
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("writing checkpoint ConfigMap %s/%s: %w", c.namespace, c.name, err)
	}
	return nil
}

// Close releases nothing: the ConfigMap outlives the pod.
func (c *Client) Close(context.Context) error { return nil }
