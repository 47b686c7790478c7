package controllers

import (
	"fmt"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

const jobUID = types.UID("job-uid")

type jobOpt func(*batchv1.Job)

func testJob(opts ...jobOpt) *batchv1.Job {
	l := map[string]string{batchv1.ControllerUidLabel: string(jobUID), batchv1.JobNameLabel: "pi"}
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "default", UID: jobUID, CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour))},
		Spec: batchv1.JobSpec{
			Completions: ptr.To[int32](1), Parallelism: ptr.To[int32](1), BackoffLimit: ptr.To[int32](6),
			CompletionMode: ptr.To(batchv1.NonIndexedCompletion), Suspend: ptr.To(false),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.ControllerUidLabel: string(jobUID)}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l},
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "pi", Image: "busybox"}}}},
		},
		Status: batchv1.JobStatus{StartTime: ptr.To(metav1.NewTime(t0.Add(-time.Minute)))},
	}
	for _, o := range opts {
		o(j)
	}
	return j
}

func completions(n int32) jobOpt { return func(j *batchv1.Job) { j.Spec.Completions = ptr.To(n) } }
func parallelism(n int32) jobOpt { return func(j *batchv1.Job) { j.Spec.Parallelism = ptr.To(n) } }
func workQueue() jobOpt          { return func(j *batchv1.Job) { j.Spec.Completions = nil } }
func indexedJob() jobOpt {
	return func(j *batchv1.Job) { j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion) }
}
func backoffLimit(n int32) jobOpt { return func(j *batchv1.Job) { j.Spec.BackoffLimit = ptr.To(n) } }
func suspended() jobOpt           { return func(j *batchv1.Job) { j.Spec.Suspend = ptr.To(true) } }
func notStarted() jobOpt          { return func(j *batchv1.Job) { j.Status.StartTime = nil } }
func deadline(s int64) jobOpt {
	return func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = ptr.To(s) }
}
func ttl(s int32) jobOpt { return func(j *batchv1.Job) { j.Spec.TTLSecondsAfterFinished = ptr.To(s) } }
func withCondition(ct batchv1.JobConditionType, at time.Time) jobOpt {
	return func(j *batchv1.Job) {
		j.Status.Conditions = append(j.Status.Conditions, batchv1.JobCondition{Type: ct, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(at)})
		if ct == batchv1.JobComplete {
			j.Status.CompletionTime = ptr.To(metav1.NewTime(at))
		}
	}
}

// jobPod is a pod of testJob; opts as for the ReplicaSet tests.
func jobPod(name string, opts ...podOpt) *corev1.Pod {
	base := []podOpt{
		labelled(map[string]string{batchv1.ControllerUidLabel: string(jobUID)}),
		func(p *corev1.Pod) {
			p.OwnerReferences = []metav1.OwnerReference{{Kind: "Job", Name: "pi", UID: jobUID, Controller: ptr.To(true)}}
		},
	}
	return mkPod(name, append(base, opts...)...)
}

func finished(ph corev1.PodPhase, at time.Time) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Phase = ph
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "pi",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.NewTime(at)}}}}
	}
}
func index(i int) podOpt {
	return func(p *corev1.Pod) {
		p.Annotations = map[string]string{batchv1.JobCompletionIndexAnnotation: fmt.Sprint(i)}
	}
}
func restarts(n int32) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodRunning
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "pi", RestartCount: n}}
	}
}
func orphan() podOpt { return func(p *corev1.Pod) { p.OwnerReferences = nil } }

// summary writes a plan's effects and the conditions it leaves, for
// comparison.
func summary(p JobPlan) string {
	var out []string
	if p.Create > 0 {
		out = append(out, fmt.Sprintf("create %d", p.Create))
	}
	if len(p.CreateIndexes) > 0 {
		out = append(out, fmt.Sprintf("create indexes %v", p.CreateIndexes))
	}
	for _, d := range p.Delete {
		out = append(out, "delete "+d.Name)
	}
	for _, a := range p.Adopt {
		out = append(out, "adopt "+a.Name)
	}
	for _, c := range p.Status.Conditions {
		out = append(out, fmt.Sprintf("%s=%s/%s", c.Type, c.Status, c.Reason))
	}
	for _, e := range p.Events {
		out = append(out, "event "+e.Reason)
	}
	if p.DeleteJob {
		out = append(out, "delete job")
	}
	if p.RequeueAfter > 0 {
		out = append(out, "requeue "+p.RequeueAfter.String())
	}
	return strings.Join(out, "; ")
}

