package apiserver_test

import (
	"context"
	"net/http"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestServer_podBinding(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	pods := s.cs.CoreV1().Pods("default")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}}}
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bind := func(node string) error {
		return pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Target: corev1.ObjectReference{Kind: "Node", Name: node}}, metav1.CreateOptions{})
	}
	if err := bind("n1"); err != nil {
		t.Fatal(err)
	}
	got, _ := pods.Get(ctx, "p", metav1.GetOptions{})
	if got.Spec.NodeName != "n1" {
		t.Fatalf("nodeName %q", got.Spec.NodeName)
	}
	scheduled := false
	for _, c := range got.Status.Conditions {
		scheduled = scheduled || (c.Type == corev1.PodScheduled && c.Status == corev1.ConditionTrue)
	}
	if !scheduled || got.Status.Phase != corev1.PodPending {
		t.Fatalf("status after binding: %+v", got.Status)
	}
	if err := bind("n2"); !apierrors.IsConflict(err) {
		t.Fatalf("second binding: want Conflict, got %v", err)
	}
	if code, body, _ := s.do("POST", "/api/v1/namespaces/default/pods/p/binding", "application/json", `{"target":{"kind":"Pod","name":"x"}}`); code != http.StatusUnprocessableEntity {
		t.Fatalf("binding to a non-node: %d %s", code, body)
	}
	if code, _, _ := s.do("POST", "/api/v1/namespaces/default/configmaps/p/binding", "application/json", `{}`); code != http.StatusNotFound {
		t.Fatalf("binding a configmap: %d", code)
	}
}

func TestServer_podGracefulDeletion(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	pods := s.cs.CoreV1().Pods("default")
	grace := int64(20)
	mk := func(name string) {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: &grace, Containers: []corev1.Container{{Name: "c", Image: "i"}}}}
		if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mk("unbound")
	if err := pods.Delete(ctx, "unbound", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "unbound", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("an unbound pod goes at once: %v", err)
	}

	mk("bound")
	pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "bound"}, Target: corev1.ObjectReference{Name: "n1"}}, metav1.CreateOptions{})
	if err := pods.Delete(ctx, "bound", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	p, err := pods.Get(ctx, "bound", metav1.GetOptions{})
	if err != nil || p.DeletionTimestamp == nil || *p.DeletionGracePeriodSeconds != 20 {
		t.Fatalf("a bound pod is marked deleting with its grace: %v %+v", err, p.ObjectMeta)
	}
	// The node's status updates keep it; a shorter grace shortens it; the
	// node's final delete (grace 0) removes it.
	p.Status.Phase = corev1.PodRunning
	if _, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "bound", metav1.GetOptions{}); err != nil {
		t.Fatalf("a status update removed a terminating pod: %v", err)
	}
	five := int64(5)
	pods.Delete(ctx, "bound", metav1.DeleteOptions{GracePeriodSeconds: &five})
	if p, _ := pods.Get(ctx, "bound", metav1.GetOptions{}); *p.DeletionGracePeriodSeconds != 5 {
		t.Fatalf("grace not shortened: %d", *p.DeletionGracePeriodSeconds)
	}
	zero := int64(0)
	if err := pods.Delete(ctx, "bound", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "bound", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("final delete: %v", err)
	}
}
