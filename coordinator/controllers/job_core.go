package controllers

import (
	"fmt"
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kubectl/pkg/util/podutils"
)

// maxJobBackoff caps the delay before a failed Job pod is replaced, as in
// Kubernetes.
const maxJobBackoff = 6 * time.Minute

// jobIndexEnv is the variable Indexed Job pods find their index in.
const jobIndexEnv = "JOB_COMPLETION_INDEX"

var jobKind = batchv1.SchemeGroupVersion.WithKind("Job")

// ControllerEvent is an event a core asks its loop to record on the
// object it decided about.
type ControllerEvent struct {
	Type    string // corev1.EventTypeNormal or corev1.EventTypeWarning
	Reason  string
	Message string
}

// JobPlan is what the Job controller does for one Job in one sync.
type JobPlan struct {
	// Adopt and Release are pods whose controller reference is given or
	// taken away.
	Adopt, Release []*corev1.Pod
	// Create is the number of pods to create (NonIndexed).
	Create int
	// CreateIndexes are the completion indexes to create pods for (Indexed).
	CreateIndexes []int
	// Delete are active pods to delete: surplus, or the Job is finishing
	// or suspended.
	Delete []*corev1.Pod
	// Status is the Job's status after this sync.
	Status batchv1.JobStatus
	// Events are what the loop records on the Job.
	Events []ControllerEvent
	// DeleteJob is set once a finished Job's ttlSecondsAfterFinished ran out.
	DeleteJob bool
	// RequeueAfter, when positive, asks for another sync after this long:
	// a deadline, the end of a back-off, or the TTL.
	RequeueAfter time.Duration
}

// jobPods sorts a Job's pods by what they are doing.
type jobPods struct {
	active, succeeded, failed, terminating []*corev1.Pod
}

