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

type cronOpt func(*batchv1.CronJob)

func testCronJob(schedule string, opts ...cronOpt) *batchv1.CronJob {
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "cj", Namespace: "default", UID: "cj-uid", CreationTimestamp: metav1.NewTime(t0.Add(-90 * time.Minute))},
		Spec: batchv1.CronJobSpec{
			Schedule: schedule, ConcurrencyPolicy: batchv1.AllowConcurrent, Suspend: ptr.To(false),
			SuccessfulJobsHistoryLimit: ptr.To[int32](3), FailedJobsHistoryLimit: ptr.To[int32](1),
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "report"}},
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}},
			},
		},
	}
	for _, o := range opts {
		o(cj)
	}
	return cj
}

func lastScheduled(at time.Time) cronOpt {
	return func(cj *batchv1.CronJob) { cj.Status.LastScheduleTime = ptr.To(metav1.NewTime(at)) }
}
func policy(p batchv1.ConcurrencyPolicy) cronOpt {
	return func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = p }
}
func startingDeadline(s int64) cronOpt {
	return func(cj *batchv1.CronJob) { cj.Spec.StartingDeadlineSeconds = ptr.To(s) }
}
func activeJobs(js ...*batchv1.Job) cronOpt {
	return func(cj *batchv1.CronJob) {
		for _, j := range js {
			cj.Status.Active = append(cj.Status.Active, jobRef(j))
		}
	}
}

// cronJobOf is a Job of testCronJob started at start, finished as cond
// says ("" running).
func cronJobOf(name string, start time.Time, cond batchv1.JobConditionType) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name),
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: "cj", UID: "cj-uid", Controller: ptr.To(true)}}},
		Status: batchv1.JobStatus{StartTime: ptr.To(metav1.NewTime(start))}}
	if cond != "" {
		j.Status.Conditions = []batchv1.JobCondition{{Type: cond, Status: corev1.ConditionTrue}}
		if cond == batchv1.JobComplete {
			j.Status.CompletionTime = ptr.To(metav1.NewTime(start.Add(time.Minute)))
		}
	}
	return j
}

func cronSummary(p CronJobPlan) string {
	var out []string
	if p.Create != nil {
		out = append(out, fmt.Sprintf("create %s at %s", p.Create.Name, p.Create.Annotations[batchv1.CronJobScheduledTimestampAnnotation]))
	}
	for _, j := range p.Delete {
		out = append(out, "delete "+j.Name)
	}
	for _, e := range p.Events {
		out = append(out, "event "+e.Reason)
	}
	var active []string
	for _, a := range p.Status.Active {
		active = append(active, a.Name)
	}
	if len(active) > 0 {
		out = append(out, "active "+strings.Join(active, ","))
	}
	if p.RequeueAfter > 0 {
		out = append(out, "requeue "+p.RequeueAfter.String())
	}
	return strings.Join(out, "; ")
}

