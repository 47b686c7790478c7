package apiserver_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	policyv1beta1 "k8s.io/api/policy/v1beta1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func TestServer_evictionRespectsBudgets(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	pods := s.cs.CoreV1().Pods("default")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "i"}}}}
	created, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.244.0.5",
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
	if _, err := pods.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	pdbs := s.cs.PolicyV1().PodDisruptionBudgets("default")
	pdb, err := pdbs.Create(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromInt32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setBudget := func(allowed int32) {
		t.Helper()
		cur, _ := pdbs.Get(ctx, "web", metav1.GetOptions{})
		cur.Status = policyv1.PodDisruptionBudgetStatus{ObservedGeneration: pdb.Generation, DisruptionsAllowed: allowed,
			CurrentHealthy: 1 + allowed, DesiredHealthy: 1, ExpectedPods: 1 + allowed}
		if _, err := pdbs.UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	evict := func(name string) error {
		return pods.EvictV1(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}})
	}
	setBudget(0)
	err = evict("web-1")
	if !apierrors.IsTooManyRequests(err) || !strings.Contains(err.Error(), "Cannot evict pod as it would violate the pod's disruption budget.") {
		t.Fatalf("eviction against an exhausted budget: %v", err)
	}
	if got, _ := pods.Get(ctx, "web-1", metav1.GetOptions{}); got.DeletionTimestamp != nil {
		t.Fatal("refused eviction deleted the pod")
	}
	setBudget(1)
	if err := evict("web-1"); err != nil {
		t.Fatalf("allowed eviction: %v", err)
	}
	got, err := pods.Get(ctx, "web-1", metav1.GetOptions{})
	if err != nil || got.DeletionTimestamp == nil {
		t.Fatalf("evicted bound pod is not terminating: %v %+v", err, got)
	}
	after, _ := pdbs.Get(ctx, "web", metav1.GetOptions{})
	if after.Status.DisruptionsAllowed != 0 || after.Status.DisruptedPods["web-1"].Time.IsZero() {
		t.Fatalf("budget after the eviction: %+v", after.Status)
	}
	// An unbound pod under no budget goes at once, through policy/v1beta1.
	if _, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "lone"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pods.EvictV1beta1(ctx, &policyv1beta1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "lone", Namespace: "default"}}); err != nil {
		t.Fatalf("v1beta1 eviction: %v", err)
	}
	if _, err := pods.Get(ctx, "lone", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("evicted unbound pod: %v", err)
	}
	if err := evict("missing"); !apierrors.IsNotFound(err) {
		t.Fatalf("evicting a missing pod: %v", err)
	}
	if code, body, _ := s.do("POST", "/api/v1/namespaces/default/pods/web-1/eviction", "application/json", `{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"other"}}`); code != http.StatusBadRequest {
		t.Fatalf("eviction naming another pod: %d %s", code, body)
	}
}

func TestServer_evictionDiscovered(t *testing.T) {
	s := newTestServer(t)
	res, err := s.cs.Discovery().ServerResourcesForGroupVersion("v1")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range res.APIResources {
		if r.Name == "pods/eviction" {
			found = r.Kind == "Eviction" && r.Group == "policy" && r.Version == "v1"
		}
	}
	if !found {
		t.Fatal("pods/eviction is not discovered as policy/v1 Eviction")
	}
	if _, err := s.cs.Discovery().ServerResourcesForGroupVersion("policy/v1"); err != nil {
		t.Fatalf("policy/v1 discovery: %v", err)
	}
}
