package kinds

import (
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

var jobColumns = []metav1.TableColumnDefinition{
	column("Status", "Status of the job."),
	column("Completions", batchv1.JobStatus{}.SwaggerDoc()["succeeded"]),
	column("Duration", "Time required to complete the job."),
	ageColumn(),
	containersColumn,
	imagesColumn,
	wide(column("Selector", batchv1.JobSpec{}.SwaggerDoc()["selector"])),
}

// jobRow is STATUS, COMPLETIONS, DURATION, AGE, then CONTAINERS, IMAGES and
// SELECTOR for -o wide.
func jobRow(j *batchv1.Job, now time.Time) []any {
	var completions string
	switch {
	case j.Spec.Completions != nil:
		completions = fmt.Sprintf("%d/%d", j.Status.Succeeded, *j.Spec.Completions)
	case j.Spec.Parallelism != nil && *j.Spec.Parallelism > 1:
		completions = fmt.Sprintf("%d/1 of %d", j.Status.Succeeded, *j.Spec.Parallelism)
	default:
		completions = fmt.Sprintf("%d/1", j.Status.Succeeded)
	}
	var took string
	switch {
	case j.Status.StartTime == nil:
	case j.Status.CompletionTime == nil:
		took = duration.HumanDuration(now.Sub(j.Status.StartTime.Time))
	default:
		took = duration.HumanDuration(j.Status.CompletionTime.Sub(j.Status.StartTime.Time))
	}
	names, images := containerCells(j.Spec.Template.Spec.Containers)
	return []any{jobStatus(j), completions, took, ageSince(j.CreationTimestamp, now), names, images, selectorText(j.Spec.Selector, "")}
}

// jobStatus is the STATUS cell: the first of Complete, Failed,
// Terminating, Suspended, FailureTarget, SuccessCriteriaMet that applies,
// else Running.
func jobStatus(j *batchv1.Job) string {
	switch {
	case jobCondition(j, batchv1.JobComplete):
		return "Complete"
	case jobCondition(j, batchv1.JobFailed):
		return "Failed"
	case j.DeletionTimestamp != nil:
		return "Terminating"
	case jobCondition(j, batchv1.JobSuspended):
		return "Suspended"
	case jobCondition(j, batchv1.JobFailureTarget):
		return "FailureTarget"
	case jobCondition(j, batchv1.JobSuccessCriteriaMet):
		return "SuccessCriteriaMet"
	default:
		return "Running"
	}
}

// jobCondition reports whether the first condition of type t is True.
func jobCondition(j *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

var cronJobColumns = []metav1.TableColumnDefinition{
	column("Schedule", batchv1.CronJobSpec{}.SwaggerDoc()["schedule"]),
	column("Timezone", batchv1.CronJobSpec{}.SwaggerDoc()["timeZone"]),
	{Name: "Suspend", Type: "boolean", Description: batchv1.CronJobSpec{}.SwaggerDoc()["suspend"]},
	intColumn("Active", batchv1.CronJobStatus{}.SwaggerDoc()["active"]),
	column("Last Schedule", batchv1.CronJobStatus{}.SwaggerDoc()["lastScheduleTime"]),
	ageColumn(),
	containersColumn,
	imagesColumn,
	wide(column("Selector", batchv1.JobSpec{}.SwaggerDoc()["selector"])),
}

// cronJobRow is SCHEDULE, TIMEZONE, SUSPEND, ACTIVE, LAST SCHEDULE, AGE,
// then CONTAINERS, IMAGES and SELECTOR for -o wide.
func cronJobRow(c *batchv1.CronJob, now time.Time) []any {
	last := "<none>"
	if c.Status.LastScheduleTime != nil {
		last = ageSince(*c.Status.LastScheduleTime, now)
	}
	tz := "<none>"
	if c.Spec.TimeZone != nil {
		tz = *c.Spec.TimeZone
	}
	suspend := "<unset>"
	if c.Spec.Suspend != nil {
		suspend = "False"
		if *c.Spec.Suspend {
			suspend = "True"
		}
	}
	names, images := containerCells(c.Spec.JobTemplate.Spec.Template.Spec.Containers)
	return []any{
		c.Spec.Schedule, tz, suspend, int64(len(c.Status.Active)), last, ageSince(c.CreationTimestamp, now),
		names, images, selectorText(c.Spec.JobTemplate.Spec.Selector, ""),
	}
}