// decideJob compares a Job with the pods of its namespace and returns what
// to do, as Kubernetes' Job controller does for batch/v1. Finished pods
// are counted, not finalized: they are kept with the Job and are the
// record of its progress. backoff is the delay after the first failure;
// it doubles with each further failure since the last success, up to six
// minutes.
func decideJob(job *batchv1.Job, pods []*corev1.Pod, now time.Time, backoff time.Duration) (JobPlan, error) {
	var plan JobPlan
	if job.Spec.Selector == nil {
		return plan, fmt.Errorf("job %s/%s has no selector", job.Namespace, job.Name)
	}
	sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil {
		return plan, fmt.Errorf("job %s/%s selector: %w", job.Namespace, job.Name, err)
	}
	var jp jobPods
	for _, p := range pods {
		switch claimOf(job, sel, p) {
		case owned:
		case adopt:
			plan.Adopt = append(plan.Adopt, p)
		case release:
			plan.Release = append(plan.Release, p)
			continue
		default:
			continue
		}
		switch {
		case p.Status.Phase == corev1.PodSucceeded:
			jp.succeeded = append(jp.succeeded, p)
		case p.Status.Phase == corev1.PodFailed:
			jp.failed = append(jp.failed, p)
		case p.DeletionTimestamp != nil:
			jp.terminating = append(jp.terminating, p)
		default:
			jp.active = append(jp.active, p)
		}
	}
	st := job.Status.DeepCopy()
	indexed := isIndexedJob(job)
	succeededIdx := map[int]bool{}
	if indexed {
		for _, p := range jp.succeeded {
			if i, ok := podIndex(p); ok && i < int(completionsOf(job)) {
				succeededIdx[i] = true
			}
		}
		st.CompletedIndexes = formatIndexes(succeededIdx)
	}
	countJobPods(st, jp)
	plan.Status = *st
	if jobFinished(job) != "" {
		// A finished Job leaves its pods alone, as in Kubernetes: the
		// sync that finished it already deleted the active ones.
		plan.DeleteJob, plan.RequeueAfter = jobTTL(job, now)
		return plan, nil
	}
	if job.DeletionTimestamp != nil {
		return plan, nil
	}
	st = &plan.Status
	suspended := job.Spec.Suspend != nil && *job.Spec.Suspend
	if suspended {
		plan.Delete = jp.active
		if setJobCondition(st, batchv1.JobSuspended, corev1.ConditionTrue, "JobSuspended", "Job suspended", now) {
			plan.Events = append(plan.Events, ControllerEvent{corev1.EventTypeNormal, "Suspended", "Job suspended"})
		}
		return plan, nil
	}
	if c := jobCondition(job, batchv1.JobSuspended); c != nil && c.Status == corev1.ConditionTrue {
		setJobCondition(st, batchv1.JobSuspended, corev1.ConditionFalse, "JobResumed", "Job resumed", now)
		plan.Events = append(plan.Events, ControllerEvent{corev1.EventTypeNormal, "Resumed", "Job resumed"})
		st.StartTime = ptrTime(now)
	}
	if st.StartTime == nil {
		st.StartTime = ptrTime(now)
	}
	var wake []time.Duration

	// Failure first: the back-off limit, then the deadline.
	failReason, failMsg := "", ""
	if c := jobCondition(job, batchv1.JobFailureTarget); c != nil && c.Status == corev1.ConditionTrue {
		failReason, failMsg = c.Reason, c.Message
	}
	if failReason == "" && failuresOf(job, jp) > backoffLimitOf(job) {
		failReason, failMsg = batchv1.JobReasonBackoffLimitExceeded, "Job has reached the specified backoff limit"
	}
	if ads := job.Spec.ActiveDeadlineSeconds; failReason == "" && ads != nil {
		deadline := st.StartTime.Add(time.Duration(*ads) * time.Second)
		if !now.Before(deadline) {
			failReason, failMsg = batchv1.JobReasonDeadlineExceeded, "Job was active longer than specified deadline"
		} else {
			wake = append(wake, deadline.Sub(now))
		}
	}
	if failReason != "" {
		setJobCondition(st, batchv1.JobFailureTarget, corev1.ConditionTrue, failReason, failMsg, now)
		plan.Delete = jp.active
		if len(jp.active) == 0 && len(jp.terminating) == 0 {
			setJobCondition(st, batchv1.JobFailed, corev1.ConditionTrue, failReason, failMsg, now)
			plan.Events = append(plan.Events, ControllerEvent{corev1.EventTypeWarning, failReason, failMsg})
			plan.DeleteJob, plan.RequeueAfter = jobTTLAt(job, now, now)
		}
		return plan, nil
	}

	success := false
	if c := jobCondition(job, batchv1.JobSuccessCriteriaMet); c != nil && c.Status == corev1.ConditionTrue {
		success = true
	}
	switch {
	case indexed:
		success = success || len(succeededIdx) >= int(completionsOf(job))
	case job.Spec.Completions != nil:
		success = success || len(jp.succeeded) >= int(*job.Spec.Completions)
	default:
		success = success || (len(jp.succeeded) > 0 && len(jp.active) == 0)
	}
	if success {
		setJobCondition(st, batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue, batchv1.JobReasonCompletionsReached, "Reached expected number of succeeded pods", now)
		plan.Delete = jp.active
		if len(jp.active) == 0 && len(jp.terminating) == 0 {
			setJobCondition(st, batchv1.JobComplete, corev1.ConditionTrue, batchv1.JobReasonCompletionsReached, "Reached expected number of succeeded pods", now)
			st.CompletionTime = ptrTime(now)
			plan.Events = append(plan.Events, ControllerEvent{corev1.EventTypeNormal, "Completed", "Job completed"})
			plan.DeleteJob, plan.RequeueAfter = jobTTLAt(job, now, now)
		}
		return plan, nil
	}

	// Running: bring the active pods to what parallelism and the remaining
	// completions allow, after the back-off of recent failures.
	par := 1
	if job.Spec.Parallelism != nil {
		par = int(*job.Spec.Parallelism)
	}
	var missing []int
	want := par
	switch {
	case indexed:
		busy := map[int]bool{}
		for _, p := range jp.active {
			if i, ok := podIndex(p); ok {
				busy[i] = true
			}
		}
		for i := 0; i < int(completionsOf(job)); i++ {
			if !succeededIdx[i] && !busy[i] {
				missing = append(missing, i)
			}
		}
		want = min(par, len(missing)+len(busy))
		plan.Delete = duplicateIndexPods(jp.active, int(completionsOf(job)))
	case job.Spec.Completions != nil:
		want = min(par, int(*job.Spec.Completions)-len(jp.succeeded))
	case len(jp.succeeded) > 0:
		// A work queue with a success starts nothing more and lets the
		// pods still running finish.
		want = min(par, len(jp.active))
	}
	active := len(jp.active) - len(plan.Delete)
	switch {
	case active < want:
		if wait := backoffLeft(jp, now, backoff); wait > 0 {
			wake = append(wake, wait)
			break
		}
		n := min(want-active, burstReplicas)
		if indexed {
			plan.CreateIndexes = missing[:min(n, len(missing))]
		} else {
			plan.Create = n
		}
	case active > want && !indexed:
		ranked := append([]*corev1.Pod(nil), jp.active...)
		sort.Sort(podutils.ActivePods(ranked))
		plan.Delete = ranked[:active-want]
	}
	plan.RequeueAfter = soonest(wake)
	return plan, nil
}

func countJobPods(st *batchv1.JobStatus, jp jobPods) {
	st.Active = int32(len(jp.active))
	st.Succeeded = int32(len(jp.succeeded))
	st.Failed = int32(len(jp.failed))
	var ready int32
	for _, p := range jp.active {
		if podutils.IsPodReady(p) {
			ready++
		}
	}
	st.Ready = &ready
	st.Terminating = ptrInt32(int32(len(jp.terminating)))
}

