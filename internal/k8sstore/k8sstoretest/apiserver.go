// Package k8sstoretest gives tests a fake Kubernetes API that behaves like a real API server where the
// receiver depends on it. client-go's fake clientset stores whatever it is sent: it neither checks nor
// sets resourceVersion (so an update from a stale read silently wins) and it accepts a ConfigMap of any
// size. NewAPIServer adds both rules.
package k8sstoretest

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// maxConfigMapSize is what the API server allows the values of a ConfigMap to add up to.
const maxConfigMapSize = 1 << 20

// NewAPIServer returns a fake clientset whose creates and updates follow the API server's rules for
// optimistic concurrency (every write gets a new resourceVersion; an update that names another than the
// stored one is a 409 Conflict; one that names none is applied unconditionally, as the API server does
// for Leases and ConfigMaps) and refuses a ConfigMap over 1 MiB with 422 Invalid.
func NewAPIServer() *fake.Clientset {
	cs := fake.NewClientset()
	tracker := cs.Tracker()
	var mu sync.Mutex
	var version int
	next := func() string {
		version++
		return strconv.Itoa(version)
	}
	cs.PrependReactor("create", "*", func(action k8stesting.Action) (bool, runtime.Object, error) {
		obj := action.(k8stesting.CreateAction).GetObject().DeepCopyObject()
		if err := checkSize(obj); err != nil {
			return true, nil, err
		}
		m, err := meta.Accessor(obj)
		if err != nil {
			return false, nil, nil
		}
		mu.Lock()
		defer mu.Unlock()
		m.SetResourceVersion(next())
		if err := tracker.Create(action.GetResource(), obj, action.GetNamespace()); err != nil {
			return true, nil, err
		}
		return true, obj.DeepCopyObject(), nil
	})
	cs.PrependReactor("update", "*", func(action k8stesting.Action) (bool, runtime.Object, error) {
		obj := action.(k8stesting.UpdateAction).GetObject().DeepCopyObject()
		if err := checkSize(obj); err != nil {
			return true, nil, err
		}
		m, err := meta.Accessor(obj)
		if err != nil {
			return false, nil, nil
		}
		mu.Lock()
		defer mu.Unlock()
		gvr, ns := action.GetResource(), action.GetNamespace()
		stored, err := tracker.Get(gvr, ns, m.GetName())
		if err != nil {
			return true, nil, err
		}
		sm, err := meta.Accessor(stored)
		if err != nil {
			return true, nil, err
		}
		if rv := m.GetResourceVersion(); rv != "" && rv != sm.GetResourceVersion() {
			return true, nil, apierrors.NewConflict(gvr.GroupResource(), m.GetName(),
				errStale{sent: rv, stored: sm.GetResourceVersion()})
		}
		m.SetResourceVersion(next())
		if err := tracker.Update(gvr, obj, ns); err != nil {
			return true, nil, err
		}
		return true, obj.DeepCopyObject(), nil
	})
	return cs
}

type errStale struct{ sent, stored string }

func (e errStale) Error() string {
	return "the object has been modified; resourceVersion " + e.sent + " is not the stored " + e.stored
}

func checkSize(obj runtime.Object) error {
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok {
		return nil
	}
	total := 0
	for _, v := range cm.Data {
		total += len(v)
	}
	for _, v := range cm.BinaryData {
		total += len(v)
	}
	if total > maxConfigMapSize {
		return apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("ConfigMap").GroupKind(), cm.Name,
			field.ErrorList{field.TooLong(field.NewPath(""), "", maxConfigMapSize)})
	}
	return nil
}

// Pod is one pod's client of a shared fake API server, which a test can cut off (every request fails
// as in a network partition, or as if the pod had died) and reconnect.
type Pod struct {
	*fake.Clientset
	cut atomic.Bool
}

// NewPod returns a client that sends every request to server.
func NewPod(server *fake.Clientset) *Pod {
	p := &Pod{Clientset: &fake.Clientset{}}
	p.AddReactor("*", "*", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if p.cut.Load() {
			return true, nil, errCut
		}
		obj, err := server.Invokes(action, nil)
		return true, obj, err
	})
	return p
}

var errCut = errors.New("connect: connection refused (the test cut this pod off the API server)")

// Cut makes every request of this pod fail.
func (p *Pod) Cut() { p.cut.Store(true) }

// Reconnect ends a Cut.
func (p *Pod) Reconnect() { p.cut.Store(false) }
