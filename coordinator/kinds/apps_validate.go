package kinds

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Messages shared by the workload validators, worded as Kubernetes words them.
const (
	msgSelectorMismatch = "`selector` does not match template `labels`"
	msgMustBeGreaterMin = "must be greater than minReadySeconds"
)

var (
	metaPath = field.NewPath("metadata")
	specPath = field.NewPath("spec")
)

func validateDeployment(d *appsv1.Deployment) field.ErrorList {
	errs := ValidateObjectMeta(&d.ObjectMeta, true, metaPath)
	return append(errs, validateDeploymentSpec(&d.Spec, specPath)...)
}

func validateDeploymentUpdate(d, old *appsv1.Deployment) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&d.ObjectMeta, &old.ObjectMeta, metaPath)
	errs = append(errs, validateDeploymentSpec(&d.Spec, specPath)...)
	return append(errs, apivalidation.ValidateImmutableField(d.Spec.Selector, old.Spec.Selector, specPath.Child("selector"))...)
}

func validateDeploymentSpec(spec *appsv1.DeploymentSpec, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec.Replicas != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*spec.Replicas), fld.Child("replicas"))...)
	}
	errs = append(errs, validateReplicatedTemplate(spec.Selector, &spec.Template, "deployment", fld)...)
	errs = append(errs, validateDeploymentStrategy(&spec.Strategy, fld.Child("strategy"))...)
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(spec.MinReadySeconds), fld.Child("minReadySeconds"))...)
	if spec.RevisionHistoryLimit != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*spec.RevisionHistoryLimit), fld.Child("revisionHistoryLimit"))...)
	}
	if spec.ProgressDeadlineSeconds != nil {
		p := fld.Child("progressDeadlineSeconds")
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*spec.ProgressDeadlineSeconds), p)...)
		if *spec.ProgressDeadlineSeconds <= spec.MinReadySeconds {
			errs = append(errs, field.Invalid(p, *spec.ProgressDeadlineSeconds, msgMustBeGreaterMin))
		}
	}
	return errs
}

func validateDeploymentStrategy(st *appsv1.DeploymentStrategy, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch st.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if st.RollingUpdate != nil {
			errs = append(errs, field.Forbidden(fld.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"))
		}
	case appsv1.RollingUpdateDeploymentStrategyType:
		if st.RollingUpdate == nil {
			return append(errs, field.Required(fld.Child("rollingUpdate"), "this should be defaulted and never be nil"))
		}
		ru, p := st.RollingUpdate, fld.Child("rollingUpdate")
		errs = append(errs, validateIntOrPercent(ru.MaxUnavailable, p.Child("maxUnavailable"))...)
		errs = append(errs, validateIntOrPercent(ru.MaxSurge, p.Child("maxSurge"))...)
		if intOrPercentValue(ru.MaxUnavailable) == 0 && intOrPercentValue(ru.MaxSurge) == 0 {
			errs = append(errs, field.Invalid(p.Child("maxUnavailable"), intOrPercentCell(ru.MaxUnavailable), "may not be 0 when `maxSurge` is 0"))
		}
		errs = append(errs, notMoreThan100Percent(ru.MaxUnavailable, p.Child("maxUnavailable"))...)
	default:
		errs = append(errs, field.NotSupported(fld.Child("type"), st.Type,
			[]string{string(appsv1.RecreateDeploymentStrategyType), string(appsv1.RollingUpdateDeploymentStrategyType)}))
	}
	return errs
}

func validateReplicaSet(rs *appsv1.ReplicaSet) field.ErrorList {
	errs := ValidateObjectMeta(&rs.ObjectMeta, true, metaPath)
	return append(errs, validateReplicaSetSpec(&rs.Spec, specPath)...)
}

func validateReplicaSetUpdate(rs, old *appsv1.ReplicaSet) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&rs.ObjectMeta, &old.ObjectMeta, metaPath)
	errs = append(errs, validateReplicaSetSpec(&rs.Spec, specPath)...)
	return append(errs, apivalidation.ValidateImmutableField(rs.Spec.Selector, old.Spec.Selector, specPath.Child("selector"))...)
}

func validateReplicaSetSpec(spec *appsv1.ReplicaSetSpec, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec.Replicas != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*spec.Replicas), fld.Child("replicas"))...)
	}
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(spec.MinReadySeconds), fld.Child("minReadySeconds"))...)
	// Kubernetes reports an empty ReplicaSet selector with the deployment wording.
	return append(errs, validateReplicatedTemplate(spec.Selector, &spec.Template, "deployment", fld)...)
}

