package kinds

import (
	"fmt"
	"slices"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Limits Kubernetes puts on Job specs.
const (
	maxParallelismForIndexedJob = 100000
	maxPodFailurePolicyRules    = 20
	maxOnPodConditionsPatterns  = 20
	maxOnExitCodesValues        = 255
	maxSuccessPolicyRules       = 20
	maxManagedByLength          = 63
)

var podFailurePolicyActions = []batchv1.PodFailurePolicyAction{
	batchv1.PodFailurePolicyActionCount, batchv1.PodFailurePolicyActionFailIndex,
	batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyActionIgnore,
}

func validateJob(j *batchv1.Job) field.ErrorList {
	errs := ValidateObjectMeta(&j.ObjectMeta, true, metaPath)
	errs = append(errs, validateGeneratedSelector(j)...)
	return append(errs, validateJobSpec(&j.Spec, specPath, true)...)
}

// validateGeneratedSelector checks, unless manualSelector is true, that
// the pod template carries the generated name and uid labels and that the
// selector is the generated one.
func validateGeneratedSelector(j *batchv1.Job) field.ErrorList {
	if (j.Spec.ManualSelector != nil && *j.Spec.ManualSelector) || j.Spec.Selector == nil {
		return nil
	}
	var errs field.ErrorList
	if j.UID == "" {
		errs = append(errs, field.Required(metaPath.Child("uid"), ""))
	}
	tm := specPath.Child("template", "metadata")
	for _, want := range []struct{ key, value string }{
		{legacyControllerUIDLabel, string(j.UID)},
		{legacyJobNameLabel, j.Name},
		{batchv1.ControllerUidLabel, string(j.UID)},
		{batchv1.JobNameLabel, j.Name},
	} {
		f := tm.Child("labels").Key(want.key)
		switch got, ok := j.Spec.Template.Labels[want.key]; {
		case !ok:
			errs = append(errs, field.Required(f, "must be '"+want.value+"'"))
		case got != want.value:
			errs = append(errs, field.Invalid(f, j.Spec.Template.Labels, "must be '"+want.value+"'"))
		}
	}
	expected := labels.Set{batchv1.ControllerUidLabel: string(j.UID), batchv1.JobNameLabel: j.Name}
	if sel, err := metav1.LabelSelectorAsSelector(j.Spec.Selector); err == nil && !sel.Matches(expected) {
		errs = append(errs, field.Invalid(specPath.Child("selector"), j.Spec.Selector, "`selector` not auto-generated"))
	}
	return errs
}

// validateJobSpec checks a Job spec; withSelector also requires a selector
// that matches the template (a CronJob's job template has none yet).
func validateJobSpec(s *batchv1.JobSpec, fld *field.Path, withSelector bool) field.ErrorList {
	var errs field.ErrorList
	nonneg := func(v *int32, name string) {
		if v != nil {
			errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*v), fld.Child(name))...)
		}
	}
	nonneg(s.Parallelism, "parallelism")
	nonneg(s.Completions, "completions")
	nonneg(s.BackoffLimit, "backoffLimit")
	nonneg(s.TTLSecondsAfterFinished, "ttlSecondsAfterFinished")
	nonneg(s.BackoffLimitPerIndex, "backoffLimitPerIndex")
	nonneg(s.MaxFailedIndexes, "maxFailedIndexes")
	if s.ActiveDeadlineSeconds != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(*s.ActiveDeadlineSeconds, fld.Child("activeDeadlineSeconds"))...)
	}
	indexed := s.CompletionMode != nil && *s.CompletionMode == batchv1.IndexedCompletion
	if s.CompletionMode != nil && !indexed && *s.CompletionMode != batchv1.NonIndexedCompletion {
		errs = append(errs, field.NotSupported(fld.Child("completionMode"), *s.CompletionMode,
			[]batchv1.CompletionMode{batchv1.NonIndexedCompletion, batchv1.IndexedCompletion}))
	}
	if indexed {
		if s.Completions == nil {
			errs = append(errs, field.Required(fld.Child("completions"), fmt.Sprintf("when completion mode is %s", batchv1.IndexedCompletion)))
		}
		if s.Parallelism != nil && *s.Parallelism > maxParallelismForIndexedJob {
			errs = append(errs, field.Invalid(fld.Child("parallelism"), *s.Parallelism,
				fmt.Sprintf("must be less than or equal to %d when completion mode is %s", maxParallelismForIndexedJob, batchv1.IndexedCompletion)))
		}
	}
	if s.BackoffLimitPerIndex != nil && !indexed {
		errs = append(errs, field.Forbidden(fld.Child("backoffLimitPerIndex"), "requires indexed completion mode"))
	}
	if s.MaxFailedIndexes != nil {
		if s.BackoffLimitPerIndex == nil {
			errs = append(errs, field.Required(fld.Child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
		}
		if s.Completions != nil && *s.MaxFailedIndexes > *s.Completions {
			errs = append(errs, field.Invalid(fld.Child("maxFailedIndexes"), *s.MaxFailedIndexes, "must be less than or equal to completions"))
		}
	}
	if withSelector {
		sf := fld.Child("selector")
		if s.Selector == nil {
			errs = append(errs, field.Required(sf, ""))
		} else {
			errs = append(errs, metavalidation.ValidateLabelSelector(s.Selector, metavalidation.LabelSelectorValidationOptions{}, sf)...)
		}
		if sel, err := metav1.LabelSelectorAsSelector(s.Selector); err == nil && !sel.Matches(labels.Set(s.Template.Labels)) {
			errs = append(errs, field.Invalid(fld.Child("template", "metadata", "labels"), s.Template.Labels, msgSelectorMismatch))
		}
	}
	tf := fld.Child("template")
	errs = append(errs, ValidatePodTemplateSpec(&s.Template, tf)...)
	switch rp := s.Template.Spec.RestartPolicy; {
	case rp != corev1.RestartPolicyOnFailure && rp != corev1.RestartPolicyNever:
		errs = append(errs, field.NotSupported(tf.Child("spec", "restartPolicy"), rp,
			[]corev1.RestartPolicy{corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}))
	case rp == corev1.RestartPolicyOnFailure && s.PodFailurePolicy != nil:
		errs = append(errs, field.Invalid(tf.Child("spec", "restartPolicy"), rp,
			fmt.Sprintf("only %q is supported when podFailurePolicy is specified", corev1.RestartPolicyNever)))
	}
	errs = append(errs, validatePodFailurePolicy(s, fld.Child("podFailurePolicy"))...)
	errs = append(errs, validateSuccessPolicy(s, indexed, fld.Child("successPolicy"))...)
	if s.PodReplacementPolicy != nil {
		allowed := []batchv1.PodReplacementPolicy{batchv1.Failed, batchv1.TerminatingOrFailed}
		if s.PodFailurePolicy != nil {
			allowed = []batchv1.PodReplacementPolicy{batchv1.Failed}
		}
		if !slices.Contains(allowed, *s.PodReplacementPolicy) {
			errs = append(errs, field.NotSupported(fld.Child("podReplacementPolicy"), *s.PodReplacementPolicy, allowed))
		}
	}
	if s.ManagedBy != nil {
		mf := fld.Child("managedBy")
		if len(*s.ManagedBy) > maxManagedByLength {
			errs = append(errs, field.TooLong(mf, *s.ManagedBy, maxManagedByLength))
		}
		errs = append(errs, validation.IsDomainPrefixedPath(mf, *s.ManagedBy)...)
	}
	return errs
}

func validatePodFailurePolicy(s *batchv1.JobSpec, fld *field.Path) field.ErrorList {
	if s.PodFailurePolicy == nil {
		return nil
	}
	var errs field.ErrorList
	rf := fld.Child("rules")
	if n := len(s.PodFailurePolicy.Rules); n > maxPodFailurePolicyRules {
		errs = append(errs, field.TooMany(rf, n, maxPodFailurePolicyRules))
	}
	containers := sets.New[string]()
	for _, c := range s.Template.Spec.Containers {
		containers.Insert(c.Name)
	}
	for _, c := range s.Template.Spec.InitContainers {
		containers.Insert(c.Name)
	}
	for i := range s.PodFailurePolicy.Rules {
		r, f := &s.PodFailurePolicy.Rules[i], rf.Index(i)
		af := f.Child("action")
		switch {
		case r.Action == "":
			errs = append(errs, field.Required(af, fmt.Sprintf("valid values: %q", podFailurePolicyActions)))
		case r.Action == batchv1.PodFailurePolicyActionFailIndex && s.BackoffLimitPerIndex == nil:
			errs = append(errs, field.Invalid(af, r.Action, "requires the backoffLimitPerIndex to be set"))
		case !slices.Contains(podFailurePolicyActions, r.Action):
			errs = append(errs, field.NotSupported(af, r.Action, podFailurePolicyActions))
		}
		if r.OnExitCodes != nil {
			errs = append(errs, validateOnExitCodes(r.OnExitCodes, containers, f.Child("onExitCodes"))...)
		}
		if n := len(r.OnPodConditions); n > maxOnPodConditionsPatterns {
			errs = append(errs, field.TooMany(f.Child("onPodConditions"), n, maxOnPodConditionsPatterns))
		}
		for k, p := range r.OnPodConditions {
			pf := f.Child("onPodConditions").Index(k)
			switch p.Status {
			case corev1.ConditionTrue, corev1.ConditionFalse, corev1.ConditionUnknown:
			default:
				errs = append(errs, field.NotSupported(pf.Child("status"), p.Status,
					[]corev1.ConditionStatus{corev1.ConditionTrue, corev1.ConditionFalse, corev1.ConditionUnknown}))
			}
			for _, msg := range validation.IsQualifiedName(string(p.Type)) {
				errs = append(errs, field.Invalid(pf.Child("type"), p.Type, msg))
			}
		}
		switch {
		case r.OnExitCodes != nil && len(r.OnPodConditions) > 0:
			errs = append(errs, field.Invalid(f, field.OmitValueType{}, "specifying both OnExitCodes and OnPodConditions is not supported"))
		case r.OnExitCodes == nil && len(r.OnPodConditions) == 0:
			errs = append(errs, field.Invalid(f, field.OmitValueType{}, "specifying one of OnExitCodes and OnPodConditions is required"))
		}
	}
	return errs
}

func validateOnExitCodes(r *batchv1.PodFailurePolicyOnExitCodesRequirement, containers sets.Set[string], fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if r.ContainerName != nil && !containers.Has(*r.ContainerName) {
		errs = append(errs, field.Invalid(fld.Child("containerName"), *r.ContainerName,
			"must be one of the container or initContainer names in the pod template"))
	}
	ops := []batchv1.PodFailurePolicyOnExitCodesOperator{batchv1.PodFailurePolicyOnExitCodesOpIn, batchv1.PodFailurePolicyOnExitCodesOpNotIn}
	switch of := fld.Child("operator"); {
	case r.Operator == "":
		errs = append(errs, field.Required(of, fmt.Sprintf("valid values: %q", ops)))
	case !slices.Contains(ops, r.Operator):
		errs = append(errs, field.NotSupported(of, r.Operator, ops))
	}
	vf := fld.Child("values")
	switch n := len(r.Values); {
	case n == 0:
		errs = append(errs, field.Required(vf, "at least one value is required"))
	case n > maxOnExitCodesValues:
		errs = append(errs, field.TooMany(vf, n, maxOnExitCodesValues))
	}
	for i, v := range r.Values {
		switch {
		case r.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && v == 0:
			errs = append(errs, field.Invalid(vf.Index(i), v, "must not be 0 for the In operator"))
		case i > 0 && r.Values[i-1] == v:
			errs = append(errs, field.Duplicate(vf.Index(i), v))
		case i > 0 && r.Values[i-1] > v:
			errs = append(errs, field.Invalid(vf.Index(i), v, "must be ordered"))
		}
	}
	return errs
}

func validateSuccessPolicy(s *batchv1.JobSpec, indexed bool, fld *field.Path) field.ErrorList {
	if s.SuccessPolicy == nil {
		return nil
	}
	var errs field.ErrorList
	if !indexed {
		errs = append(errs, field.Invalid(fld, *s.SuccessPolicy, "requires indexed completion mode"))
	}
	rf := fld.Child("rules")
	switch n := len(s.SuccessPolicy.Rules); {
	case n == 0:
		errs = append(errs, field.Required(rf, "at least one rules must be specified when the successPolicy is specified"))
	case n > maxSuccessPolicyRules:
		errs = append(errs, field.TooMany(rf, n, maxSuccessPolicyRules))
	}
	for i, r := range s.SuccessPolicy.Rules {
		f := rf.Index(i)
		if r.SucceededIndexes == nil && r.SucceededCount == nil {
			errs = append(errs, field.Required(f, "at least one of succeededCount or succeededIndexes must be specified"))
		}
		if r.SucceededCount != nil {
			cf := f.Child("succeededCount")
			if *r.SucceededCount < 0 {
				errs = append(errs, field.Invalid(cf, *r.SucceededCount, "must be greater than or equal to 0"))
			}
			if s.Completions != nil && *r.SucceededCount > *s.Completions {
				errs = append(errs, field.Invalid(cf, *r.SucceededCount, fmt.Sprintf("must be less than or equal to %d (the number of specified completions)", *s.Completions)))
			}
		}
	}
	return errs
}

// validateJobUpdate re-validates the spec and keeps immutable what
// Kubernetes keeps immutable: selector, completion mode, failure, success
// and per-index backoff policies, managedBy, and the pod template, except
// that a suspended Job that never started may change its scheduling
// directives (labels, annotations, node selector, affinity, tolerations,
// scheduling gates). An Indexed Job may change completions together with
// parallelism.
func validateJobUpdate(j, old *batchv1.Job) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&j.ObjectMeta, &old.ObjectMeta, metaPath)
	s, os := &j.Spec, &old.Spec
	errs = append(errs, validateJobSpec(s, specPath, true)...)
	immutable := func(n, o any, name string) {
		errs = append(errs, apivalidation.ValidateImmutableField(n, o, specPath.Child(name))...)
	}
	if isIndexed(s) && isIndexed(os) {
		if !equalInt32(s.Completions, os.Completions) && !equalInt32(s.Completions, s.Parallelism) {
			errs = append(errs, field.Invalid(specPath.Child("completions"), s.Completions,
				fmt.Sprintf("can only be modified in tandem with %s", specPath.Child("parallelism"))))
		}
	} else {
		immutable(s.Completions, os.Completions, "completions")
	}
	immutable(s.Selector, os.Selector, "selector")
	immutable(s.CompletionMode, os.CompletionMode, "completionMode")
	immutable(s.PodFailurePolicy, os.PodFailurePolicy, "podFailurePolicy")
	immutable(s.SuccessPolicy, os.SuccessPolicy, "successPolicy")
	immutable(s.BackoffLimitPerIndex, os.BackoffLimitPerIndex, "backoffLimitPerIndex")
	immutable(s.ManagedBy, os.ManagedBy, "managedBy")

	oldTemplate := os.Template.DeepCopy()
	if os.Suspend != nil && *os.Suspend && old.Status.StartTime == nil {
		oldTemplate.Labels = s.Template.Labels
		oldTemplate.Annotations = s.Template.Annotations
		oldTemplate.Spec.NodeSelector = s.Template.Spec.NodeSelector
		oldTemplate.Spec.Affinity = s.Template.Spec.Affinity
		oldTemplate.Spec.Tolerations = s.Template.Spec.Tolerations
		oldTemplate.Spec.SchedulingGates = s.Template.Spec.SchedulingGates
	}
	errs = append(errs, apivalidation.ValidateImmutableField(s.Template, *oldTemplate, specPath.Child("template"))...)
	return errs
}

func isIndexed(s *batchv1.JobSpec) bool {
	return s.CompletionMode != nil && *s.CompletionMode == batchv1.IndexedCompletion
}

func equalInt32(a, b *int32) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}
