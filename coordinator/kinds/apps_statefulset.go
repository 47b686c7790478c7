package kinds

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func validateStatefulSet(s *appsv1.StatefulSet) field.ErrorList {
	errs := ValidateObjectMeta(&s.ObjectMeta, true, metaPath)
	return append(errs, validateStatefulSetSpec(&s.Spec, specPath)...)
}

// validateStatefulSetUpdate allows changes only to replicas, ordinals,
// template, updateStrategy, revisionHistoryLimit,
// persistentVolumeClaimRetentionPolicy and minReadySeconds.
func validateStatefulSetUpdate(s, old *appsv1.StatefulSet) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&s.ObjectMeta, &old.ObjectMeta, metaPath)
	errs = append(errs, validateStatefulSetSpec(&s.Spec, specPath)...)
	rest := s.Spec.DeepCopy()
	rest.Replicas = old.Spec.Replicas
	rest.Ordinals = old.Spec.Ordinals
	rest.Template = old.Spec.Template
	rest.UpdateStrategy = old.Spec.UpdateStrategy
	rest.RevisionHistoryLimit = old.Spec.RevisionHistoryLimit
	rest.PersistentVolumeClaimRetentionPolicy = old.Spec.PersistentVolumeClaimRetentionPolicy
	rest.MinReadySeconds = old.Spec.MinReadySeconds
	if !equality.Semantic.DeepEqual(*rest, old.Spec) {
		errs = append(errs, field.Forbidden(specPath, "updates to statefulset spec for fields other than 'replicas', 'ordinals', "+
			"'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"))
	}
	return errs
}

func validateStatefulSetSpec(spec *appsv1.StatefulSetSpec, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch p := fld.Child("podManagementPolicy"); spec.PodManagementPolicy {
	case "":
		errs = append(errs, field.Required(p, ""))
	case appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	default:
		errs = append(errs, field.Invalid(p, spec.PodManagementPolicy,
			mustBeOneOf(appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement)))
	}
	errs = append(errs, validateStatefulSetStrategy(&spec.UpdateStrategy, fld.Child("updateStrategy"))...)
	errs = append(errs, validateClaimRetention(spec.PersistentVolumeClaimRetentionPolicy, fld.Child("persistentVolumeClaimRetentionPolicy"))...)
	if spec.ServiceName != "" {
		for _, msg := range validation.IsDNS1123Label(spec.ServiceName) {
			errs = append(errs, field.Invalid(fld.Child("serviceName"), spec.ServiceName, msg))
		}
	}
	if spec.Replicas != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*spec.Replicas), fld.Child("replicas"))...)
	}
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(spec.MinReadySeconds), fld.Child("minReadySeconds"))...)
	if spec.RevisionHistoryLimit != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*spec.RevisionHistoryLimit), fld.Child("revisionHistoryLimit"))...)
	}
	if spec.Ordinals != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(spec.Ordinals.Start), fld.Child("ordinals", "start"))...)
	}

	sf, tf := fld.Child("selector"), fld.Child("template")
	if spec.Selector == nil {
		errs = append(errs, field.Required(sf, ""))
	} else {
		errs = append(errs, metavalidation.ValidateLabelSelector(spec.Selector, metavalidation.LabelSelectorValidationOptions{}, sf)...)
		if len(spec.Selector.MatchLabels)+len(spec.Selector.MatchExpressions) == 0 {
			errs = append(errs, field.Invalid(sf, spec.Selector, "empty selector is invalid for statefulset"))
		}
	}
	if selector, err := metav1.LabelSelectorAsSelector(spec.Selector); err != nil {
		errs = append(errs, field.Invalid(sf, spec.Selector, ""))
	} else if !selector.Empty() && !selector.Matches(labels.Set(spec.Template.Labels)) {
		errs = append(errs, field.Invalid(tf.Child("metadata", "labels"), spec.Template.Labels, msgSelectorMismatch))
	}
	errs = append(errs, ValidatePodTemplateSpec(withClaimVolumes(spec), tf)...)
	errs = append(errs, validateAlwaysRestart(&spec.Template, tf.Child("spec"))...)
	if spec.Template.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(tf.Child("spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in StatefulSet is not Supported"))
	}
	return append(errs, validateClaimTemplates(spec.VolumeClaimTemplates, fld.Child("volumeClaimTemplates"))...)
}

