package agent_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/keel-edge/keel/agent"
	"github.com/keel-edge/keel/agent/agenttest"
	"github.com/keel-edge/keel/coordinator"
	"github.com/keel-edge/keel/coordinator/coordtest"
)

const nodeName = "node-a"

var epoch = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

func startCoordinator(t *testing.T) kubernetes.Interface {
	t.Helper()
	return coordtest.Start(t, func(c *coordinator.Config) { c.NodeName = nodeName }).Client
}

// testNode is one node's fakes and state directory.
type testNode struct {
	rt  *agenttest.Runtime
	img *agenttest.Images
	net *agenttest.Network
	clk *testingclock.FakeClock
	dir string
	// pods is the running loop, once run.
	pods *agent.Pods
}

func newTestNode(t *testing.T) *testNode {
	clk := testingclock.NewFakeClock(epoch)
	return &testNode{
		rt:  agenttest.NewRuntime(clk.Now),
		img: agenttest.NewImages(agent.Image{Ref: "busybox:1", Digest: "sha256:b0", Entrypoint: []string{"sh"}}),
		net: agenttest.NewNetwork(),
		clk: clk,
		dir: t.TempDir(),
	}
}

// run starts the node's pod loop and returns a function stopping it.
func (n *testNode) run(t *testing.T, cs kubernetes.Interface) func() {
	t.Helper()
	cfg := agent.TestPodsConfig(nodeName, n.dir, n.clk)
	cfg.BindUnscheduled = true
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := agent.NewPods(cfg, cs, n.rt, n.img, n.net)
	if err != nil {
		t.Fatal(err)
	}
	n.pods = p
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("pods run: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		ok, s := cond()
		if ok {
			return
		}
		last = s
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; last: %s", what, last)
}

func busybox(name string, mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "busybox:1", Command: []string{"sleep", "3600"}}}},
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func create(t *testing.T, cs kubernetes.Interface, p *corev1.Pod) *corev1.Pod {
	t.Helper()
	out, err := cs.CoreV1().Pods(p.Namespace).Create(context.Background(), p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func getPod(t *testing.T, cs kubernetes.Interface, name string) *corev1.Pod {
	t.Helper()
	p, err := cs.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func condition(p *corev1.Pod, typ corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range p.Status.Conditions {
		if c.Type == typ {
			return c.Status
		}
	}
	return ""
}

func describe(p *corev1.Pod) string {
	s := fmt.Sprintf("node=%q phase=%s reason=%s", p.Spec.NodeName, p.Status.Phase, p.Status.Reason)
	for _, c := range p.Status.ContainerStatuses {
		s += fmt.Sprintf(" %s{restarts=%d ready=%v state=%+v}", c.Name, c.RestartCount, c.Ready, c.State)
	}
	return s
}

// waitPod waits until the named pod satisfies ok.
func waitPod(t *testing.T, cs kubernetes.Interface, name, what string, ok func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var p *corev1.Pod
	waitFor(t, name+" "+what, func() (bool, string) {
		p = getPod(t, cs, name)
		return ok(p), describe(p)
	})
	return p
}

func running(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodRunning && condition(p, corev1.PodReady) == corev1.ConditionTrue
}

func waitEvent(t *testing.T, cs kubernetes.Interface, obj, reason, contains string) {
	t.Helper()
	waitFor(t, "event "+reason+" on "+obj, func() (bool, string) {
		evs, err := cs.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, e := range evs.Items {
			if e.InvolvedObject.Name == obj && e.Reason == reason && strings.Contains(e.Message, contains) {
				return true, ""
			}
			seen = append(seen, e.Reason+": "+e.Message)
		}
		return false, strings.Join(seen, "; ")
	})
}
