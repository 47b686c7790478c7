package agent_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/keel-edge/keel/agent"
	"github.com/keel-edge/keel/agent/agenttest"
	"github.com/keel-edge/keel/coordinator"
)

func TestPods_pendingToRunning(t *testing.T) {
	cs := startCoordinator(t)
	n := newTestNode(t)
	n.run(t, cs)
	create(t, cs, busybox("web"))
	p := waitPod(t, cs, "web", "running and ready", running)
	if p.Spec.NodeName != nodeName {
		t.Fatalf("bound to %q", p.Spec.NodeName)
	}
	for _, c := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		if condition(p, c) != corev1.ConditionTrue {
			t.Errorf("condition %s = %q", c, condition(p, c))
		}
	}
	st := p.Status
	cst := st.ContainerStatuses[0]
	if st.PodIP != "10.244.0.2" || st.HostIP != "192.0.2.1" || st.StartTime == nil || st.QOSClass != corev1.PodQOSBestEffort {
		t.Errorf("status %+v", st)
	}
	if !strings.HasPrefix(cst.ContainerID, "keel://") || cst.ImageID != "sha256:b0" || cst.State.Running == nil || !*cst.Started {
		t.Errorf("container status %+v", cst)
	}
	for _, ev := range []string{"Scheduled", "Pulled", "Created", "Started"} {
		waitEvent(t, cs, "web", ev, "")
	}
	spec, ok := n.rt.Spec(strings.TrimPrefix(cst.ContainerID, "keel://"))
	if !ok || strings.Join(spec.Args, " ") != "sleep 3600" || !strings.HasSuffix(spec.LogPath, "/a/0.log") || spec.Resources.PidsLimit != 4096 {
		t.Errorf("runtime spec %+v", spec)
	}
}

func TestPods_crashLoopBackOff(t *testing.T) {
	cs := startCoordinator(t)
	n := newTestNode(t)
	n.run(t, cs)
	uid := string(create(t, cs, busybox("crash")).UID)
	waitPod(t, cs, "crash", "running", running)
	restarts := func(want int32) func(*corev1.Pod) bool {
		return func(p *corev1.Pod) bool {
			cst := p.Status.ContainerStatuses
			return len(cst) == 1 && cst[0].RestartCount == want && cst[0].State.Running != nil
		}
	}
	backoff := func(delay string) func(*corev1.Pod) bool {
		return func(p *corev1.Pod) bool {
			cst := p.Status.ContainerStatuses
			if len(cst) != 1 || cst[0].State.Waiting == nil {
				return false
			}
			w := cst[0].State.Waiting
			last := cst[0].LastTerminationState.Terminated
			return w.Reason == "CrashLoopBackOff" && strings.Contains(w.Message, "back-off "+delay) &&
				last != nil && last.ExitCode == 1 && last.Reason == "Error" && p.Status.Phase == corev1.PodRunning &&
				condition(p, corev1.PodReady) == corev1.ConditionFalse
		}
	}
	// The first crash restarts at once.
	if err := n.rt.Exit(uid, "a", 1); err != nil {
		t.Fatal(err)
	}
	waitPod(t, cs, "crash", "restart 1", restarts(1))
	// Then 10s, 20s, 40s of back-off, on the fake clock.
	for i, d := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second} {
		if err := n.rt.Exit(uid, "a", 1); err != nil {
			t.Fatal(err)
		}
		waitPod(t, cs, "crash", "back-off "+d.String(), backoff(d.String()))
		n.clk.Step(d - time.Second)
		// Still backing off a second before the delay ends.
		time.Sleep(50 * time.Millisecond)
		if p := getPod(t, cs, "crash"); !backoff(d.String())(p) {
			t.Fatalf("restarted before the back-off ended: %s", describe(p))
		}
		n.clk.Step(2 * time.Second)
		waitPod(t, cs, "crash", fmt.Sprintf("restart %d", i+2), restarts(int32(i+2)))
	}
	waitEvent(t, cs, "crash", "BackOff", "Back-off restarting failed container a")
}

