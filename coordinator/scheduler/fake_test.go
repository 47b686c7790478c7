package scheduler_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/keel-edge/keel/coordinator/scheduler"
)

func fakeNode(name string) *corev1.Node {
	alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("2Gi"), corev1.ResourcePods: resource.MustParse("10")}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
		Status: corev1.NodeStatus{Allocatable: alloc, Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
}

// With an API that serves the volume kinds (a fake clientset here, since
// the coordinator does not serve them yet), a pod follows its volume's
// node affinity, and a binding the API rejects is retried.
func TestScheduler_volumesAndBindingRetry(t *testing.T) {
	wffc := storagev1.VolumeBindingWaitForFirstConsumer
	class := "local"
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv-n2"}, Spec: corev1.PersistentVolumeSpec{
		NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{"n2"}}}}}}}}}
	cs := fake.NewClientset(
		fakeNode("n1"), fakeNode("n2"), fakeNode("n3"), pv,
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: class}, VolumeBindingMode: &wffc},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "data"},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &class, VolumeName: "pv-n2"}},
	)
	cs.Resources = []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{{Name: "pods"}, {Name: "persistentvolumeclaims"}, {Name: "persistentvolumes"}}},
		{GroupVersion: "storage.k8s.io/v1", APIResources: []metav1.APIResource{{Name: "storageclasses"}}},
	}
	var binds atomic.Int32
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ca, ok := a.(k8stesting.CreateAction)
		if !ok || ca.GetSubresource() != "binding" {
			return false, nil, nil
		}
		if binds.Add(1) == 1 {
			return true, nil, apierrors.NewInternalError(context.DeadlineExceeded)
		}
		b := ca.GetObject().(*corev1.Binding)
		obj, err := cs.Tracker().Get(corev1.SchemeGroupVersion.WithResource("pods"), b.Namespace, b.Name)
		if err != nil {
			return true, nil, err
		}
		p := obj.(*corev1.Pod).DeepCopy()
		p.Spec.NodeName = b.Target.Name
		return true, nil, cs.Tracker().Update(corev1.SchemeGroupVersion.WithResource("pods"), p, b.Namespace)
	})
	cfg := scheduler.TestConfig(cs)
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := scheduler.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("scheduler run: %v", err)
		}
	})

	createPod(t, cs, newPod("db", func(p *corev1.Pod) {
		p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}
	}))
	waitFor(t, "bound to the volume's node", func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "db", metav1.GetOptions{})
		if err != nil || p.Spec.NodeName == "" {
			return false, err
		}
		if p.Spec.NodeName != "n2" {
			t.Fatalf("bound to %s, want n2", p.Spec.NodeName)
		}
		return true, nil
	})
	if n := binds.Load(); n != 2 {
		t.Fatalf("%d bindings, want the rejected one and its retry", n)
	}
	waitFor(t, "the rejected binding's event", func(ctx context.Context) (bool, error) {
		e, err := event(cs, "db", "FailedScheduling")(ctx)
		return e != nil && strings.HasPrefix(e.Message, "Binding rejected: "), err
	})
}
