package scheduler_test

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/keel-edge/keel/coordinator"
	"github.com/keel-edge/keel/coordinator/coordtest"
	"github.com/keel-edge/keel/coordinator/scheduler"
)

// startScheduler runs a coordinator without controllers and a scheduler
// against it until the test ends.
func startScheduler(t testing.TB, mutate ...func(*scheduler.Config)) kubernetes.Interface {
	t.Helper()
	c := coordtest.Start(t, func(c *coordinator.Config) { c.Controllers = false })
	cfg := scheduler.TestConfig(c.Client)
	cfg.Log = c.Config.Log
	for _, m := range mutate {
		m(&cfg)
	}
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
	return c.Client
}

// addNode creates a ready node with the given capacity and taints.
func addNode(t testing.TB, cs kubernetes.Interface, name, cpu, mem string, taints ...corev1.Taint) {
	t.Helper()
	ctx := context.Background()
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
		Spec:       corev1.NodeSpec{Taints: taints},
	}
	n, err := cs.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	alloc := corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem),
		corev1.ResourcePods: resource.MustParse("110"),
	}
	n.Status.Capacity, n.Status.Allocatable = alloc, alloc
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
		LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func newPod(name string, mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "localhost/busybox:v1",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}},
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func createPod(t testing.TB, cs kubernetes.Interface, p *corev1.Pod) {
	t.Helper()
	if _, err := cs.CoreV1().Pods(p.Namespace).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t testing.TB, what string, cond wait.ConditionWithContextFunc) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// event returns the first event of reason about the pod.
func event(cs kubernetes.Interface, pod, reason string) func(ctx context.Context) (*corev1.Event, error) {
	return func(ctx context.Context) (*corev1.Event, error) {
		evs, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		for i := range evs.Items {
			e := &evs.Items[i]
			if e.InvolvedObject.Kind == "Pod" && e.InvolvedObject.Name == pod && e.Reason == reason {
				return e, nil
			}
		}
		return nil, nil
	}
}

func TestScheduler_waitsForANodeThenBinds(t *testing.T) {
	cs := startScheduler(t)
	ctx := context.Background()
	createPod(t, cs, newPod("web"))

	var cond corev1.PodCondition
	waitFor(t, "PodScheduled=False", func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled {
				cond = c
				return true, nil
			}
		}
		return false, nil
	})
	if cond.Status != corev1.ConditionFalse || cond.Reason != corev1.PodReasonUnschedulable || cond.Message != "no nodes available to schedule pods" {
		t.Fatalf("condition %+v", cond)
	}
	var failed *corev1.Event
	waitFor(t, "FailedScheduling event", func(ctx context.Context) (bool, error) {
		e, err := event(cs, "web", "FailedScheduling")(ctx)
		failed = e
		return e != nil, err
	})
	if failed.Type != corev1.EventTypeWarning || failed.Message != "no nodes available to schedule pods" || failed.Source.Component != corev1.DefaultSchedulerName {
		t.Fatalf("event %+v", failed)
	}

	// A node that does not fit: the message names why.
	addNode(t, cs, "tainted", "2", "2Gi", corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule})
	want := "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: db}."
	waitFor(t, "the taint in the condition", func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Message == want {
				return true, nil
			}
		}
		return false, nil
	})

	addNode(t, cs, "n1", "2", "2Gi")
	waitFor(t, "binding", func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
		return err == nil && p.Spec.NodeName != "", err
	})
	p, _ := cs.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
	if p.Spec.NodeName != "n1" {
		t.Fatalf("bound to %q", p.Spec.NodeName)
	}
	var ok *corev1.Event
	waitFor(t, "Scheduled event", func(ctx context.Context) (bool, error) {
		e, err := event(cs, "web", "Scheduled")(ctx)
		ok = e
		return e != nil, err
	})
	if ok.Type != corev1.EventTypeNormal || ok.Message != "Successfully assigned default/web to n1" {
		t.Fatalf("event %+v", ok)
	}

	// Pods of another scheduler are left alone.
	createPod(t, cs, newPod("other", func(p *corev1.Pod) { p.Spec.SchedulerName = "other-scheduler" }))
	createPod(t, cs, newPod("after"))
	waitFor(t, "the next pod bound", func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "after", metav1.GetOptions{})
		return err == nil && p.Spec.NodeName != "", err
	})
	if p, _ := cs.CoreV1().Pods("default").Get(ctx, "other", metav1.GetOptions{}); p.Spec.NodeName != "" || len(p.Status.Conditions) != 0 {
		t.Fatalf("another scheduler's pod was touched: node %q conditions %v", p.Spec.NodeName, p.Status.Conditions)
	}
}