// failuresOf counts failed pods and, for restartPolicy OnFailure, the
// container restarts of the active ones, as the back-off limit does.
func failuresOf(job *batchv1.Job, jp jobPods) int {
	n := len(jp.failed)
	if job.Spec.Template.Spec.RestartPolicy == corev1.RestartPolicyOnFailure {
		for _, p := range jp.active {
			for _, cs := range p.Status.InitContainerStatuses {
				n += int(cs.RestartCount)
			}
			for _, cs := range p.Status.ContainerStatuses {
				n += int(cs.RestartCount)
			}
		}
	}
	return n
}

// backoffLeft is how long new pods must still wait after the failures
// since the last success: backoff doubled per further failure, capped,
// counted from the last failure.
func backoffLeft(jp jobPods, now time.Time, backoff time.Duration) time.Duration {
	var lastSuccess time.Time
	for _, p := range jp.succeeded {
		if t := podFinished(p); t.After(lastSuccess) {
			lastSuccess = t
		}
	}
	n := 0
	var last time.Time
	for _, p := range jp.failed {
		t := podFinished(p)
		if t.Before(lastSuccess) {
			continue
		}
		n++
		if t.After(last) {
			last = t
		}
	}
	if n == 0 || backoff <= 0 {
		return 0
	}
	delay := backoff
	for i := 1; i < n && delay < maxJobBackoff; i++ {
		delay *= 2
	}
	delay = min(delay, maxJobBackoff)
	return last.Add(delay).Sub(now)
}

// podFinished is when a pod's last container ended, else when its
// conditions last changed, else when it was created.
func podFinished(p *corev1.Pod) time.Time {
	var t time.Time
	for _, cs := range p.Status.ContainerStatuses {
		if term := cs.State.Terminated; term != nil && term.FinishedAt.Time.After(t) {
			t = term.FinishedAt.Time
		}
	}
	if !t.IsZero() {
		return t
	}
	for _, c := range p.Status.Conditions {
		if c.LastTransitionTime.Time.After(t) {
			t = c.LastTransitionTime.Time
		}
	}
	if !t.IsZero() {
		return t
	}
	return p.CreationTimestamp.Time
}

// jobFinished is the type of the Job's terminal condition, or "".
func jobFinished(job *batchv1.Job) batchv1.JobConditionType {
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.Type
		}
	}
	return ""
}

// jobTTL decides a finished Job's ttlSecondsAfterFinished from when it
// finished.
func jobTTL(job *batchv1.Job, now time.Time) (bool, time.Duration) {
	var at time.Time
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			at = c.LastTransitionTime.Time
		}
	}
	if job.Status.CompletionTime != nil {
		at = job.Status.CompletionTime.Time
	}
	return jobTTLAt(job, at, now)
}

func jobTTLAt(job *batchv1.Job, finished, now time.Time) (bool, time.Duration) {
	ttl := job.Spec.TTLSecondsAfterFinished
	if ttl == nil {
		return false, 0
	}
	expire := finished.Add(time.Duration(*ttl) * time.Second)
	if !now.Before(expire) {
		return true, 0
	}
	return false, expire.Sub(now)
}

func jobCondition(job *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range job.Status.Conditions {
		if job.Status.Conditions[i].Type == t {
			return &job.Status.Conditions[i]
		}
	}
	return nil
}

// setJobCondition sets a condition, keeping its transition time when the
// status stays; it reports whether the status changed.
func setJobCondition(st *batchv1.JobStatus, t batchv1.JobConditionType, s corev1.ConditionStatus, reason, msg string, now time.Time) bool {
	for i := range st.Conditions {
		c := &st.Conditions[i]
		if c.Type != t {
			continue
		}
		changed := c.Status != s
		if changed {
			c.LastTransitionTime = metav1.NewTime(now)
		}
		if changed || c.Reason != reason || c.Message != msg {
			c.Status, c.Reason, c.Message, c.LastProbeTime = s, reason, msg, metav1.NewTime(now)
		}
		return changed
	}
	st.Conditions = append(st.Conditions, batchv1.JobCondition{Type: t, Status: s, Reason: reason, Message: msg,
		LastProbeTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now)})
	return true
}

func isIndexedJob(job *batchv1.Job) bool {
	return job.Spec.CompletionMode != nil && *job.Spec.CompletionMode == batchv1.IndexedCompletion
}

func completionsOf(job *batchv1.Job) int32 {
	if job.Spec.Completions == nil {
		return 0
	}
	return *job.Spec.Completions
}

func backoffLimitOf(job *batchv1.Job) int {
	if job.Spec.BackoffLimit == nil {
		return 6
	}
	return int(*job.Spec.BackoffLimit)
}

func soonest(ds []time.Duration) time.Duration {
	var out time.Duration
	for _, d := range ds {
		if d > 0 && (out == 0 || d < out) {
			out = d
		}
	}
	return out
}

func ptrTime(t time.Time) *metav1.Time {
	m := metav1.NewTime(t)
	return &m
}

func ptrInt32(v int32) *int32 { return &v }