func TestPods_deletionRunsGracefulStop(t *testing.T) {
	cs := startCoordinator(t)
	n := newTestNode(t)
	n.run(t, cs)
	grace := int64(7)
	p := create(t, cs, busybox("bye", func(p *corev1.Pod) {
		p.Spec.TerminationGracePeriodSeconds = &grace
		p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{
			Exec: &corev1.ExecAction{Command: []string{"/bin/drain", "--now"}}}}
	}))
	uid := string(p.UID)
	waitPod(t, cs, "bye", "running", running)
	if !n.net.Attached(uid) {
		t.Fatal("pod has no address")
	}
	if err := cs.CoreV1().Pods("default").Delete(context.Background(), "bye", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "sandbox removed", func() (bool, string) {
		return !n.rt.HasSandbox(uid) && !n.net.Attached(uid), fmt.Sprint(n.rt.Stops())
	})
	// The API kept the bound pod, marked deleting, until the node stopped
	// it and made the final delete.
	waitFor(t, "pod gone from the API", func() (bool, string) {
		_, err := cs.CoreV1().Pods("default").Get(context.Background(), "bye", metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	var preStop bool
	for _, e := range n.rt.Execs() {
		preStop = preStop || strings.Join(e.Cmd, " ") == "/bin/drain --now"
	}
	stops := n.rt.Stops()
	if !preStop || len(stops) != 1 || stops[0].Grace <= 0 || stops[0].Grace > 7*time.Second {
		t.Fatalf("preStop %v, stops %+v; want the hook then one stop within 7s", preStop, stops)
	}
	if cts, _ := n.rt.Containers(context.Background()); len(cts) != 0 {
		t.Fatalf("containers left: %+v", cts)
	}
	waitEvent(t, cs, "bye", "Killing", "Stopping container a")
}

func TestPods_agentRestartAdopts(t *testing.T) {
	cs := startCoordinator(t)
	n := newTestNode(t)
	stop := n.run(t, cs)
	create(t, cs, busybox("keep"))
	before := waitPod(t, cs, "keep", "running", running)
	stop()
	starts, attaches := n.rt.Starts(), n.net.Attaches()

	n.run(t, cs)
	// A second pod proves the new loop has synced; the first is adopted.
	create(t, cs, busybox("next"))
	waitPod(t, cs, "next", "running", running)
	after := getPod(t, cs, "keep")
	if n.rt.Starts() != starts+1 || n.net.Attaches() != attaches+1 {
		t.Fatalf("starts %d -> %d, attaches %d -> %d: the running pod was restarted", starts, n.rt.Starts(), attaches, n.net.Attaches())
	}
	if !running(after) || after.Status.ContainerStatuses[0].ContainerID != before.Status.ContainerStatuses[0].ContainerID ||
		after.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Fatalf("adopted pod %s", describe(after))
	}
}

func TestPods_rebootWithoutCoordinatorRestartsPods(t *testing.T) {
	cs := startCoordinator(t)
	n := newTestNode(t)
	stop := n.run(t, cs)
	uid := string(create(t, cs, busybox("offline")).UID)
	waitPod(t, cs, "offline", "running", running)
	stop()
	n.rt.Reboot()
	starts := n.rt.Starts()

	// No API: a socket nothing listens on.
	dead, err := kubernetes.NewForConfig(coordinator.LocalConfig(filepath.Join(t.TempDir(), "none.sock")))
	if err != nil {
		t.Fatal(err)
	}
	cfg := agent.TestPodsConfig(nodeName, n.dir, n.clk)
	cfg.BootID = "second-boot"
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := agent.NewPods(cfg, dead, n.rt, n.img, n.net)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "pod restarted from local state", func() (bool, string) {
		cts, _ := n.rt.Containers(context.Background())
		for _, c := range cts {
			if c.PodUID == uid && c.Running {
				return n.rt.Starts() == starts+1 && n.rt.HasSandbox(uid), ""
			}
		}
		return false, fmt.Sprint(cts)
	})
}

func TestPods_readinessFailureFlipsReady(t *testing.T) {
	cs := startCoordinator(t)
	n := newTestNode(t)
	n.run(t, cs)
	n.rt.SetExecResult("/bin/ready", 0)
	create(t, cs, busybox("probed", func(p *corev1.Pod) {
		p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/ready"}}},
			PeriodSeconds: 1, FailureThreshold: 1, SuccessThreshold: 1,
		}
	}))
	waitPod(t, cs, "probed", "ready", running)
	n.rt.SetExecResult("/bin/ready", 1)
	n.clk.Step(2 * time.Second)
	p := waitPod(t, cs, "probed", "not ready", func(p *corev1.Pod) bool {
		return condition(p, corev1.PodReady) == corev1.ConditionFalse
	})
	if p.Status.Phase != corev1.PodRunning || p.Status.ContainerStatuses[0].Ready || p.Status.ContainerStatuses[0].State.Running == nil {
		t.Fatalf("after readiness failure: %s", describe(p))
	}
	waitEvent(t, cs, "probed", "Unhealthy", "Readiness probe failed")
	n.rt.SetExecResult("/bin/ready", 0)
	n.clk.Step(2 * time.Second)
	waitPod(t, cs, "probed", "ready again", running)
}

