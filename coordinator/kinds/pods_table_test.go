package kinds

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// tableNow is the fixed "now" of every table test.
var tableNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) metav1.Time { return metav1.NewTime(tableNow.Add(-d)) }

func running(name string, ready bool, restarts int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, Ready: ready, RestartCount: restarts,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
}

func TestPodRow_golden(t *testing.T) {
	base := func() *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "web", CreationTimestamp: ago(2 * time.Hour)},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}},
			Status:     corev1.PodStatus{Phase: corev1.PodPending},
		}
	}
	for _, tc := range []struct {
		name   string
		change func(p *corev1.Pod)
		want   []any
	}{
		{"pending", func(p *corev1.Pod) {}, []any{"0/1", "Pending", "0", "120m", "<none>", "<none>", "<none>", "<none>"}},
		{"running wide", func(p *corev1.Pod) {
			p.Spec.NodeName = "node-1"
			p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/lb"}, {ConditionType: "example.com/dns"}}
			p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.9",
				PodIPs:            []corev1.PodIP{{IP: "10.0.0.9"}},
				NominatedNodeName: "node-2",
				Conditions:        []corev1.PodCondition{{Type: "example.com/lb", Status: corev1.ConditionTrue}},
				ContainerStatuses: []corev1.ContainerStatus{running("app", true, 0)}}
		}, []any{"1/1", "Running", "0", "120m", "10.0.0.9", "node-1", "node-2", "1/2"}},
		{"crash loop", func(p *corev1.Pod) {
			p.Status = corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
				Name: "app", RestartCount: 5,
				State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
					ExitCode: 1, Reason: "Error", FinishedAt: ago(5 * time.Minute)}},
			}}}
		}, []any{"0/1", "CrashLoopBackOff", "5 (5m ago)", "120m", "<none>", "<none>", "<none>", "<none>"}},
		{"init 0/1", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "migrate"}}
			p.Status = corev1.PodStatus{Phase: corev1.PodPending,
				InitContainerStatuses: []corev1.ContainerStatus{running("migrate", false, 0)},
				ContainerStatuses: []corev1.ContainerStatus{{Name: "app",
					State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}}}}
		}, []any{"0/1", "Init:0/1", "0", "120m", "<none>", "<none>", "<none>", "<none>"}},
		{"init crash loop", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "a"}, {Name: "b"}}
			p.Status = corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{
				{Name: "a", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}},
				{Name: "b", RestartCount: 2, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}},
			}}
		}, []any{"0/1", "Init:CrashLoopBackOff", "2", "120m", "<none>", "<none>", "<none>", "<none>"}},
		{"init exit code", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "a"}}
			p.Status = corev1.PodStatus{Phase: corev1.PodFailed, InitContainerStatuses: []corev1.ContainerStatus{
				{Name: "a", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 3}}}}}
		}, []any{"0/1", "Init:ExitCode:3", "0", "120m", "<none>", "<none>", "<none>", "<none>"}},
		{"sidecar counts as a container", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "proxy", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways)}}
			side := running("proxy", true, 1)
			side.Started = ptr.To(true)
			p.Status = corev1.PodStatus{Phase: corev1.PodRunning,
				Conditions:            []corev1.PodCondition{{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}},
				InitContainerStatuses: []corev1.ContainerStatus{side},
				ContainerStatuses:     []corev1.ContainerStatus{running("app", true, 0)}}
		}, []any{"2/2", "Running", "1", "120m", "<none>", "<none>", "<none>", "<none>"}},
		{"completed", func(p *corev1.Pod) {
			p.Status = corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{Name: "app",
				State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}}}}}
		}, []any{"0/1", "Completed", "0", "120m", "<none>", "<none>", "<none>", "<none>"}},
		{"one completed one running", func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "job"})
			p.Status = corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
				running("app", true, 0),
				{Name: "job", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}}},
			}}
		}, []any{"1/2", "NotReady", "0", "120m", "<none>", "<none>", "<none>", "<none>"}},
		{"signal", func(p *corev1.Pod) {
			p.Status = corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{Name: "app",
				State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Signal: 9, ExitCode: 137}}}}}
		}, []any{"0/1", "Signal:9", "0", "120m", "<none>", "<none>", "<none>", "<none>"}},
		{"terminating", func(p *corev1.Pod) {
			p.DeletionTimestamp = ptr.To(ago(time.Second))
			p.Status = corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{running("app", true, 0)}}
		}, []any{"1/1", "Terminating", "0", "120m", "<none>", "<none>", "<none>", "<none>"}},
		{"deleted after success", func(p *corev1.Pod) {
			p.DeletionTimestamp = ptr.To(ago(time.Second))
			p.Status = corev1.PodStatus{Phase: corev1.PodSucceeded}
		}, []any{"0/1", "Succeeded", "0", "120m", "<none>", "<none>", "<none>", "<none>"}},
		{"node lost", func(p *corev1.Pod) {
			p.DeletionTimestamp = ptr.To(ago(time.Second))
			p.Status = corev1.PodStatus{Phase: corev1.PodRunning, Reason: "NodeLost"}
		}, []any{"0/1", "Unknown", "0", "120m", "<none>", "<none>", "<none>", "<none>"}},
		{"evicted", func(p *corev1.Pod) {
			p.Status = corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted"}
		}, []any{"0/1", "Evicted", "0", "120m", "<none>", "<none>", "<none>", "<none>"}},
		{"scheduling gated", func(p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Reason: corev1.PodReasonSchedulingGated}}
		}, []any{"0/1", "SchedulingGated", "0", "120m", "<none>", "<none>", "<none>", "<none>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := base()
			tc.change(p)
			got := podRow(p, tableNow)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("row\n got  %q\n want %q", got, tc.want)
			}
			if len(got) != len(podColumns) {
				t.Errorf("%d cells for %d columns", len(got), len(podColumns))
			}
		})
	}
}