// validateReplicatedTemplate checks what Deployments and ReplicaSets share:
// a required, non-empty selector matching the template's labels, a valid
// pod template, restartPolicy Always and no activeDeadlineSeconds.
func validateReplicatedTemplate(sel *metav1.LabelSelector, t *corev1.PodTemplateSpec, kind string, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	sf := fld.Child("selector")
	if sel == nil {
		errs = append(errs, field.Required(sf, ""))
	} else {
		errs = append(errs, metavalidation.ValidateLabelSelector(sel, metavalidation.LabelSelectorValidationOptions{}, sf)...)
		if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
			errs = append(errs, field.Invalid(sf, sel, "empty selector is invalid for "+kind))
		}
	}
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return append(errs, field.Invalid(sf, sel, "invalid label selector"))
	}
	tf := fld.Child("template")
	if !selector.Empty() && !selector.Matches(labels.Set(t.Labels)) {
		errs = append(errs, field.Invalid(tf.Child("metadata", "labels"), t.Labels, msgSelectorMismatch))
	}
	errs = append(errs, ValidatePodTemplateSpec(t, tf)...)
	errs = append(errs, validateAlwaysRestart(t, tf.Child("spec"))...)
	if t.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(tf.Child("spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in ReplicaSet is not Supported"))
	}
	return errs
}

// validateAlwaysRestart requires restartPolicy Always, as every
// long-running workload's pods have.
func validateAlwaysRestart(t *corev1.PodTemplateSpec, fld *field.Path) field.ErrorList {
	if t.Spec.RestartPolicy == corev1.RestartPolicyAlways {
		return nil
	}
	return field.ErrorList{field.NotSupported(fld.Child("restartPolicy"), t.Spec.RestartPolicy, []string{string(corev1.RestartPolicyAlways)})}
}

func validateDaemonSet(ds *appsv1.DaemonSet) field.ErrorList {
	errs := ValidateObjectMeta(&ds.ObjectMeta, true, metaPath)
	return append(errs, validateDaemonSetSpec(&ds.Spec, specPath)...)
}

func validateDaemonSetUpdate(ds, old *appsv1.DaemonSet) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&ds.ObjectMeta, &old.ObjectMeta, metaPath)
	errs = append(errs, validateDaemonSetSpec(&ds.Spec, specPath)...)
	return append(errs, apivalidation.ValidateImmutableField(ds.Spec.Selector, old.Spec.Selector, specPath.Child("selector"))...)
}

func validateDaemonSetSpec(spec *appsv1.DaemonSetSpec, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	sf, tf := fld.Child("selector"), fld.Child("template")
	if spec.Selector == nil {
		errs = append(errs, field.Required(sf, ""))
	}
	errs = append(errs, metavalidation.ValidateLabelSelector(spec.Selector, metavalidation.LabelSelectorValidationOptions{}, sf)...)
	if selector, err := metav1.LabelSelectorAsSelector(spec.Selector); err == nil && !selector.Matches(labels.Set(spec.Template.Labels)) {
		errs = append(errs, field.Invalid(tf.Child("metadata", "labels"), spec.Template.Labels, msgSelectorMismatch))
	}
	if spec.Selector != nil && len(spec.Selector.MatchLabels)+len(spec.Selector.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(sf, spec.Selector, "empty selector is invalid for daemonset"))
	}
	errs = append(errs, ValidatePodTemplateSpec(&spec.Template, tf)...)
	errs = append(errs, validateAlwaysRestart(&spec.Template, tf.Child("spec"))...)
	if spec.Template.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Invalid(tf.Child("spec", "activeDeadlineSeconds"), *spec.Template.Spec.ActiveDeadlineSeconds, "activeDeadlineSeconds must be nil for daemonset"))
	}
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(spec.MinReadySeconds), fld.Child("minReadySeconds"))...)
	errs = append(errs, validateDaemonSetStrategy(&spec.UpdateStrategy, fld.Child("updateStrategy"))...)
	if spec.RevisionHistoryLimit != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*spec.RevisionHistoryLimit), fld.Child("revisionHistoryLimit"))...)
	}
	return errs
}

