package kinds

import (
	"math"
	"reflect"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/utils/ptr"
)

const piUID = "0b2c44f4-1c57-4d0b-a0a4-6a5e6c0c1d11"

// piJob is a Job as a user writes it, with the uid the server assigns.
func piJob() *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "default", UID: piUID, CreationTimestamp: workloadCreated},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "pi", Image: "perl:5.34", Command: []string{"perl", "-e", "print 1"}}},
		}}},
	}
}

func nightlyCronJob() *batchv1.CronJob {
	return &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "default", CreationTimestamp: workloadCreated},
		Spec: batchv1.CronJobSpec{
			Schedule:    "0 3 * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: piJob().Spec},
		},
	}
}

func batchKind(t *testing.T, resource string) *Kind {
	t.Helper()
	for _, k := range batchKinds() {
		if k.Resource == resource {
			return k
		}
	}
	t.Fatalf("no batch kind %q", resource)
	return nil
}

func TestBatchKinds_names(t *testing.T) {
	ks := batchKinds()
	if _, err := NewRegistry(ks...); err != nil {
		t.Fatalf("registry: %v", err)
	}
	got := map[string][]any{}
	for _, k := range ks {
		got[k.Resource] = []any{k.GVK.String(), k.Singular, k.ShortNames, k.Categories, k.Namespaced, k.HasStatus, k.Generation, k.Scale == nil}
		if n := len(k.Row(k.New(), workloadNow)); n != len(k.Columns) {
			t.Errorf("%s: empty object row has %d cells for %d columns", k.Resource, n, len(k.Columns))
		}
	}
	want := map[string][]any{
		"jobs":     {"batch/v1, Kind=Job", "job", []string(nil), []string{"all"}, true, true, true, true},
		"cronjobs": {"batch/v1, Kind=CronJob", "cronjob", []string{"cj"}, []string{"all"}, true, true, true, true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("kinds:\n got  %v\n want %v", got, want)
	}
}

func TestBatchDefault_job(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(j *batchv1.Job)
		check  func(t *testing.T, s *batchv1.JobSpec)
	}{
		{"both unset", func(*batchv1.Job) {}, func(t *testing.T, s *batchv1.JobSpec) {
			want := batchv1.JobSpec{
				Parallelism: ptr.To[int32](1), Completions: ptr.To[int32](1), BackoffLimit: ptr.To[int32](6),
				CompletionMode: ptr.To(batchv1.NonIndexedCompletion), Suspend: ptr.To(false), ManualSelector: ptr.To(false),
				PodReplacementPolicy: ptr.To(batchv1.TerminatingOrFailed),
			}
			got := *s
			got.Selector, got.Template = nil, corev1.PodTemplateSpec{}
			if !apiequality.Semantic.DeepEqual(got, want) {
				t.Errorf("spec:\n got  %+v\n want %+v", got, want)
			}
		}},
		{"parallelism only", func(j *batchv1.Job) { j.Spec.Parallelism = ptr.To[int32](3) }, func(t *testing.T, s *batchv1.JobSpec) {
			if s.Completions != nil || *s.Parallelism != 3 {
				t.Errorf("completions %v parallelism %v", s.Completions, *s.Parallelism)
			}
		}},
		{"completions only", func(j *batchv1.Job) { j.Spec.Completions = ptr.To[int32](5) }, func(t *testing.T, s *batchv1.JobSpec) {
			if *s.Completions != 5 || *s.Parallelism != 1 {
				t.Errorf("completions %v parallelism %v", *s.Completions, *s.Parallelism)
			}
		}},
		{"per-index backoff", func(j *batchv1.Job) { j.Spec.BackoffLimitPerIndex = ptr.To[int32](1) }, func(t *testing.T, s *batchv1.JobSpec) {
			if *s.BackoffLimit != math.MaxInt32 {
				t.Errorf("backoffLimit %d", *s.BackoffLimit)
			}
		}},
		{"failure policy", func(j *batchv1.Job) {
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}},
			}}}
		}, func(t *testing.T, s *batchv1.JobSpec) {
			if *s.PodReplacementPolicy != batchv1.Failed || s.PodFailurePolicy.Rules[0].OnPodConditions[0].Status != corev1.ConditionTrue {
				t.Errorf("replacement %v pattern %+v", *s.PodReplacementPolicy, s.PodFailurePolicy.Rules[0].OnPodConditions[0])
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := piJob()
			tt.mutate(j)
			batchKind(t, "jobs").Default(j)
			tt.check(t, &j.Spec)
		})
	}
}

