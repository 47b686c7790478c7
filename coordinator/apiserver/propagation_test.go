package apiserver_test

import (
	"context"
	"slices"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestServer_deletePropagationFinalizers(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	cms := s.cs.CoreV1().ConfigMaps("default")
	for _, tc := range []struct {
		name   string
		opts   metav1.DeleteOptions
		before []string // finalizers the object is created with
		want   []string // nil: the object is gone
	}{
		{name: "default", want: nil},
		{name: "background", opts: metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}, want: nil},
		{name: "orphan", opts: metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationOrphan)}, want: []string{"orphan"}},
		{name: "foreground", opts: metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)}, want: []string{"foregroundDeletion"}},
		{name: "orphan-dependents", opts: metav1.DeleteOptions{OrphanDependents: ptr.To(true)}, want: []string{"orphan"}},
		{name: "keeps-others", opts: metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)},
			before: []string{"example.com/hold"}, want: []string{"example.com/hold", "foregroundDeletion"}},
		{name: "background-drops-gc", opts: metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)},
			before: []string{"example.com/hold", "orphan"}, want: []string{"example.com/hold"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cm := configMap(tc.name, nil, nil)
			cm.Finalizers = tc.before
			if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := cms.Delete(ctx, tc.name, tc.opts); err != nil {
				t.Fatal(err)
			}
			got, err := cms.Get(ctx, tc.name, metav1.GetOptions{})
			if tc.want == nil {
				if !apierrors.IsNotFound(err) {
					t.Fatalf("want gone, got %v (finalizers %v)", err, got.Finalizers)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.DeletionTimestamp == nil || !slices.Equal(got.Finalizers, tc.want) {
				t.Fatalf("deletionTimestamp %v finalizers %v, want %v", got.DeletionTimestamp, got.Finalizers, tc.want)
			}
		})
	}
}

func TestServer_deletePropagationChangesAndFinishes(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	cms := s.cs.CoreV1().ConfigMaps("default")
	if _, err := cms.Create(ctx, configMap("a", nil, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	fg := metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)}
	if err := cms.Delete(ctx, "a", fg); err != nil {
		t.Fatal(err)
	}
	// A second delete without a policy keeps the foreground finalizer.
	if err := cms.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := cms.Get(ctx, "a", metav1.GetOptions{})
	if err != nil || !slices.Equal(got.Finalizers, []string{"foregroundDeletion"}) {
		t.Fatalf("after a second delete: %v %v", err, got)
	}
	// The collector's removal of the finalizer ends the deletion.
	got.Finalizers = nil
	if _, err := cms.Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Get(ctx, "a", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("after the finalizer went: %v", err)
	}
	// Switching a foreground deletion to background deletes at once.
	if _, err := cms.Create(ctx, configMap("b", nil, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "b", fg); err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "b", metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Get(ctx, "b", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("background after foreground: %v", err)
	}
}
