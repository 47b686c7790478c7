package kinds

import (
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestValidateJob_rules(t *testing.T) {
	exitRule := func(op batchv1.PodFailurePolicyOnExitCodesOperator, vals ...int32) batchv1.PodFailurePolicyRule {
		return batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionFailJob,
			OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: op, Values: vals}}
	}
	tests := []struct {
		name   string
		mutate func(j *batchv1.Job)
		want   []string
	}{
		{"valid", func(*batchv1.Job) {}, nil},
		{"on failure", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure }, nil},
		{"restart always", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways },
			[]string{"spec.template.spec.restartPolicy: Unsupported value"}},
		{"negative counts", func(j *batchv1.Job) {
			j.Spec.Parallelism, j.Spec.Completions, j.Spec.BackoffLimit = ptr.To[int32](-1), ptr.To[int32](-1), ptr.To[int32](-1)
			j.Spec.ActiveDeadlineSeconds, j.Spec.TTLSecondsAfterFinished = ptr.To[int64](-1), ptr.To[int32](-1)
		}, []string{"spec.parallelism: Invalid value", "spec.completions: Invalid value", "spec.backoffLimit: Invalid value",
			"spec.activeDeadlineSeconds: Invalid value", "spec.ttlSecondsAfterFinished: Invalid value"}},
		{"no uid", func(j *batchv1.Job) { j.UID = "" }, []string{
			"metadata.uid: Required value", "spec.selector: Invalid value",
			"spec.template.metadata.labels[controller-uid]: Invalid value",
			"spec.template.metadata.labels[batch.kubernetes.io/controller-uid]: Invalid value",
		}},
		{"no selector", func(j *batchv1.Job) { j.Spec.Selector = nil },
			[]string{"spec.selector: Required value", "spec.template.metadata.labels: Invalid value"}},
		{"user selector without manualSelector", func(j *batchv1.Job) {
			j.Spec.Selector.MatchLabels["app"] = "pi"
			j.Spec.Template.Labels["app"] = "pi"
		}, []string{"spec.selector: Invalid value"}},
		{"missing generated label", func(j *batchv1.Job) { delete(j.Spec.Template.Labels, "batch.kubernetes.io/job-name") },
			[]string{"spec.template.metadata.labels[batch.kubernetes.io/job-name]: Required value"}},
		{"conflicting generated label", func(j *batchv1.Job) { j.Spec.Template.Labels["job-name"] = "other" },
			[]string{"spec.template.metadata.labels[job-name]: Invalid value"}},
		{"manual selector", func(j *batchv1.Job) {
			j.Spec.ManualSelector = ptr.To(true)
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
			j.Spec.Template.Labels = map[string]string{"app": "pi"}
		}, nil},
		{"manual selector mismatch", func(j *batchv1.Job) {
			j.Spec.ManualSelector = ptr.To(true)
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
		}, []string{"spec.template.metadata.labels: Invalid value"}},
		{"unknown completion mode", func(j *batchv1.Job) { j.Spec.CompletionMode = ptr.To[batchv1.CompletionMode]("Sometimes") },
			[]string{"spec.completionMode: Unsupported value"}},
		{"indexed", func(j *batchv1.Job) {
			j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
			j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](5), ptr.To[int32](2)
			j.Spec.BackoffLimitPerIndex, j.Spec.MaxFailedIndexes = ptr.To[int32](1), ptr.To[int32](2)
		}, nil},
		{"indexed without completions", func(j *batchv1.Job) {
			j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
			j.Spec.Completions = nil
		}, []string{"spec.completions: Required value"}},
		{"indexed too parallel", func(j *batchv1.Job) {
			j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
			j.Spec.Parallelism = ptr.To[int32](100001)
		}, []string{"spec.parallelism: Invalid value"}},
		{"per-index backoff needs indexed", func(j *batchv1.Job) { j.Spec.BackoffLimitPerIndex = ptr.To[int32](1) },
			[]string{"spec.backoffLimitPerIndex: Forbidden"}},
		{"max failed indexes alone", func(j *batchv1.Job) { j.Spec.MaxFailedIndexes = ptr.To[int32](3) },
			[]string{"spec.backoffLimitPerIndex: Required value", "spec.maxFailedIndexes: Invalid value"}},
		{"replacement policy", func(j *batchv1.Job) { j.Spec.PodReplacementPolicy = ptr.To[batchv1.PodReplacementPolicy]("Always") },
			[]string{"spec.podReplacementPolicy: Unsupported value"}},
		{"failure policy", func(j *batchv1.Job) {
			j.Spec.PodReplacementPolicy = ptr.To(batchv1.Failed)
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
				exitRule(batchv1.PodFailurePolicyOnExitCodesOpIn, 1, 42),
				{Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{
					{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}},
			}}
		}, nil},
		{"failure policy needs Failed replacement and Never", func(j *batchv1.Job) {
			j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{exitRule(batchv1.PodFailurePolicyOnExitCodesOpNotIn, 0)}}
		}, []string{"spec.podReplacementPolicy: Unsupported value", "spec.template.spec.restartPolicy: Invalid value"}},
		{"bad failure rules", func(j *batchv1.Job) {
			j.Spec.PodReplacementPolicy = ptr.To(batchv1.Failed)
			bad := exitRule(batchv1.PodFailurePolicyOnExitCodesOpIn, 0, 3, 3, 2)
			bad.OnExitCodes.ContainerName = ptr.To("nope")
			both := exitRule("Maybe")
			both.Action = "Retry"
			both.OnPodConditions = []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: "bad type!", Status: "Perhaps"}}
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
				bad, both, {Action: batchv1.PodFailurePolicyActionFailIndex},
			}}
		}, []string{
			"spec.podFailurePolicy.rules[0].onExitCodes.containerName: Invalid value",
			"spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value",
			"spec.podFailurePolicy.rules[0].onExitCodes.values[2]: Duplicate value",
			"spec.podFailurePolicy.rules[0].onExitCodes.values[3]: Invalid value",
			"spec.podFailurePolicy.rules[1].action: Unsupported value",
			"spec.podFailurePolicy.rules[1].onExitCodes.operator: Unsupported value",
			"spec.podFailurePolicy.rules[1].onExitCodes.values: Required value",
			"spec.podFailurePolicy.rules[1].onPodConditions[0].status: Unsupported value",
			"spec.podFailurePolicy.rules[1].onPodConditions[0].type: Invalid value",
			"spec.podFailurePolicy.rules[1]: Invalid value",
			"spec.podFailurePolicy.rules[2].action: Invalid value",
			"spec.podFailurePolicy.rules[2]: Invalid value",
		}},
		{"success policy needs indexed", func(j *batchv1.Job) {
			j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededCount: ptr.To[int32](1)}}}
		}, []string{"spec.successPolicy: Invalid value"}},
		{"success policy rules", func(j *batchv1.Job) {
			j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
			j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{}, {SucceededCount: ptr.To[int32](2)}}}
		}, []string{"spec.successPolicy.rules[0]: Required value", "spec.successPolicy.rules[1].succeededCount: Invalid value"}},
		{"managed by", func(j *batchv1.Job) { j.Spec.ManagedBy = ptr.To("not a path") }, []string{"spec.managedBy: Invalid value"}},
		{"managed by controller", func(j *batchv1.Job) { j.Spec.ManagedBy = ptr.To(batchv1.JobControllerName) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := piJob()
			defaultJob(j)
			tt.mutate(j)
			wantFieldErrs(t, validateJob(j), tt.want...)
		})
	}
}