func validateStatefulSetStrategy(st *appsv1.StatefulSetUpdateStrategy, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch st.Type {
	case "":
		errs = append(errs, field.Required(fld, ""))
	case appsv1.OnDeleteStatefulSetStrategyType:
		if st.RollingUpdate != nil {
			errs = append(errs, field.Invalid(fld.Child("rollingUpdate"), st.RollingUpdate,
				fmt.Sprintf("only allowed for updateStrategy '%s'", appsv1.RollingUpdateStatefulSetStrategyType)))
		}
	case appsv1.RollingUpdateStatefulSetStrategyType:
		if st.RollingUpdate == nil {
			break
		}
		p := fld.Child("rollingUpdate")
		if st.RollingUpdate.Partition != nil {
			errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*st.RollingUpdate.Partition), p.Child("partition"))...)
		}
		if mu := st.RollingUpdate.MaxUnavailable; mu != nil {
			mp := p.Child("maxUnavailable")
			errs = append(errs, validateIntOrPercent(mu, mp)...)
			if intOrPercentValue(mu) == 0 {
				errs = append(errs, field.Invalid(mp, intOrPercentCell(mu), "cannot be 0"))
			}
			errs = append(errs, notMoreThan100Percent(mu, mp)...)
		}
	default:
		errs = append(errs, field.Invalid(fld, st,
			mustBeOneOf(appsv1.RollingUpdateStatefulSetStrategyType, appsv1.OnDeleteStatefulSetStrategyType)))
	}
	return errs
}

func validateClaimRetention(p *appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy, fld *field.Path) field.ErrorList {
	if p == nil {
		return nil
	}
	valid := []string{string(appsv1.RetainPersistentVolumeClaimRetentionPolicyType), string(appsv1.DeletePersistentVolumeClaimRetentionPolicyType)}
	var errs field.ErrorList
	check := func(v appsv1.PersistentVolumeClaimRetentionPolicyType, f *field.Path) {
		switch v {
		case appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType:
		default:
			errs = append(errs, field.NotSupported(f, v, valid))
		}
	}
	check(p.WhenDeleted, fld.Child("whenDeleted"))
	check(p.WhenScaled, fld.Child("whenScaled"))
	return errs
}

// validateClaimTemplates checks what the StatefulSet controller relies on
// to stamp out claims: a valid, unique name, at least one access mode and
// a storage request.
func validateClaimTemplates(ts []corev1.PersistentVolumeClaim, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i := range ts {
		t, f := &ts[i], fld.Index(i)
		nf := f.Child("metadata", "name")
		switch {
		case t.Name == "":
			errs = append(errs, field.Required(nf, "name or generateName is required"))
		case seen[t.Name]:
			errs = append(errs, field.Duplicate(nf, t.Name))
		default:
			for _, msg := range apivalidation.NameIsDNSSubdomain(t.Name, false) {
				errs = append(errs, field.Invalid(nf, t.Name, msg))
			}
		}
		seen[t.Name] = true
		sf := f.Child("spec")
		if len(t.Spec.AccessModes) == 0 {
			errs = append(errs, field.Required(sf.Child("accessModes"), "at least 1 access mode is required"))
		}
		if _, ok := t.Spec.Resources.Requests[corev1.ResourceStorage]; !ok {
			errs = append(errs, field.Required(sf.Child("resources").Key(string(corev1.ResourceStorage)), ""))
		}
	}
	return errs
}

// mustBeOneOf renders two allowed values the way Kubernetes words it:
// must be 'A' or 'B'.
func mustBeOneOf[T ~string](a, b T) string { return fmt.Sprintf("must be '%s' or '%s'", a, b) }

// withClaimVolumes is the set's pod template with a volume for each
// volume claim template it lacks, as the controller gives its pods, so
// that mounts of claim templates validate.
func withClaimVolumes(spec *appsv1.StatefulSetSpec) *corev1.PodTemplateSpec {
	t := spec.Template.DeepCopy()
	have := map[string]bool{}
	for _, v := range t.Spec.Volumes {
		have[v.Name] = true
	}
	for _, c := range spec.VolumeClaimTemplates {
		if have[c.Name] || len(validation.IsDNS1123Label(c.Name)) > 0 {
			continue // reported on the claim template itself
		}
		have[c.Name] = true
		t.Spec.Volumes = append(t.Spec.Volumes, corev1.Volume{Name: c.Name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c.Name}}})
	}
	return t
}