func TestBatchDefault_jobSelector(t *testing.T) {
	j := piJob()
	j.Spec.Template.Labels = map[string]string{"app": "pi"}
	defaultJob(j)
	wantLabels := map[string]string{
		"app": "pi", "job-name": "pi", "controller-uid": piUID,
		"batch.kubernetes.io/job-name": "pi", "batch.kubernetes.io/controller-uid": piUID,
	}
	if !reflect.DeepEqual(j.Spec.Template.Labels, wantLabels) {
		t.Errorf("template labels %v", j.Spec.Template.Labels)
	}
	if want := map[string]string{"batch.kubernetes.io/controller-uid": piUID}; !reflect.DeepEqual(j.Spec.Selector.MatchLabels, want) {
		t.Errorf("selector %v", j.Spec.Selector)
	}
	if !reflect.DeepEqual(j.Labels, wantLabels) {
		t.Errorf("job labels %v", j.Labels)
	}
	j.Spec.Template.Labels["extra"] = "x"
	if _, shared := j.Labels["extra"]; shared {
		t.Error("job labels share the template's map")
	}

	again := j.DeepCopy()
	defaultJob(again)
	if !apiequality.Semantic.DeepEqual(again, j) {
		t.Error("defaulting twice changed the job")
	}

	noUID := piJob()
	noUID.UID = ""
	defaultJob(noUID)
	if noUID.Spec.Selector != nil || noUID.Spec.Template.Labels != nil {
		t.Errorf("selector generated without uid: %v %v", noUID.Spec.Selector, noUID.Spec.Template.Labels)
	}

	manual := piJob()
	manual.Labels = map[string]string{"team": "a"}
	manual.Spec.ManualSelector = ptr.To(true)
	manual.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
	manual.Spec.Template.Labels = map[string]string{"app": "pi"}
	defaultJob(manual)
	if len(manual.Spec.Template.Labels) != 1 || len(manual.Spec.Selector.MatchLabels) != 1 || manual.Labels["team"] != "a" || len(manual.Labels) != 1 {
		t.Errorf("manual selector job changed: %v %v %v", manual.Spec.Template.Labels, manual.Spec.Selector, manual.Labels)
	}
}

func TestBatchDefault_cronJob(t *testing.T) {
	c := nightlyCronJob()
	batchKind(t, "cronjobs").Default(c)
	s := c.Spec
	if s.ConcurrencyPolicy != batchv1.AllowConcurrent || *s.Suspend || *s.SuccessfulJobsHistoryLimit != 3 || *s.FailedJobsHistoryLimit != 1 {
		t.Errorf("spec %+v", s)
	}
	js := s.JobTemplate.Spec
	if js.Template.Spec.DNSPolicy != corev1.DNSClusterFirst || js.Template.Spec.Containers[0].ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("pod template not defaulted: %+v", js.Template.Spec)
	}
	if js.Completions != nil || js.BackoffLimit != nil || js.Selector != nil {
		t.Errorf("job-level defaults leaked into the template: %+v", js)
	}
}

func TestBatchFields_jobSuccessful(t *testing.T) {
	j := piJob()
	j.Status.Succeeded = 2
	if got, want := batchKind(t, "jobs").Fields(j), (fields.Set{"status.successful": "2"}); !reflect.DeepEqual(got, want) {
		t.Fatalf("Fields = %v, want %v", got, want)
	}
	if batchKind(t, "cronjobs").Fields != nil {
		t.Fatal("cronjobs have no extra field selectors")
	}
}

func TestBatchTable_columns(t *testing.T) {
	for resource, want := range map[string][]string{
		"jobs":     {"Status", "Completions", "Duration", "Age", "Containers", "Images", "Selector"},
		"cronjobs": {"Schedule", "Timezone", "Suspend", "Active", "Last Schedule", "Age", "Containers", "Images", "Selector"},
	} {
		names, wideFrom := columnNames(batchKind(t, resource).Columns)
		if !reflect.DeepEqual(names, want) || wideFrom != len(want)-3 {
			t.Errorf("%s: columns %q wide from %d", resource, names, wideFrom)
		}
	}
}