func TestScheduler_spreadsReplicas(t *testing.T) {
	cs := startScheduler(t)
	for _, n := range []string{"n1", "n2", "n3"} {
		addNode(t, cs, n, "4", "8Gi")
	}
	yes := true
	owner := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-abc", UID: types.UID("rs-uid"), Controller: &yes}
	for i := range 6 {
		createPod(t, cs, newPod(fmt.Sprintf("web-%d", i), func(p *corev1.Pod) { p.OwnerReferences = []metav1.OwnerReference{owner} }))
	}
	per := map[string]int{}
	waitFor(t, "6 pods bound", func(ctx context.Context) (bool, error) {
		pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermNotEqualSelector("spec.nodeName", "").String()})
		if err != nil {
			return false, err
		}
		clear(per)
		for _, p := range pods.Items {
			per[p.Spec.NodeName]++
		}
		return len(pods.Items) == 6, nil
	})
	if want := map[string]int{"n1": 2, "n2": 2, "n3": 2}; !maps.Equal(per, want) {
		t.Fatalf("placement %v, want %v", per, want)
	}
}

func TestScheduler_failedPodsFreeTheirNode(t *testing.T) {
	cs := startScheduler(t)
	ctx := context.Background()
	addNode(t, cs, "n1", "1", "1Gi")
	big := func(p *corev1.Pod) {
		p.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("800m")
	}
	createPod(t, cs, newPod("first", big))
	waitFor(t, "first bound", func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "first", metav1.GetOptions{})
		return err == nil && p.Spec.NodeName == "n1", err
	})
	createPod(t, cs, newPod("second", big))
	waitFor(t, "second unschedulable", func(ctx context.Context) (bool, error) {
		e, err := event(cs, "second", "FailedScheduling")(ctx)
		return e != nil && e.Message == "0/1 nodes are available: 1 Insufficient cpu.", err
	})
	p, err := cs.CoreV1().Pods("default").Get(ctx, "first", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Phase = corev1.PodSucceeded
	if _, err := cs.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "second bound once the first finished", func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "second", metav1.GetOptions{})
		return err == nil && p.Spec.NodeName == "n1", err
	})
}

func TestScheduler_claimsWithoutTheVolumeAPI(t *testing.T) {
	cs := startScheduler(t)
	addNode(t, cs, "n1", "1", "1Gi")
	createPod(t, cs, newPod("db", func(p *corev1.Pod) {
		p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}
	}))
	waitFor(t, "FailedScheduling for the missing claim", func(ctx context.Context) (bool, error) {
		e, err := event(cs, "db", "FailedScheduling")(ctx)
		return e != nil && e.Message == `0/1 nodes are available: persistentvolumeclaim "data" not found.`, err
	})
}

func TestScheduler_schedulingGates(t *testing.T) {
	cs := startScheduler(t)
	ctx := context.Background()
	addNode(t, cs, "n1", "1", "1Gi")
	createPod(t, cs, newPod("gated", func(p *corev1.Pod) {
		p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}}
	}))
	waitFor(t, "SchedulingGated", func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "gated", metav1.GetOptions{})
		if err != nil || p.Spec.NodeName != "" {
			return false, fmt.Errorf("pod %v, err %v", p.Spec.NodeName, err)
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Reason == "SchedulingGated" && c.Message == "Scheduling is blocked due to non-empty scheduling gates" {
				return true, nil
			}
		}
		return false, nil
	})
	p, err := cs.CoreV1().Pods("default").Get(ctx, "gated", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Spec.SchedulingGates = nil
	if _, err := cs.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bound once ungated", func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "gated", metav1.GetOptions{})
		return err == nil && p.Spec.NodeName == "n1", err
	})
}
