package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "sigs.k8s.io/json"

	"github.com/keel-edge/keel/coordinator/kinds"
	"github.com/keel-edge/keel/coordinator/store"
)

var (
	namespacesGVR        = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	schemaGroupKindScale = schema.GroupKind{Group: "autoscaling", Kind: "Scale"}
)

// hasSpecFinalizers reports a namespace whose spec.finalizers still hold
// work: its content must be deleted before it goes.
func hasSpecFinalizers(obj kinds.Object) bool {
	ns, ok := obj.(*corev1.Namespace)
	return ok && len(ns.Spec.Finalizers) > 0
}

// markTerminating moves a namespace being deleted into phase Terminating.
func markTerminating(obj kinds.Object) {
	if ns, ok := obj.(*corev1.Namespace); ok {
		ns.Status.Phase = corev1.NamespaceTerminating
	}
}

func decodeScale(data []byte) (*autoscalingv1.Scale, error) {
	sc := &autoscalingv1.Scale{}
	if err := kjson.UnmarshalCaseSensitivePreserveInts(data, sc); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("decode Scale: %v", err))
	}
	return sc, nil
}

// RunNamespaceFinalizer empties namespaces that are being deleted and then
// deletes them: every namespaced object in them is deleted (objects with
// finalizers are marked and waited for), then the namespace's "kubernetes"
// finalizer is removed. It runs until ctx ends.
func (s *Server) RunNamespaceFinalizer(ctx context.Context) error {
	nk, ok := s.cfg.Kinds.ByResource(namespacesGVR)
	if !ok {
		return nil
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	w, err := s.cfg.Store.Watch(ctx, Bucket(nk), "", s.cfg.Store.Revision())
	if err != nil {
		return fmt.Errorf("watch namespaces: %w", err)
	}
	defer w.Stop()
	for {
		s.finalizeNamespaces(ctx, nk)
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-w.Events():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				if w, err = s.cfg.Store.Watch(ctx, Bucket(nk), "", s.cfg.Store.Revision()); err != nil {
					return fmt.Errorf("watch namespaces: %w", err)
				}
			}
		case <-tick.C:
		}
	}
}

func (s *Server) finalizeNamespaces(ctx context.Context, nk *kinds.Kind) {
	kvs, _, err := s.cfg.Store.List(Bucket(nk), "")
	if err != nil {
		s.cfg.Log.Error("list namespaces", "err", err)
		return
	}
	for _, kv := range kvs {
		var ns corev1.Namespace
		if err := json.Unmarshal(kv.Value, &ns); err != nil || ns.DeletionTimestamp == nil {
			continue
		}
		remaining, err := s.emptyNamespace(ctx, ns.Name)
		if err != nil {
			s.cfg.Log.Error("empty namespace", "ns", ns.Name, "err", err)
			continue
		}
		if remaining > 0 {
			continue
		}
		ns.Spec.Finalizers = nil
		rq := &req{requestInfo: requestInfo{Name: ns.Name, Resource: nk.Resource, Subresource: "finalize"}, kind: nk}
		_, err = s.guaranteedUpdate(ctx, rq, false, func(cur kinds.Object) (kinds.Object, string, error) {
			cur.(*corev1.Namespace).Spec.Finalizers = nil
			return cur, "", nil
		})
		if err != nil && !apierrors.IsNotFound(err) {
			s.cfg.Log.Error("finalize namespace", "ns", ns.Name, "err", err)
		}
	}
}

// emptyNamespace deletes everything in ns and returns how many objects are
// still there (waiting for their finalizers).
func (s *Server) emptyNamespace(ctx context.Context, ns string) (int, error) {
	remaining := 0
	background := metav1.DeletePropagationBackground
	for _, k := range s.cfg.Kinds.All() {
		if !k.Namespaced {
			continue
		}
		kvs, _, err := s.cfg.Store.List(Bucket(k), ns+"/")
		if err != nil {
			return 0, err
		}
		for _, kv := range kvs {
			obj, err := decodeStored(k, kv.Value)
			if err != nil {
				return 0, err
			}
			_, err = s.deleteOne(ctx, k, ns, obj.GetName(), &metav1.DeleteOptions{PropagationPolicy: &background}, false)
			switch {
			case apierrors.IsNotFound(err):
			case err != nil:
				return 0, err
			default:
				if _, gerr := s.cfg.Store.Get(Bucket(k), kv.Key); gerr == nil {
					remaining++
				} else if gerr != store.ErrNotFound {
					remaining++
				}
			}
		}
	}
	return remaining, nil
}
