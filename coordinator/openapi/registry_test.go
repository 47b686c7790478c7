package openapi

import (
	"net/http/httptest"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/keel-edge/keel/coordinator/kinds"
)

// testKind is a served kind with the trivial hooks NewRegistry requires.
func testKind(gvk schema.GroupVersionKind, resource string, namespaced, status bool, obj func() kinds.Object, list func() runtime.Object) *kinds.Kind {
	return &kinds.Kind{
		GVK: gvk, Resource: resource, Singular: gvk.Kind, Namespaced: namespaced, HasStatus: status,
		New: obj, NewList: list,
		Validate: func(kinds.Object) field.ErrorList { return nil },
		Columns:  []metav1.TableColumnDefinition{{Name: "Age", Type: "string"}},
		Row:      func(kinds.Object, time.Time) []any { return []any{""} },
	}
}

// testRegistry serves Pod, Service and ConfigMap in core/v1, Namespace
// (cluster-scoped) and Deployment in apps/v1 with the scale subresource.
func testRegistry(t testing.TB) *kinds.Registry {
	t.Helper()
	core := func(kind string) schema.GroupVersionKind { return corev1.SchemeGroupVersion.WithKind(kind) }
	deploy := testKind(appsv1.SchemeGroupVersion.WithKind("Deployment"), "deployments", true, true,
		func() kinds.Object { return &appsv1.Deployment{} }, func() runtime.Object { return &appsv1.DeploymentList{} })
	deploy.Scale = &kinds.Scale{
		Get: func(obj kinds.Object) (int32, int32, string) {
			d := obj.(*appsv1.Deployment)
			sel, _ := metav1.LabelSelectorAsSelector(d.Spec.Selector)
			if sel == nil {
				sel = labels.Nothing()
			}
			return *d.Spec.Replicas, d.Status.Replicas, sel.String()
		},
		Set: func(obj kinds.Object, n int32) { obj.(*appsv1.Deployment).Spec.Replicas = &n },
	}
	reg, err := kinds.NewRegistry(
		testKind(core("Pod"), "pods", true, true,
			func() kinds.Object { return &corev1.Pod{} }, func() runtime.Object { return &corev1.PodList{} }),
		testKind(core("Service"), "services", true, true,
			func() kinds.Object { return &corev1.Service{} }, func() runtime.Object { return &corev1.ServiceList{} }),
		testKind(core("ConfigMap"), "configmaps", true, false,
			func() kinds.Object { return &corev1.ConfigMap{} }, func() runtime.Object { return &corev1.ConfigMapList{} }),
		testKind(core("Namespace"), "namespaces", false, true,
			func() kinds.Object { return &corev1.Namespace{} }, func() runtime.Object { return &corev1.NamespaceList{} }),
		deploy,
	)
	if err != nil {
		t.Fatalf("registry: %v", err)
	}
	return reg
}

// testServer serves a handler built from testRegistry.
func testServer(t testing.TB) (*Handler, *httptest.Server) {
	t.Helper()
	h, err := New(testRegistry(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv
}