func TestPods_livenessFailureRestarts(t *testing.T) {
	cs := startCoordinator(t)
	n := newTestNode(t)
	n.run(t, cs)
	create(t, cs, busybox("alive", func(p *corev1.Pod) {
		p.Spec.Containers[0].LivenessProbe = &corev1.Probe{
			ProbeHandler:        corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/live"}}},
			InitialDelaySeconds: 5, PeriodSeconds: 1, FailureThreshold: 1,
		}
	}))
	waitPod(t, cs, "alive", "running", running)
	n.rt.SetExecResult("/bin/live", 1)
	// The probe fails once the initial delay is over; the restarted
	// container's own delay keeps it from being probed again.
	n.clk.Step(6 * time.Second)
	waitPod(t, cs, "alive", "restarted", func(p *corev1.Pod) bool {
		cst := p.Status.ContainerStatuses
		return len(cst) == 1 && cst[0].RestartCount == 1 && cst[0].State.Running != nil
	})
	waitEvent(t, cs, "alive", "Killing", "failed liveness probe")
}

func TestPods_unrunnablePodsGetClearStatus(t *testing.T) {
	cs := startCoordinator(t)
	n := newTestNode(t)
	n.run(t, cs)
	create(t, cs, busybox("huge", func(p *corev1.Pod) {
		p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Gi")}
	}))
	create(t, cs, busybox("nopull", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "missing:1" }))
	create(t, cs, busybox("never", func(p *corev1.Pod) {
		p.Spec.Containers[0].Image = "absent:1"
		p.Spec.Containers[0].ImagePullPolicy = corev1.PullNever
	}))
	create(t, cs, busybox("nocfg", func(p *corev1.Pod) {
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{
			ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Key: "k"}}}}
	}))
	waitPod(t, cs, "huge", "rejected", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodFailed && p.Status.Reason == "OutOfmemory"
	})
	waitEvent(t, cs, "huge", "OutOfmemory", "Node didn't have enough resource: memory")
	waiting := func(reason, msg string) func(*corev1.Pod) bool {
		return func(p *corev1.Pod) bool {
			cst := p.Status.ContainerStatuses
			return len(cst) == 1 && cst[0].State.Waiting != nil && cst[0].State.Waiting.Reason == reason &&
				strings.Contains(cst[0].State.Waiting.Message, msg) && p.Status.Phase == corev1.PodPending
		}
	}
	waitPod(t, cs, "nopull", "image pull back-off", waiting("ImagePullBackOff", "manifest unknown"))
	waitEvent(t, cs, "nopull", "Failed", "Failed to pull image")
	waitPod(t, cs, "never", "never pull", waiting("ErrImageNeverPull", "not present with pull policy of Never"))
	waitPod(t, cs, "nocfg", "config error", waiting("CreateContainerConfigError", `configmap "gone" not found`))
	n.clk.Step(15 * time.Second)
	waitPod(t, cs, "nopull", "pull retried", func(p *corev1.Pod) bool {
		return countPulls(n.img, "missing:1") >= 2
	})
}

func countPulls(img *agenttest.Images, ref string) int {
	c := 0
	for _, p := range img.Pulls() {
		if p.Ref == ref {
			c++
		}
	}
	return c
}

func TestPods_configMapVolumeFollowsUpdates(t *testing.T) {
	cs := startCoordinator(t)
	n := newTestNode(t)
	n.run(t, cs)
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "default"}, Data: map[string]string{"mode": "v1"}}
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := create(t, cs, busybox("conf", func(p *corev1.Pod) {
		p.Spec.Volumes = []corev1.Volume{{Name: "cfg", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}}}
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "cfg", MountPath: "/etc/app"}}
	}))
	up := waitPod(t, cs, "conf", "running", running)
	file := filepath.Join(n.dir, "pods", string(p.UID), "volumes", "kubernetes.io~configmap", "cfg", "mode")
	if data, err := os.ReadFile(file); err != nil || string(data) != "v1" {
		t.Fatalf("volume file %q %v", data, err)
	}
	spec, _ := n.rt.Spec(strings.TrimPrefix(up.Status.ContainerStatuses[0].ContainerID, "keel://"))
	// The volume, then the pod's /etc/hosts, /etc/hostname and /etc/resolv.conf.
	if len(spec.Mounts) != 4 || spec.Mounts[0].Destination != "/etc/app" || !spec.Mounts[0].ReadOnly ||
		spec.Mounts[1].Destination != "/etc/hosts" || spec.Mounts[2].Destination != "/etc/hostname" ||
		spec.Mounts[3].Destination != "/etc/resolv.conf" {
		t.Fatalf("mounts %+v", spec.Mounts)
	}
	cm.Data["mode"] = "v2"
	if _, err := cs.CoreV1().ConfigMaps("default").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	n.clk.Step(2 * time.Minute)
	waitFor(t, "volume updated", func() (bool, string) {
		data, err := os.ReadFile(file)
		return err == nil && string(data) == "v2", string(data)
	})
}
