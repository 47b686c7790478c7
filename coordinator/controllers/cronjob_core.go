package controllers

import (
	"fmt"
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/keel-edge/keel/coordinator/kinds"
)

var cronJobKind = batchv1.SchemeGroupVersion.WithKind("CronJob")

const (
	// maxMissedSchedules is how many missed start times Kubernetes
	// tolerates before it warns with TooManyMissedTimes.
	maxMissedSchedules = 100
	// cronWakeSlack is added to the time of the next run, so that the sync
	// lands just after it, as in Kubernetes.
	cronWakeSlack = 100 * time.Millisecond
)

// CronJobPlan is what the CronJob controller does for one CronJob in one
// sync.
type CronJobPlan struct {
	// Create is the Job to create for ScheduledTime, or nil.
	Create *batchv1.Job
	// ScheduledTime is the run Create is for; the loop records it as
	// lastScheduleTime and the Job as active once the create succeeds.
	ScheduledTime time.Time
	// Delete are Jobs to delete: active ones replaced (concurrencyPolicy
	// Replace) and finished ones beyond the history limits.
	Delete []*batchv1.Job
	// Status is the CronJob's status before Create.
	Status batchv1.CronJobStatus
	// Events are recorded on the CronJob.
	Events []ControllerEvent
	// RequeueAfter is when to look again: just after the next run.
	RequeueAfter time.Duration
}

// decideCronJob compares a CronJob with the Jobs of its namespace at now
// and returns what to do, as Kubernetes' CronJob controller does.
func decideCronJob(cj *batchv1.CronJob, jobs []*batchv1.Job, now time.Time) CronJobPlan {
	var plan CronJobPlan
	st := cj.Status.DeepCopy()
	var owned []*batchv1.Job
	byUID := map[types.UID]*batchv1.Job{}
	for _, j := range jobs {
		if metav1.IsControlledBy(j, cj) {
			owned = append(owned, j)
			byUID[j.UID] = j
		}
	}
	// Active: the owned Jobs that have not finished.
	var active []corev1.ObjectReference
	listed := map[types.UID]bool{}
	for _, ref := range st.Active {
		j := byUID[ref.UID]
		if j == nil {
			continue
		}
		listed[ref.UID] = true
		if c := jobFinished(j); c != "" {
			plan.Events = append(plan.Events, ControllerEvent{corev1.EventTypeNormal, "SawCompletedJob",
				fmt.Sprintf("Saw completed job: %s, condition: %s", j.Name, c)})
			continue
		}
		active = append(active, ref)
	}
	for _, j := range owned {
		if !listed[j.UID] && jobFinished(j) == "" {
			active = append(active, jobRef(j))
		}
		if jobFinished(j) == batchv1.JobComplete && j.Status.CompletionTime != nil &&
			(st.LastSuccessfulTime == nil || j.Status.CompletionTime.After(st.LastSuccessfulTime.Time)) {
			st.LastSuccessfulTime = j.Status.CompletionTime.DeepCopy()
		}
	}
	st.Active = active
	plan.Status = *st
	if cj.DeletionTimestamp != nil {
		return plan
	}
	plan.Delete = pruneHistory(cj, owned)
	for _, j := range plan.Delete {
		plan.Events = append(plan.Events, ControllerEvent{corev1.EventTypeNormal, "SuccessfulDelete", "Deleted job " + j.Name})
	}
	if cj.Spec.Suspend != nil && *cj.Spec.Suspend {
		return plan
	}
	sched, err := kinds.ParseSchedule(cj.Spec.Schedule)
	if err != nil {
		plan.Events = append(plan.Events, ControllerEvent{corev1.EventTypeWarning, "UnparseableSchedule",
			fmt.Sprintf("unparseable schedule: %q : %s", cj.Spec.Schedule, err)})
		return plan
	}
	if tz := cj.Spec.TimeZone; tz != nil {
		loc, err := time.LoadLocation(*tz)
		if err != nil {
			plan.Events = append(plan.Events, ControllerEvent{corev1.EventTypeWarning, "UnknownTimeZone",
				fmt.Sprintf("invalid timeZone: %q: %s", *tz, err)})
			return plan
		}
		now = now.In(loc)
	}
	if next := sched.Next(now); !next.IsZero() {
		plan.RequeueAfter = next.Sub(now) + cronWakeSlack
	}
	earliest := cj.CreationTimestamp.Time
	if st.LastScheduleTime != nil {
		earliest = st.LastScheduleTime.Time
	}
	if sds := cj.Spec.StartingDeadlineSeconds; sds != nil {
		if d := now.Add(-time.Duration(*sds) * time.Second); d.After(earliest) {
			earliest = d
		}
	}
	last, missed := mostRecentSchedule(sched, earliest.In(now.Location()), now)
	if last.IsZero() {
		return plan
	}
	if missed > maxMissedSchedules {
		plan.Events = append(plan.Events, ControllerEvent{corev1.EventTypeWarning, "TooManyMissedTimes",
			"too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew"})
	}
	if sds := cj.Spec.StartingDeadlineSeconds; sds != nil && last.Add(time.Duration(*sds)*time.Second).Before(now) {
		plan.Events = append(plan.Events, ControllerEvent{corev1.EventTypeWarning, "MissSchedule",
			"Missed scheduled time to start a job: " + last.UTC().Format(time.RFC1123Z)})
		return plan
	}
	name := cronJobJobName(cj.Name, last)
	for _, ref := range active {
		if ref.Name == name {
			return plan
		}
	}
	switch cj.Spec.ConcurrencyPolicy {
	case batchv1.ForbidConcurrent:
		if len(active) > 0 {
			plan.Events = append(plan.Events, ControllerEvent{corev1.EventTypeNormal, "JobAlreadyActive",
				"Not starting job because prior execution is running and concurrency policy is Forbid"})
			return plan
		}
	case batchv1.ReplaceConcurrent:
		for _, ref := range active {
			if j := byUID[ref.UID]; j != nil {
				plan.Delete = append(plan.Delete, j)
				plan.Events = append(plan.Events, ControllerEvent{corev1.EventTypeNormal, "SuccessfulDelete", "Deleted job " + j.Name})
			}
		}
		plan.Status.Active = nil
	}
	plan.Create = newCronJobJob(cj, last, name)
	plan.ScheduledTime = last
	return plan
}

