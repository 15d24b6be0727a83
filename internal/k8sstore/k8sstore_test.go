package k8sstore

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"k8s.io/client-go/kubernetes/fake"
)

func TestConfigMapStoreRoundTripsAndIsSharedBetweenClients(t *testing.T) {
	cs := fake.NewClientset()
	a, b := New(cs.CoreV1(), "sapcpi", "sapcpi-checkpoints"), New(cs.CoreV1(), "sapcpi", "sapcpi-checkpoints")
	v, err := a.Get(t.Context(), "messages")
	require.NoError(t, err)
	assert.Nil(t, v, "no ConfigMap yet: no value")

	require.NoError(t, a.Set(t.Context(), "inventory/runtime_artifacts", []byte(`{"x":1}`)))
	require.NoError(t, a.Set(t.Context(), "messages", []byte(`{"watermark":"w"}`)))
	v, err = b.Get(t.Context(), "inventory/runtime_artifacts")
	require.NoError(t, err)
	assert.JSONEq(t, `{"x":1}`, string(v), "the next leader reads what the last one wrote")

	get := storage.GetOperation("messages")
	require.NoError(t, b.Batch(t.Context(), storage.DeleteOperation("inventory/runtime_artifacts"), get))
	assert.JSONEq(t, `{"watermark":"w"}`, string(get.Value))
	v, err = a.Get(t.Context(), "inventory/runtime_artifacts")
	require.NoError(t, err)
	assert.Nil(t, v)
	require.NoError(t, a.Close(t.Context()))
}