func TestDecideCronJob_plans(t *testing.T) {
	min := func(at time.Time) int64 { return at.Unix() / 60 }
	running := cronJobOf("cj-old", t0.Add(-5*time.Minute), "")
	ny, _ := time.LoadLocation("America/New_York")
	for _, tc := range []struct {
		name string
		cj   *batchv1.CronJob
		jobs []*batchv1.Job
		now  time.Time
		want string
	}{
		{name: "due", cj: testCronJob("*/5 * * * *", lastScheduled(t0.Add(-5*time.Minute))), now: t0,
			want: fmt.Sprintf("create cj-%d at 2025-06-01T12:00:00Z; requeue 5m0.1s", min(t0))},
		{name: "due a little late", cj: testCronJob("*/5 * * * *", lastScheduled(t0.Add(-5*time.Minute))), now: t0.Add(20 * time.Second),
			want: fmt.Sprintf("create cj-%d at 2025-06-01T12:00:00Z; requeue 4m40.1s", min(t0))},
		{name: "not due", cj: testCronJob("*/5 * * * *", lastScheduled(t0)), now: t0.Add(time.Minute), want: "requeue 4m0.1s"},
		{name: "first run from creation", cj: testCronJob("0 * * * *"), now: t0.Add(time.Second),
			want: fmt.Sprintf("create cj-%d at 2025-06-01T12:00:00Z; requeue 59m59.1s", min(t0))},
		{name: "suspended", cj: testCronJob("*/5 * * * *", func(c *batchv1.CronJob) { c.Spec.Suspend = ptr.To(true) }), now: t0, want: ""},
		{name: "forbid with a job running", cj: testCronJob("*/5 * * * *", lastScheduled(t0.Add(-5*time.Minute)),
			policy(batchv1.ForbidConcurrent), activeJobs(running)), jobs: []*batchv1.Job{running}, now: t0,
			want: "event JobAlreadyActive; active cj-old; requeue 5m0.1s"},
		{name: "replace the running job", cj: testCronJob("*/5 * * * *", lastScheduled(t0.Add(-5*time.Minute)),
			policy(batchv1.ReplaceConcurrent), activeJobs(running)), jobs: []*batchv1.Job{running}, now: t0,
			want: fmt.Sprintf("create cj-%d at 2025-06-01T12:00:00Z; delete cj-old; event SuccessfulDelete; requeue 5m0.1s", min(t0))},
		{name: "allow runs side by side", cj: testCronJob("*/5 * * * *", lastScheduled(t0.Add(-5*time.Minute)), activeJobs(running)),
			jobs: []*batchv1.Job{running}, now: t0,
			want: fmt.Sprintf("create cj-%d at 2025-06-01T12:00:00Z; active cj-old; requeue 5m0.1s", min(t0))},
		{name: "already created for this time", cj: testCronJob("*/5 * * * *", activeJobs(cronJobOf(fmt.Sprintf("cj-%d", min(t0)), t0, ""))),
			jobs: []*batchv1.Job{cronJobOf(fmt.Sprintf("cj-%d", min(t0)), t0, "")}, now: t0,
			want: fmt.Sprintf("active cj-%d; requeue 5m0.1s", min(t0))},
		{name: "more than 100 missed: warn, run the latest", cj: testCronJob("* * * * *", lastScheduled(t0.Add(-1000*time.Hour))),
			now:  t0.Add(30 * time.Second),
			want: fmt.Sprintf("create cj-%d at 2025-06-01T12:00:00Z; event TooManyMissedTimes; requeue 30.1s", min(t0))},
		{name: "100 missed: no warning", cj: testCronJob("* * * * *", lastScheduled(t0.Add(-100*time.Minute))), now: t0,
			want: fmt.Sprintf("create cj-%d at 2025-06-01T12:00:00Z; requeue 1m0.1s", min(t0))},
		{name: "starting deadline bounds the missed runs", cj: testCronJob("* * * * *", lastScheduled(t0.Add(-1000*time.Hour)),
			startingDeadline(200)), now: t0,
			want: fmt.Sprintf("create cj-%d at 2025-06-01T12:00:00Z; requeue 1m0.1s", min(t0))},
		{name: "starting deadline passed", cj: testCronJob("0 * * * *", lastScheduled(t0.Add(-time.Hour)), startingDeadline(30)),
			now: t0.Add(time.Minute), want: "requeue 59m0.1s"},
		{name: "within the starting deadline", cj: testCronJob("0 * * * *", lastScheduled(t0.Add(-time.Hour)), startingDeadline(30)),
			now: t0.Add(10 * time.Second), want: fmt.Sprintf("create cj-%d at 2025-06-01T12:00:00Z; requeue 59m50.1s", min(t0))},
		{name: "time zone", cj: testCronJob("0 8 * * *", lastScheduled(t0.Add(-24*time.Hour)), func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr.To("America/New_York") }),
			now:  time.Date(2025, 6, 1, 12, 0, 5, 0, time.UTC),
			want: fmt.Sprintf("create cj-%d at 2025-06-01T08:00:00-04:00; requeue 23h59m55.1s", min(time.Date(2025, 6, 1, 8, 0, 0, 0, ny)))},
		{name: "TZ= in the schedule", cj: testCronJob("TZ=America/New_York 0 8 * * *", lastScheduled(t0.Add(-24*time.Hour))),
			now:  time.Date(2025, 6, 1, 12, 0, 5, 0, time.UTC),
			want: fmt.Sprintf("create cj-%d at 2025-06-01T12:00:00Z; requeue 23h59m55.1s", min(time.Date(2025, 6, 1, 8, 0, 0, 0, ny)))},
		{name: "finished job leaves active", cj: testCronJob("0 * * * *", lastScheduled(t0), activeJobs(cronJobOf("cj-done", t0, batchv1.JobComplete))),
			jobs: []*batchv1.Job{cronJobOf("cj-done", t0, batchv1.JobComplete), running}, now: t0.Add(2 * time.Minute),
			want: "event SawCompletedJob; active cj-old; requeue 58m0.1s"},
		{name: "history limits", cj: testCronJob("0 * * * *", lastScheduled(t0)), now: t0.Add(time.Minute),
			jobs: []*batchv1.Job{
				cronJobOf("ok1", t0.Add(-5*time.Hour), batchv1.JobComplete), cronJobOf("ok4", t0.Add(-2*time.Hour), batchv1.JobComplete),
				cronJobOf("ok2", t0.Add(-4*time.Hour), batchv1.JobComplete), cronJobOf("ok3", t0.Add(-3*time.Hour), batchv1.JobComplete),
				cronJobOf("ok5", t0.Add(-1*time.Hour), batchv1.JobComplete),
				cronJobOf("bad1", t0.Add(-5*time.Hour), batchv1.JobFailed), cronJobOf("bad2", t0.Add(-4*time.Hour), batchv1.JobFailed),
			},
			want: "delete ok1; delete ok2; delete bad1; event SuccessfulDelete; event SuccessfulDelete; event SuccessfulDelete; requeue 59m0.1s"},
		{name: "unparseable schedule", cj: testCronJob("61 * * * *"), now: t0, want: "event UnparseableSchedule"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cronSummary(decideCronJob(tc.cj, tc.jobs, tc.now)); got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestDecideCronJob_status(t *testing.T) {
	done := cronJobOf("cj-done", t0, batchv1.JobComplete)
	cj := testCronJob("0 * * * *", lastScheduled(t0), activeJobs(done))
	plan := decideCronJob(cj, []*batchv1.Job{done}, t0.Add(2*time.Minute))
	if plan.Status.LastSuccessfulTime == nil || !plan.Status.LastSuccessfulTime.Equal(done.Status.CompletionTime) || len(plan.Status.Active) != 0 {
		t.Fatalf("status %+v", plan.Status)
	}
	due := decideCronJob(testCronJob("0 * * * *"), nil, t0)
	j := due.Create
	if j == nil || !due.ScheduledTime.Equal(t0) || j.Labels["app"] != "report" || !metav1.IsControlledBy(j, cj) ||
		j.OwnerReferences[0].BlockOwnerDeletion == nil || !*j.OwnerReferences[0].BlockOwnerDeletion {
		t.Fatalf("job %+v at %v", j, due.ScheduledTime)
	}
}