// mostRecentSchedule returns the latest activation of sched after
// earliest and not after now, and how many there were, counting up to
// one more than maxMissedSchedules.
func mostRecentSchedule(sched kinds.Schedule, earliest, now time.Time) (time.Time, int) {
	var last time.Time
	n := 0
	for t := sched.Next(earliest); !t.IsZero() && !t.After(now); t = sched.Next(t) {
		last = t
		n++
		if n > maxMissedSchedules {
			break
		}
	}
	if n <= maxMissedSchedules {
		return last, n
	}
	// Too many to walk: look back from now over growing windows.
	for _, w := range []time.Duration{time.Minute, time.Hour, 24 * time.Hour, 32 * 24 * time.Hour, 367 * 24 * time.Hour, 10 * 367 * 24 * time.Hour} {
		from := now.Add(-w)
		if from.Before(earliest) {
			from = earliest
		}
		var l time.Time
		for t := sched.Next(from); !t.IsZero() && !t.After(now); t = sched.Next(t) {
			l = t
		}
		if !l.IsZero() {
			return l, n
		}
	}
	return last, n
}

// cronJobJobName names the Job of one run: the CronJob's name and the
// scheduled time in minutes since the epoch, as Kubernetes does.
func cronJobJobName(cronJob string, scheduled time.Time) string {
	return fmt.Sprintf("%s-%d", cronJob, scheduled.Unix()/60)
}

// newCronJobJob is the Job of the run scheduled at t.
func newCronJobJob(cj *batchv1.CronJob, t time.Time, name string) *batchv1.Job {
	tmpl := cj.Spec.JobTemplate.DeepCopy()
	ann := tmpl.Annotations
	if ann == nil {
		ann = map[string]string{}
	}
	ann[batchv1.CronJobScheduledTimestampAnnotation] = t.Format(time.RFC3339)
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: cj.Namespace, Labels: tmpl.Labels, Annotations: ann,
			OwnerReferences: []metav1.OwnerReference{controllerRef(cj, cronJobKind)},
		},
		Spec: tmpl.Spec,
	}
}

func jobRef(j *batchv1.Job) corev1.ObjectReference {
	return corev1.ObjectReference{Kind: jobKind.Kind, APIVersion: jobKind.GroupVersion().String(),
		Namespace: j.Namespace, Name: j.Name, UID: j.UID}
}

// pruneHistory returns the finished Jobs beyond the CronJob's history
// limits, oldest first.
func pruneHistory(cj *batchv1.CronJob, owned []*batchv1.Job) []*batchv1.Job {
	var ok, failed []*batchv1.Job
	for _, j := range owned {
		if j.DeletionTimestamp != nil {
			continue
		}
		switch jobFinished(j) {
		case batchv1.JobComplete:
			ok = append(ok, j)
		case batchv1.JobFailed:
			failed = append(failed, j)
		}
	}
	var out []*batchv1.Job
	prune := func(js []*batchv1.Job, limit *int32) {
		if limit == nil || len(js) <= int(*limit) {
			return
		}
		sort.SliceStable(js, func(a, b int) bool { return jobStarted(js[a]).Before(jobStarted(js[b])) })
		out = append(out, js[:len(js)-int(*limit)]...)
	}
	prune(ok, cj.Spec.SuccessfulJobsHistoryLimit)
	prune(failed, cj.Spec.FailedJobsHistoryLimit)
	return out
}

func jobStarted(j *batchv1.Job) time.Time {
	if j.Status.StartTime != nil {
		return j.Status.StartTime.Time
	}
	return j.CreationTimestamp.Time
}
