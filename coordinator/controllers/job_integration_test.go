package controllers_test

import (
	"context"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

func testJob(name string, completions, parallelism int32) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: batchv1.JobSpec{
			Completions: ptr.To(completions), Parallelism: ptr.To(parallelism),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "work", Image: "busybox"}}}},
		},
	}
}

// jobPods lists the pods of the Job named job, or of every Job.
func jobPods(t *testing.T, cs kubernetes.Interface, job string) []corev1.Pod {
	t.Helper()
	sel := batchv1.JobNameLabel
	if job != "" {
		sel += "=" + job
	}
	l, err := cs.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

// finishPods ends every ready pod of job that is still running with phase,
// as a node would once its containers exit; it returns how many it ended.
func finishPods(t *testing.T, cs kubernetes.Interface, job string, phase corev1.PodPhase) int {
	t.Helper()
	n := 0
	for _, p := range jobPods(t, cs, job) {
		if p.Status.Phase != corev1.PodRunning || !isReady(&p) {
			continue
		}
		now := metav1.Now()
		code := int32(0)
		if phase == corev1.PodFailed {
			code = 1
		}
		p.Status.Phase = phase
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: now}}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "work", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: code, FinishedAt: now}}}}
		if _, err := cs.CoreV1().Pods("default").UpdateStatus(context.Background(), &p, metav1.UpdateOptions{}); err == nil {
			n++
		}
	}
	return n
}

func jobHas(cs kubernetes.Interface, name string, ct batchv1.JobConditionType, reason string) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		j, err := cs.BatchV1().Jobs("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range j.Status.Conditions {
			if c.Type == ct && c.Status == corev1.ConditionTrue && (reason == "" || c.Reason == reason) {
				return true, nil
			}
		}
		return false, nil
	}
}

func eventReasons(t *testing.T, cs kubernetes.Interface, kind, name string) string {
	t.Helper()
	l, err := cs.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range l.Items {
		if e.InvolvedObject.Kind == kind && e.InvolvedObject.Name == name {
			out = append(out, e.Reason)
		}
	}
	return strings.Join(out, ",")
}

func TestJob_completes(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	if _, err := c.cs.BatchV1().Jobs("default").Create(ctx, testJob("pi", 3, 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	done := 0
	waitFor(t, "three pods to succeed", func(ctx context.Context) (bool, error) {
		if n := len(jobPods(t, c.cs, "pi")); n > 3 {
			t.Fatalf("%d pods for 3 completions", n)
		}
		done += finishPods(t, c.cs, "pi", corev1.PodSucceeded)
		return done >= 3, nil
	})
	kubectl(t, c, "wait", "--for=condition=complete", "job/pi", "--timeout=60s")
	j, err := c.cs.BatchV1().Jobs("default").Get(ctx, "pi", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if j.Status.Succeeded != 3 || j.Status.Active != 0 || j.Status.CompletionTime == nil || j.Status.StartTime == nil {
		t.Fatalf("status %+v", j.Status)
	}
	pods := jobPods(t, c.cs, "pi")
	if len(pods) != 3 {
		t.Fatalf("%d pods kept after completion, want 3", len(pods))
	}
	for _, p := range pods {
		if !metav1.IsControlledBy(&p, j) || p.Labels[batchv1.ControllerUidLabel] != string(j.UID) || p.Labels["job-name"] != "pi" {
			t.Fatalf("pod %s labels %v owners %v", p.Name, p.Labels, p.OwnerReferences)
		}
	}
	waitFor(t, "events", func(ctx context.Context) (bool, error) {
		ev := eventReasons(t, c.cs, "Job", "pi")
		return strings.Contains(ev, "SuccessfulCreate") && strings.Contains(ev, "Completed"), nil
	})
	if out := kubectl(t, c, "get", "job", "pi"); !strings.Contains(out, "Complete") || !strings.Contains(out, "3/3") {
		t.Fatalf("kubectl get job:\n%s", out)
	}
}

func TestJob_backoffLimitExceeded(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	job := testJob("flaky", 1, 1)
	job.Spec.BackoffLimit = ptr.To[int32](1)
	if _, err := c.cs.BatchV1().Jobs("default").Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "BackoffLimitExceeded", func(ctx context.Context) (bool, error) {
		finishPods(t, c.cs, "flaky", corev1.PodFailed)
		return jobHas(c.cs, "flaky", batchv1.JobFailed, "BackoffLimitExceeded")(ctx)
	})
	kubectl(t, c, "wait", "--for=condition=failed", "job/flaky", "--timeout=60s")
	j, _ := c.cs.BatchV1().Jobs("default").Get(ctx, "flaky", metav1.GetOptions{})
	if j.Status.Failed != 2 || j.Status.Active != 0 || j.Status.CompletionTime != nil {
		t.Fatalf("status %+v", j.Status)
	}
	waitFor(t, "BackoffLimitExceeded event", func(ctx context.Context) (bool, error) {
		return strings.Contains(eventReasons(t, c.cs, "Job", "flaky"), "BackoffLimitExceeded"), nil
	})
}

func TestJob_suspendAndTTL(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	job := testJob("batch", 1, 1)
	job.Spec.Suspend = ptr.To(true)
	job.Spec.TTLSecondsAfterFinished = ptr.To[int32](0)
	if _, err := c.cs.BatchV1().Jobs("default").Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Suspended", jobHas(c.cs, "batch", batchv1.JobSuspended, "JobSuspended"))
	if n := len(jobPods(t, c.cs, "batch")); n != 0 {
		t.Fatalf("%d pods for a suspended job", n)
	}
	kubectl(t, c, "patch", "job/batch", "--type=merge", "-p", `{"spec":{"suspend":false}}`)
	waitFor(t, "the pod to succeed", func(ctx context.Context) (bool, error) {
		return finishPods(t, c.cs, "batch", corev1.PodSucceeded) > 0, nil
	})
	waitFor(t, "the job and its pod deleted after the TTL", func(ctx context.Context) (bool, error) {
		_, err := c.cs.BatchV1().Jobs("default").Get(ctx, "batch", metav1.GetOptions{})
		return apierrors.IsNotFound(err) && len(jobPods(t, c.cs, "batch")) == 0, nil
	})
}

func TestJob_indexed(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	job := testJob("idx", 3, 3)
	job.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
	if _, err := c.cs.BatchV1().Jobs("default").Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "three pods", func(ctx context.Context) (bool, error) { return len(jobPods(t, c.cs, "idx")) == 3, nil })
	seen := map[string]bool{}
	for _, p := range jobPods(t, c.cs, "idx") {
		i := p.Annotations[batchv1.JobCompletionIndexAnnotation]
		if seen[i] || p.Spec.Hostname != "idx-"+i || !strings.HasPrefix(p.Name, "idx-"+i+"-") {
			t.Fatalf("pod %s index %q hostname %q", p.Name, i, p.Spec.Hostname)
		}
		seen[i] = true
	}
	done := 0
	waitFor(t, "completion", func(ctx context.Context) (bool, error) {
		done += finishPods(t, c.cs, "idx", corev1.PodSucceeded)
		return jobHas(c.cs, "idx", batchv1.JobComplete, "")(ctx)
	})
	j, _ := c.cs.BatchV1().Jobs("default").Get(ctx, "idx", metav1.GetOptions{})
	if j.Status.CompletedIndexes != "0-2" || j.Status.Succeeded != 3 {
		t.Fatalf("status %+v", j.Status)
	}
}