func TestBatchTable_rows(t *testing.T) {
	cond := func(t batchv1.JobConditionType, s corev1.ConditionStatus) batchv1.JobCondition {
		return batchv1.JobCondition{Type: t, Status: s}
	}
	started := metav1.NewTime(workloadNow.Add(-90 * time.Second))
	finished := metav1.NewTime(workloadNow.Add(-30 * time.Second))
	job := func(mutate func(j *batchv1.Job)) *batchv1.Job {
		j := piJob()
		defaultJob(j)
		mutate(j)
		return j
	}
	sel := "batch.kubernetes.io/controller-uid=" + piUID
	tests := []struct {
		name string
		obj  Object
		want []any
	}{
		{"running", job(func(j *batchv1.Job) { j.Status.StartTime = &started }),
			[]any{"Running", "0/1", "90s", "3d4h", "pi", "perl:5.34", sel}},
		{"complete", job(func(j *batchv1.Job) {
			j.Status = batchv1.JobStatus{StartTime: &started, CompletionTime: &finished, Succeeded: 1,
				Conditions: []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue), cond(batchv1.JobComplete, corev1.ConditionTrue)}}
		}), []any{"Complete", "1/1", "60s", "3d4h", "pi", "perl:5.34", sel}},
		{"failed", job(func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobFailureTarget, corev1.ConditionTrue), cond(batchv1.JobFailed, corev1.ConditionTrue)}
		}), []any{"Failed", "0/1", "", "3d4h", "pi", "perl:5.34", sel}},
		{"terminating", job(func(j *batchv1.Job) { j.DeletionTimestamp = &finished }),
			[]any{"Terminating", "0/1", "", "3d4h", "pi", "perl:5.34", sel}},
		{"suspended", job(func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuspended, corev1.ConditionTrue)}
		}), []any{"Suspended", "0/1", "", "3d4h", "pi", "perl:5.34", sel}},
		{"resumed", job(func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuspended, corev1.ConditionFalse)}
		}), []any{"Running", "0/1", "", "3d4h", "pi", "perl:5.34", sel}},
		{"failure target", job(func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobFailureTarget, corev1.ConditionTrue)}
		}), []any{"FailureTarget", "0/1", "", "3d4h", "pi", "perl:5.34", sel}},
		{"success criteria met", job(func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue)}
		}), []any{"SuccessCriteriaMet", "0/1", "", "3d4h", "pi", "perl:5.34", sel}},
		{"work queue", job(func(j *batchv1.Job) {
			j.Spec.Completions, j.Spec.Parallelism, j.Status.Succeeded = nil, ptr.To[int32](4), 2
		}), []any{"Running", "2/1 of 4", "", "3d4h", "pi", "perl:5.34", sel}},
		{"indexed", job(func(j *batchv1.Job) { j.Spec.Completions, j.Status.Succeeded = ptr.To[int32](10), 7 }),
			[]any{"Running", "7/10", "", "3d4h", "pi", "perl:5.34", sel}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := batchKind(t, "jobs").Row(tt.obj, workloadNow); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("row\n got  %#v\n want %#v", got, tt.want)
			}
		})
	}

	last := metav1.NewTime(workloadNow.Add(-5 * time.Hour))
	cj := nightlyCronJob()
	defaultCronJob(cj)
	cj.Spec.TimeZone = ptr.To("Europe/Paris")
	cj.Spec.Suspend = ptr.To(true)
	cj.Status = batchv1.CronJobStatus{Active: []corev1.ObjectReference{{Name: "nightly-1"}}, LastScheduleTime: &last}
	fresh := nightlyCronJob()
	for name, tt := range map[string]struct {
		obj  *batchv1.CronJob
		want []any
	}{
		"scheduled": {cj, []any{"0 3 * * *", "Europe/Paris", "True", int64(1), "5h", "3d4h", "pi", "perl:5.34", ""}},
		"fresh":     {fresh, []any{"0 3 * * *", "<none>", "<unset>", int64(0), "<none>", "3d4h", "pi", "perl:5.34", ""}},
	} {
		t.Run("cronjob "+name, func(t *testing.T) {
			if got := batchKind(t, "cronjobs").Row(tt.obj, workloadNow); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("row\n got  %#v\n want %#v", got, tt.want)
			}
		})
	}
}
