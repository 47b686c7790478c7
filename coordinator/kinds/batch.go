package kinds

import (
	"maps"
	"math"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// Labels a Job's pods carry without the batch.kubernetes.io/ prefix; the
// prefixed ones are batchv1.JobNameLabel and batchv1.ControllerUidLabel.
const (
	legacyJobNameLabel       = "job-name"
	legacyControllerUIDLabel = "controller-uid"
)

// batchKinds returns the batch/v1 kinds: Job and CronJob.
func batchKinds() []*Kind {
	gv := batchv1.SchemeGroupVersion
	return []*Kind{
		{
			GVK:        gv.WithKind("Job"),
			Resource:   "jobs",
			Singular:   "job",
			Categories: []string{"all"},
			Namespaced: true,
			HasStatus:  true,
			Generation: true,
			New:        func() Object { return &batchv1.Job{} },
			NewList:    func() runtime.Object { return &batchv1.JobList{} },
			Default:    func(obj Object) { defaultJob(obj.(*batchv1.Job)) },
			Validate:   func(obj Object) field.ErrorList { return validateJob(obj.(*batchv1.Job)) },
			ValidateUpdate: func(obj, old Object) field.ErrorList {
				return validateJobUpdate(obj.(*batchv1.Job), old.(*batchv1.Job))
			},
			Columns: jobColumns,
			Row:     func(obj Object, now time.Time) []any { return jobRow(obj.(*batchv1.Job), now) },
			Fields: func(obj Object) fields.Set {
				return fields.Set{"status.successful": strconv.Itoa(int(obj.(*batchv1.Job).Status.Succeeded))}
			},
		},
		{
			GVK:        gv.WithKind("CronJob"),
			Resource:   "cronjobs",
			Singular:   "cronjob",
			ShortNames: []string{"cj"},
			Categories: []string{"all"},
			Namespaced: true,
			HasStatus:  true,
			Generation: true,
			New:        func() Object { return &batchv1.CronJob{} },
			NewList:    func() runtime.Object { return &batchv1.CronJobList{} },
			Default:    func(obj Object) { defaultCronJob(obj.(*batchv1.CronJob)) },
			Validate:   func(obj Object) field.ErrorList { return validateCronJob(obj.(*batchv1.CronJob)) },
			ValidateUpdate: func(obj, old Object) field.ErrorList {
				return validateCronJobUpdate(obj.(*batchv1.CronJob), old.(*batchv1.CronJob))
			},
			Columns: cronJobColumns,
			Row:     func(obj Object, now time.Time) []any { return cronJobRow(obj.(*batchv1.CronJob), now) },
		},
	}
}

// defaultJob fills in what the batch/v1 defaulter does (one completion and
// parallelism 1 when both are unset, backoffLimit 6, NonIndexed, not
// suspended, no manual selector, TerminatingOrFailed replacement) and, once
// the server has given the Job a uid, generates its selector and pod labels
// unless manualSelector is true. Metadata labels default to the template's.
func defaultJob(j *batchv1.Job) {
	s := &j.Spec
	if s.Completions == nil && s.Parallelism == nil {
		s.Completions = ptr.To[int32](1)
		s.Parallelism = ptr.To[int32](1)
	}
	if s.Parallelism == nil {
		s.Parallelism = ptr.To[int32](1)
	}
	if s.BackoffLimit == nil {
		if s.BackoffLimitPerIndex != nil {
			s.BackoffLimit = ptr.To[int32](math.MaxInt32)
		} else {
			s.BackoffLimit = ptr.To[int32](6)
		}
	}
	if s.CompletionMode == nil {
		s.CompletionMode = ptr.To(batchv1.NonIndexedCompletion)
	}
	if s.Suspend == nil {
		s.Suspend = ptr.To(false)
	}
	if s.PodReplacementPolicy == nil {
		if s.PodFailurePolicy != nil {
			s.PodReplacementPolicy = ptr.To(batchv1.Failed)
		} else {
			s.PodReplacementPolicy = ptr.To(batchv1.TerminatingOrFailed)
		}
	}
	if s.ManualSelector == nil {
		s.ManualSelector = ptr.To(false)
	}
	defaultJobTemplate(s)
	if !*s.ManualSelector && j.UID != "" {
		generateJobSelector(j)
	}
	if s.Template.Labels != nil && len(j.Labels) == 0 {
		j.Labels = maps.Clone(s.Template.Labels)
	}
}

// defaultJobTemplate applies the defaults that reach inside a Job spec
// wherever it appears, in a Job or a CronJob's jobTemplate.
func defaultJobTemplate(s *batchv1.JobSpec) {
	if s.PodFailurePolicy != nil {
		for i := range s.PodFailurePolicy.Rules {
			for k := range s.PodFailurePolicy.Rules[i].OnPodConditions {
				c := &s.PodFailurePolicy.Rules[i].OnPodConditions[k]
				if c.Status == "" {
					c.Status = corev1.ConditionTrue
				}
			}
		}
	}
	DefaultPodSpec(&s.Template.Spec)
}

// generateJobSelector labels the Job's pods with its name and uid (both the
// prefixed and the legacy keys, keeping any value already there so that
// validation can reject a conflict) and selects on the prefixed uid label.
func generateJobSelector(j *batchv1.Job) {
	t := &j.Spec.Template
	if t.Labels == nil {
		t.Labels = map[string]string{}
	}
	for _, k := range []string{legacyJobNameLabel, batchv1.JobNameLabel} {
		if _, ok := t.Labels[k]; !ok {
			t.Labels[k] = j.Name
		}
	}
	for _, k := range []string{legacyControllerUIDLabel, batchv1.ControllerUidLabel} {
		if _, ok := t.Labels[k]; !ok {
			t.Labels[k] = string(j.UID)
		}
	}
	if j.Spec.Selector == nil {
		j.Spec.Selector = &metav1.LabelSelector{}
	}
	if j.Spec.Selector.MatchLabels == nil {
		j.Spec.Selector.MatchLabels = map[string]string{}
	}
	if _, ok := j.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel]; !ok {
		j.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel] = string(j.UID)
	}
}

// defaultCronJob defaults concurrencyPolicy Allow, not suspended, history
// limits 3 and 1, and the pod template inside the job template. Job-level
// defaults (completions, backoffLimit...) apply when the Job is created.
func defaultCronJob(c *batchv1.CronJob) {
	if c.Spec.ConcurrencyPolicy == "" {
		c.Spec.ConcurrencyPolicy = batchv1.AllowConcurrent
	}
	if c.Spec.Suspend == nil {
		c.Spec.Suspend = ptr.To(false)
	}
	if c.Spec.SuccessfulJobsHistoryLimit == nil {
		c.Spec.SuccessfulJobsHistoryLimit = ptr.To[int32](3)
	}
	if c.Spec.FailedJobsHistoryLimit == nil {
		c.Spec.FailedJobsHistoryLimit = ptr.To[int32](1)
	}
	defaultJobTemplate(&c.Spec.JobTemplate.Spec)
}