func TestValidateJob_longNameFailsOnLabels(t *testing.T) {
	j := piJob()
	j.Name = strings.Repeat("a", 64)
	defaultJob(j)
	errs := validateJob(j)
	if len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), "spec.template.metadata.labels") {
		t.Fatalf("want a label error for a 64-character name, got %v", errs.ToAggregate())
	}
}

func TestValidateJobUpdate_immutability(t *testing.T) {
	old := piJob()
	defaultJob(old)
	old.ResourceVersion = "9"

	tests := []struct {
		name   string
		mutate func(j, old *batchv1.Job)
		want   []string
	}{
		{"parallelism and suspend may change", func(j, _ *batchv1.Job) {
			j.Spec.Parallelism, j.Spec.Suspend, j.Spec.ActiveDeadlineSeconds = ptr.To[int32](3), ptr.To(true), ptr.To[int64](60)
		}, nil},
		{"template", func(j, _ *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Image = "perl:5.40" },
			[]string{"spec.template: Invalid value"}},
		{"completions", func(j, _ *batchv1.Job) { j.Spec.Completions = ptr.To[int32](2) }, []string{"spec.completions: Invalid value"}},
		{"selector", func(j, _ *batchv1.Job) { j.Spec.Selector.MatchLabels["batch.kubernetes.io/job-name"] = "pi" },
			[]string{"spec.selector: Invalid value"}},
		{"completion mode", func(j, _ *batchv1.Job) {
			j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		}, []string{"spec.completionMode: Invalid value"}},
		{"managed by", func(j, _ *batchv1.Job) { j.Spec.ManagedBy = ptr.To("example.com/queue") }, []string{"spec.managedBy: Invalid value"}},
		{"suspended and unstarted may reschedule", func(j, old *batchv1.Job) {
			old.Spec.Suspend = ptr.To(true)
			j.Spec.Suspend = ptr.To(true)
			j.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "b"}
			j.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "edge", Operator: corev1.TolerationOpExists}}
			j.Spec.Template.Annotations = map[string]string{"a": "b"}
		}, nil},
		{"suspended but started may not", func(j, old *batchv1.Job) {
			old.Spec.Suspend = ptr.To(true)
			old.Status.StartTime = &metav1.Time{Time: time.Unix(1, 0)}
			j.Spec.Suspend = ptr.To(true)
			j.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "b"}
		}, []string{"spec.template: Invalid value"}},
		{"suspended still may not change containers", func(j, old *batchv1.Job) {
			old.Spec.Suspend = ptr.To(true)
			j.Spec.Template.Spec.Containers[0].Image = "perl:5.40"
		}, []string{"spec.template: Invalid value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := old.DeepCopy()
			j := old.DeepCopy()
			tt.mutate(j, o)
			wantFieldErrs(t, validateJobUpdate(j, o), tt.want...)
		})
	}
}

