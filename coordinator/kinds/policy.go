package kinds

import (
	"time"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var unhealthyPodEvictionPolicies = sets.New(policyv1.IfHealthyBudget, policyv1.AlwaysAllow)

// policyKinds returns the policy/v1 kinds: PodDisruptionBudget.
func policyKinds() []*Kind {
	return []*Kind{{
		GVK:        policyv1.SchemeGroupVersion.WithKind("PodDisruptionBudget"),
		Resource:   "poddisruptionbudgets",
		Singular:   "poddisruptionbudget",
		ShortNames: []string{"pdb"},
		Namespaced: true,
		HasStatus:  true,
		Generation: true,
		New:        func() Object { return &policyv1.PodDisruptionBudget{} },
		NewList:    func() runtime.Object { return &policyv1.PodDisruptionBudgetList{} },
		Validate:   func(obj Object) field.ErrorList { return validatePDB(obj.(*policyv1.PodDisruptionBudget)) },
		ValidateUpdate: func(obj, old Object) field.ErrorList {
			p, o := obj.(*policyv1.PodDisruptionBudget), old.(*policyv1.PodDisruptionBudget)
			errs := ValidateObjectMetaUpdate(&p.ObjectMeta, &o.ObjectMeta, field.NewPath("metadata"))
			return append(errs, validatePDBSpec(&p.Spec, field.NewPath("spec"))...)
		},
		Columns: []metav1.TableColumnDefinition{
			column("Min Available", "The minimum number or percentage of pods that must stay available."),
			column("Max Unavailable", "The maximum number or percentage of pods that may be unavailable."),
			intColumn("Allowed Disruptions", "How many pods may be evicted now."),
			ageColumn(),
		},
		Row: func(obj Object, now time.Time) []any {
			p := obj.(*policyv1.PodDisruptionBudget)
			return []any{intOrPercentText(p.Spec.MinAvailable), intOrPercentText(p.Spec.MaxUnavailable),
				int64(p.Status.DisruptionsAllowed), ageSince(p.CreationTimestamp, now)}
		},
	}}
}

// intOrPercentText is how the PDB table shows a bound: "2", "50%" or N/A.
func intOrPercentText(v *intstr.IntOrString) string {
	if v == nil {
		return "N/A"
	}
	return v.String()
}

func validatePDB(p *policyv1.PodDisruptionBudget) field.ErrorList {
	errs := ValidateObjectMeta(&p.ObjectMeta, true, field.NewPath("metadata"))
	return append(errs, validatePDBSpec(&p.Spec, field.NewPath("spec"))...)
}

func validatePDBSpec(s *policyv1.PodDisruptionBudgetSpec, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.MinAvailable != nil && s.MaxUnavailable != nil {
		errs = append(errs, field.Invalid(fld, s, "minAvailable and maxUnavailable cannot be both set"))
	}
	for _, b := range []struct {
		name string
		v    *intstr.IntOrString
	}{{"minAvailable", s.MinAvailable}, {"maxUnavailable", s.MaxUnavailable}} {
		f := fld.Child(b.name)
		errs = append(errs, validateIntOrPercent(b.v, f)...)
		errs = append(errs, notMoreThan100Percent(b.v, f)...)
	}
	errs = append(errs, metavalidation.ValidateLabelSelector(s.Selector, metavalidation.LabelSelectorValidationOptions{}, fld.Child("selector"))...)
	if p := s.UnhealthyPodEvictionPolicy; p != nil && !unhealthyPodEvictionPolicies.Has(*p) {
		errs = append(errs, field.NotSupported(fld.Child("unhealthyPodEvictionPolicy"), *p, sets.List(unhealthyPodEvictionPolicies)))
	}
	return errs
}