func TestDecideJob_plans(t *testing.T) {
	for _, tc := range []struct {
		name string
		job  *batchv1.Job
		pods []*corev1.Pod
		want string
	}{
		{name: "new job starts parallelism pods", job: testJob(completions(3), parallelism(2), notStarted()), want: "create 2"},
		{name: "running at parallelism", job: testJob(completions(3), parallelism(2)),
			pods: []*corev1.Pod{jobPod("a", phase(corev1.PodRunning)), jobPod("b")}, want: ""},
		{name: "no more than the completions left", job: testJob(completions(3), parallelism(2)),
			pods: []*corev1.Pod{jobPod("a", finished(corev1.PodSucceeded, t0)), jobPod("b", finished(corev1.PodSucceeded, t0))},
			want: "create 1"},
		{name: "complete", job: testJob(completions(2), parallelism(2)),
			pods: []*corev1.Pod{jobPod("a", finished(corev1.PodSucceeded, t0)), jobPod("b", finished(corev1.PodSucceeded, t0))},
			want: "SuccessCriteriaMet=True/CompletionsReached; Complete=True/CompletionsReached; event Completed"},
		{name: "complete with ttl 0 deletes the job", job: testJob(ttl(0)),
			pods: []*corev1.Pod{jobPod("a", finished(corev1.PodSucceeded, t0))},
			want: "SuccessCriteriaMet=True/CompletionsReached; Complete=True/CompletionsReached; event Completed; delete job"},
		{name: "success criteria met with pods left: they go first", job: testJob(completions(1), parallelism(2)),
			pods: []*corev1.Pod{jobPod("a", finished(corev1.PodSucceeded, t0)), jobPod("b", phase(corev1.PodRunning))},
			want: "delete b; SuccessCriteriaMet=True/CompletionsReached"},
		{name: "lowered parallelism deletes the surplus", job: testJob(completions(5), parallelism(1)),
			pods: []*corev1.Pod{jobPod("a", ready(t0)), jobPod("b")}, want: "delete b"},
		{name: "work queue: a success stops new pods", job: testJob(workQueue(), parallelism(3)),
			pods: []*corev1.Pod{jobPod("a", finished(corev1.PodSucceeded, t0)), jobPod("b", phase(corev1.PodRunning))}, want: ""},
		{name: "work queue: complete when all are done", job: testJob(workQueue(), parallelism(2)),
			pods: []*corev1.Pod{jobPod("a", finished(corev1.PodSucceeded, t0)), jobPod("b", finished(corev1.PodFailed, t0))},
			want: "SuccessCriteriaMet=True/CompletionsReached; Complete=True/CompletionsReached; event Completed"},
		{name: "back-off after one failure", job: testJob(),
			pods: []*corev1.Pod{jobPod("a", finished(corev1.PodFailed, t0.Add(-4*time.Second)))}, want: "requeue 6s"},
		{name: "back-off doubles", job: testJob(),
			pods: []*corev1.Pod{jobPod("a", finished(corev1.PodFailed, t0.Add(-30*time.Second))),
				jobPod("b", finished(corev1.PodFailed, t0.Add(-15*time.Second)))}, want: "requeue 5s"},
		{name: "back-off over", job: testJob(),
			pods: []*corev1.Pod{jobPod("a", finished(corev1.PodFailed, t0.Add(-11*time.Second)))}, want: "create 1"},
		{name: "back-off capped at six minutes", job: testJob(backoffLimit(20)),
			pods: func() []*corev1.Pod {
				var ps []*corev1.Pod
				for i := range 10 {
					ps = append(ps, jobPod(fmt.Sprint("f", i), finished(corev1.PodFailed, t0.Add(-time.Minute))))
				}
				return ps
			}(), want: "requeue 5m0s"},
		{name: "a success resets the back-off", job: testJob(completions(2)),
			pods: []*corev1.Pod{jobPod("a", finished(corev1.PodFailed, t0.Add(-time.Minute))),
				jobPod("b", finished(corev1.PodSucceeded, t0.Add(-time.Second)))}, want: "create 1"},
		{name: "backoff limit exceeded", job: testJob(backoffLimit(1)),
			pods: []*corev1.Pod{jobPod("a", finished(corev1.PodFailed, t0)), jobPod("b", finished(corev1.PodFailed, t0))},
			want: "FailureTarget=True/BackoffLimitExceeded; Failed=True/BackoffLimitExceeded; event BackoffLimitExceeded"},
		{name: "backoff limit exceeded with active pods: they go first", job: testJob(backoffLimit(0), parallelism(2), completions(2)),
			pods: []*corev1.Pod{jobPod("a", finished(corev1.PodFailed, t0)), jobPod("b", phase(corev1.PodRunning))},
			want: "delete b; FailureTarget=True/BackoffLimitExceeded"},
		{name: "OnFailure restarts count", job: func() *batchv1.Job {
			j := testJob(backoffLimit(2))
			j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
			return j
		}(), pods: []*corev1.Pod{jobPod("a", restarts(3))},
			want: "delete a; FailureTarget=True/BackoffLimitExceeded"},
		{name: "deadline exceeded", job: testJob(deadline(30)),
			pods: []*corev1.Pod{jobPod("a", phase(corev1.PodRunning))},
			want: "delete a; FailureTarget=True/DeadlineExceeded"},
		{name: "deadline exceeded, nothing left", job: testJob(deadline(30)),
			want: "FailureTarget=True/DeadlineExceeded; Failed=True/DeadlineExceeded; event DeadlineExceeded"},
		{name: "deadline ahead", job: testJob(deadline(90)), pods: []*corev1.Pod{jobPod("a", phase(corev1.PodRunning))},
			want: "requeue 30s"},
		{name: "suspend deletes active pods", job: testJob(suspended()), pods: []*corev1.Pod{jobPod("a", phase(corev1.PodRunning))},
			want: "delete a; Suspended=True/JobSuspended; event Suspended"},
		{name: "created suspended", job: testJob(suspended(), notStarted()), want: "Suspended=True/JobSuspended; event Suspended"},
		{name: "resumed", job: testJob(withCondition(batchv1.JobSuspended, t0.Add(-time.Hour))),
			want: "create 1; Suspended=False/JobResumed; event Resumed"},
		{name: "finished: ttl ahead", job: testJob(ttl(30), withCondition(batchv1.JobComplete, t0.Add(-10*time.Second))),
			pods: []*corev1.Pod{jobPod("a", finished(corev1.PodSucceeded, t0))}, want: "Complete=True/; requeue 20s"},
		{name: "finished: ttl over", job: testJob(ttl(5), withCondition(batchv1.JobFailed, t0.Add(-10*time.Second))),
			want: "Failed=True/; delete job"},
		{name: "finished: no ttl, pods kept", job: testJob(withCondition(batchv1.JobComplete, t0.Add(-time.Hour))),
			pods: []*corev1.Pod{jobPod("a", finished(corev1.PodSucceeded, t0))}, want: "Complete=True/"},
		{name: "finished: a pod seen running again is left alone", job: testJob(withCondition(batchv1.JobComplete, t0.Add(-time.Hour))),
			pods: []*corev1.Pod{jobPod("a", phase(corev1.PodRunning))}, want: "Complete=True/"},
		{name: "adopts a matching orphan", job: testJob(), pods: []*corev1.Pod{jobPod("a", orphan(), phase(corev1.PodRunning))},
			want: "adopt a"},
		{name: "indexed: missing indexes, lowest first", job: testJob(indexedJob(), completions(4), parallelism(2)),
			pods: []*corev1.Pod{jobPod("a", index(0), finished(corev1.PodSucceeded, t0)), jobPod("b", index(2), phase(corev1.PodRunning))},
			want: "create indexes [1]"},
		{name: "indexed: a failed index is retried", job: testJob(indexedJob(), completions(2), parallelism(2)),
			pods: []*corev1.Pod{jobPod("a", index(0), finished(corev1.PodFailed, t0.Add(-time.Minute))), jobPod("b", index(1), phase(corev1.PodRunning))},
			want: "create indexes [0]"},
		{name: "indexed: duplicates deleted", job: testJob(indexedJob(), completions(2), parallelism(2)),
			pods: []*corev1.Pod{jobPod("a", index(1), ready(t0)), jobPod("b", index(1), phase(corev1.PodRunning))},
			want: "create indexes [0]; delete b"},
		{name: "indexed: complete", job: testJob(indexedJob(), completions(2), parallelism(2)),
			pods: []*corev1.Pod{jobPod("a", index(0), finished(corev1.PodSucceeded, t0)), jobPod("b", index(1), finished(corev1.PodSucceeded, t0))},
			want: "SuccessCriteriaMet=True/CompletionsReached; Complete=True/CompletionsReached; event Completed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := decideJob(tc.job, tc.pods, t0, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if got := summary(plan); got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestDecideJob_status(t *testing.T) {
	job := testJob(indexedJob(), completions(5), parallelism(2), notStarted())
	pods := []*corev1.Pod{
		jobPod("a", index(0), finished(corev1.PodSucceeded, t0)),
		jobPod("b", index(1), finished(corev1.PodSucceeded, t0)),
		jobPod("c", index(3), finished(corev1.PodSucceeded, t0)),
		jobPod("d", index(2), finished(corev1.PodFailed, t0.Add(-time.Minute))),
		jobPod("e", index(2), ready(t0)),
		jobPod("f", index(4), phase(corev1.PodRunning), deleting()),
	}
	plan, err := decideJob(job, pods, t0, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	st := plan.Status
	if st.Active != 1 || *st.Ready != 1 || st.Succeeded != 3 || st.Failed != 1 || *st.Terminating != 1 ||
		st.CompletedIndexes != "0-1,3" || st.StartTime == nil || !st.StartTime.Time.Equal(t0) {
		t.Fatalf("status %+v", st)
	}
	if fmt.Sprint(plan.CreateIndexes) != "[4]" {
		t.Fatalf("create %v", plan.CreateIndexes)
	}
}

func TestDecideJob_conditionsStable(t *testing.T) {
	job := testJob(suspended())
	plan, _ := decideJob(job, nil, t0, time.Second)
	job.Status = plan.Status
	again, _ := decideJob(job, nil, t0.Add(time.Minute), time.Second)
	if len(again.Events) != 0 || again.Status.Conditions[0].LastProbeTime != plan.Status.Conditions[0].LastProbeTime {
		t.Fatalf("a second sync changed the condition: %+v events %v", again.Status.Conditions, again.Events)
	}
}

func TestFormatIndexes(t *testing.T) {
	for _, tc := range []struct {
		in   []int
		want string
	}{
		{nil, ""}, {[]int{0}, "0"}, {[]int{0, 1}, "0-1"}, {[]int{5, 0, 1, 2, 7, 8}, "0-2,5,7-8"},
	} {
		set := map[int]bool{}
		for _, i := range tc.in {
			set[i] = true
		}
		if got := formatIndexes(set); got != tc.want {
			t.Errorf("%v: got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNewJobPod(t *testing.T) {
	job := testJob(indexedJob(), completions(3))
	p := newJobPod(job, 2)
	if p.GenerateName != "pi-2-" || p.Spec.Hostname != "pi-2" || p.Annotations[batchv1.JobCompletionIndexAnnotation] != "2" ||
		p.Labels[batchv1.JobCompletionIndexAnnotation] != "2" || p.Labels[batchv1.ControllerUidLabel] != string(jobUID) {
		t.Fatalf("indexed pod %+v", p.ObjectMeta)
	}
	env := p.Spec.Containers[0].Env
	if len(env) != 1 || env[0].Name != "JOB_COMPLETION_INDEX" || env[0].ValueFrom.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
		t.Fatalf("env %+v", env)
	}
	if !metav1.IsControlledBy(p, job) || job.Spec.Template.Annotations != nil {
		t.Fatalf("owners %v; template changed: %v", p.OwnerReferences, job.Spec.Template.Annotations)
	}
	if q := newJobPod(testJob(), -1); q.GenerateName != "pi-" || q.Spec.Hostname != "" || len(q.Spec.Containers[0].Env) != 0 {
		t.Fatalf("non-indexed pod %+v", q)
	}
}