func validateDaemonSetStrategy(st *appsv1.DaemonSetUpdateStrategy, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch st.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
	case appsv1.RollingUpdateDaemonSetStrategyType:
		if st.RollingUpdate == nil {
			return append(errs, field.Required(fld.Child("rollingUpdate"), ""))
		}
		ru, p := st.RollingUpdate, fld.Child("rollingUpdate")
		errs = append(errs, validateIntOrPercent(ru.MaxUnavailable, p.Child("maxUnavailable"))...)
		errs = append(errs, validateIntOrPercent(ru.MaxSurge, p.Child("maxSurge"))...)
		errs = append(errs, notMoreThan100Percent(ru.MaxUnavailable, p.Child("maxUnavailable"))...)
		errs = append(errs, notMoreThan100Percent(ru.MaxSurge, p.Child("maxSurge"))...)
		hasUnavailable := intOrPercentValue(ru.MaxUnavailable) != 0
		hasSurge := intOrPercentValue(ru.MaxSurge) != 0
		switch {
		case hasUnavailable && hasSurge:
			errs = append(errs, field.Invalid(p.Child("maxSurge"), intOrPercentCell(ru.MaxSurge), "may not be set when maxUnavailable is non-zero"))
		case !hasUnavailable && !hasSurge:
			errs = append(errs, field.Required(p.Child("maxUnavailable"), "cannot be 0 when maxSurge is 0"))
		}
	default:
		errs = append(errs, field.NotSupported(fld, st.Type,
			[]string{string(appsv1.RollingUpdateDaemonSetStrategyType), string(appsv1.OnDeleteDaemonSetStrategyType)}))
	}
	return errs
}

// validateIntOrPercent accepts a non-negative integer or a "<digits>%"
// string; nil is left to defaulting and the zero checks.
func validateIntOrPercent(v *intstr.IntOrString, fld *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	var errs field.ErrorList
	switch v.Type {
	case intstr.String:
		for _, msg := range validation.IsValidPercent(v.StrVal) {
			errs = append(errs, field.Invalid(fld, v.StrVal, msg))
		}
	case intstr.Int:
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(v.IntVal), fld)...)
	}
	return errs
}

// intOrPercentValue is the number in an int-or-percent: 25 for both 25 and
// "25%"; 0 for nil or a malformed percentage.
func intOrPercentValue(v *intstr.IntOrString) int {
	if v == nil {
		return 0
	}
	if v.Type == intstr.String {
		n, err := strconv.Atoi(strings.TrimSuffix(v.StrVal, "%"))
		if err != nil || !strings.HasSuffix(v.StrVal, "%") {
			return 0
		}
		return n
	}
	return int(v.IntVal)
}

// intOrPercentCell is the value an error message shows for v.
func intOrPercentCell(v *intstr.IntOrString) any {
	switch {
	case v == nil:
		return nil
	case v.Type == intstr.String:
		return v.StrVal
	default:
		return int64(v.IntVal)
	}
}

func notMoreThan100Percent(v *intstr.IntOrString, fld *field.Path) field.ErrorList {
	if v == nil || v.Type != intstr.String || intOrPercentValue(v) <= 100 {
		return nil
	}
	return field.ErrorList{field.Invalid(fld, v.StrVal, "must not be greater than 100%")}
}

func validateControllerRevision(cr *appsv1.ControllerRevision) field.ErrorList {
	errs := ValidateObjectMeta(&cr.ObjectMeta, true, metaPath)
	if cr.Data.Raw == nil && cr.Data.Object == nil {
		errs = append(errs, field.Required(field.NewPath("data"), "data is mandatory"))
	}
	return append(errs, apivalidation.ValidateNonnegativeField(cr.Revision, field.NewPath("revision"))...)
}

func validateControllerRevisionUpdate(cr, old *appsv1.ControllerRevision) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&cr.ObjectMeta, &old.ObjectMeta, metaPath)
	if cr.Data.Raw == nil && cr.Data.Object == nil {
		errs = append(errs, field.Required(field.NewPath("data"), "data is mandatory"))
	}
	errs = append(errs, apivalidation.ValidateNonnegativeField(cr.Revision, field.NewPath("revision"))...)
	if !sameJSON(cr.Data.Raw, old.Data.Raw) {
		errs = append(errs, field.Invalid(field.NewPath("data"), string(cr.Data.Raw), apivalidation.FieldImmutableErrorMsg))
	}
	return errs
}

// sameJSON compares two raw JSON documents ignoring insignificant
// whitespace; documents that are not JSON compare byte for byte.
func sameJSON(a, b []byte) bool {
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return bytes.Equal(a, b)
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}