func TestValidateJobUpdate_elasticIndexed(t *testing.T) {
	old := piJob()
	old.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
	old.Spec.Completions, old.Spec.Parallelism = ptr.To[int32](4), ptr.To[int32](4)
	defaultJob(old)

	grown := old.DeepCopy()
	grown.Spec.Completions, grown.Spec.Parallelism = ptr.To[int32](6), ptr.To[int32](6)
	wantFieldErrs(t, validateJobUpdate(grown, old))

	lopsided := old.DeepCopy()
	lopsided.Spec.Completions = ptr.To[int32](6)
	wantFieldErrs(t, validateJobUpdate(lopsided, old), "spec.completions: Invalid value")
}

func TestValidateCronJob_rules(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *batchv1.CronJob)
		want   []string
	}{
		{"valid", func(*batchv1.CronJob) {}, nil},
		{"shorthand", func(c *batchv1.CronJob) { c.Spec.Schedule = "@hourly" }, nil},
		{"no schedule", func(c *batchv1.CronJob) { c.Spec.Schedule = "" }, []string{"spec.schedule: Required value"}},
		{"bad schedule", func(c *batchv1.CronJob) { c.Spec.Schedule = "0 25 * * *" }, []string{"spec.schedule: Invalid value"}},
		{"TZ in schedule", func(c *batchv1.CronJob) { c.Spec.Schedule = "TZ=UTC 0 3 * * *" }, []string{"spec.schedule: Invalid value"}},
		{"time zone", func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr.To("America/New_York") }, nil},
		{"empty time zone", func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr.To("") }, []string{"spec.timeZone: Invalid value"}},
		{"unknown time zone", func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr.To("Mars/Olympus") }, []string{"spec.timeZone: Invalid value"}},
		{"relative time zone", func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr.To("../etc/passwd") }, []string{"spec.timeZone: Invalid value"}},
		{"local time zone", func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr.To("Local") }, []string{"spec.timeZone: Invalid value"}},
		{"no concurrency policy", func(c *batchv1.CronJob) { c.Spec.ConcurrencyPolicy = "" }, []string{"spec.concurrencyPolicy: Required value"}},
		{"unknown concurrency policy", func(c *batchv1.CronJob) { c.Spec.ConcurrencyPolicy = "Queue" },
			[]string{"spec.concurrencyPolicy: Unsupported value"}},
		{"forbid", func(c *batchv1.CronJob) { c.Spec.ConcurrencyPolicy = batchv1.ForbidConcurrent }, nil},
		{"negative numbers", func(c *batchv1.CronJob) {
			c.Spec.StartingDeadlineSeconds = ptr.To[int64](-1)
			c.Spec.SuccessfulJobsHistoryLimit, c.Spec.FailedJobsHistoryLimit = ptr.To[int32](-1), ptr.To[int32](-1)
		}, []string{"spec.startingDeadlineSeconds: Invalid value", "spec.successfulJobsHistoryLimit: Invalid value",
			"spec.failedJobsHistoryLimit: Invalid value"}},
		{"name too long", func(c *batchv1.CronJob) { c.Name = strings.Repeat("n", 53) }, []string{"metadata.name: Invalid value"}},
		{"template selector", func(c *batchv1.CronJob) {
			c.Spec.JobTemplate.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}
		}, []string{"spec.jobTemplate.spec.selector: Invalid value"}},
		{"template manual selector", func(c *batchv1.CronJob) { c.Spec.JobTemplate.Spec.ManualSelector = ptr.To(true) },
			[]string{"spec.jobTemplate.spec.manualSelector: Unsupported value"}},
		{"template restart policy", func(c *batchv1.CronJob) {
			c.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
		}, []string{"spec.jobTemplate.spec.template.spec.restartPolicy: Unsupported value"}},
		{"template counts", func(c *batchv1.CronJob) { c.Spec.JobTemplate.Spec.BackoffLimit = ptr.To[int32](-1) },
			[]string{"spec.jobTemplate.spec.backoffLimit: Invalid value"}},
		{"template labels", func(c *batchv1.CronJob) { c.Spec.JobTemplate.Labels = map[string]string{"bad key!": "v"} },
			[]string{"spec.jobTemplate.metadata.labels: Invalid value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := nightlyCronJob()
			defaultCronJob(c)
			tt.mutate(c)
			wantFieldErrs(t, validateCronJob(c), tt.want...)
		})
	}
}

func TestValidateCronJobUpdate_rules(t *testing.T) {
	old := nightlyCronJob()
	old.Name = strings.Repeat("n", 60)
	defaultCronJob(old)
	old.ResourceVersion = "4"

	upd := old.DeepCopy()
	upd.Spec.Schedule = "*/5 * * * *"
	wantFieldErrs(t, validateCronJobUpdate(upd, old))

	tzOld := old.DeepCopy()
	tzOld.Spec.Schedule = "TZ=UTC 0 3 * * *"
	keep := tzOld.DeepCopy()
	keep.Spec.Suspend = ptr.To(true)
	wantFieldErrs(t, validateCronJobUpdate(keep, tzOld))
	both := tzOld.DeepCopy()
	both.Spec.TimeZone = ptr.To("UTC")
	wantFieldErrs(t, validateCronJobUpdate(both, tzOld), "spec.schedule: Invalid value")

	msg := validateCronJob(&batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "d"},
		Spec:       batchv1.CronJobSpec{Schedule: "TZ=UTC 0 3 * * *", ConcurrencyPolicy: batchv1.AllowConcurrent},
	}).ToAggregate().Error()
	if !strings.Contains(msg, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead") {
		t.Errorf("message %q", msg)
	}
}
