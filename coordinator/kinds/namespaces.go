package kinds

import (
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func namespaceKind() *Kind {
	return &Kind{
		GVK:        corev1.SchemeGroupVersion.WithKind("Namespace"),
		Resource:   "namespaces",
		Singular:   "namespace",
		ShortNames: []string{"ns"},
		HasStatus:  true,
		New:        func() Object { return &corev1.Namespace{} },
		NewList:    func() runtime.Object { return &corev1.NamespaceList{} },
		InitStatus: func(obj Object) { initNamespace(obj.(*corev1.Namespace)) },
		Default:    func(obj Object) { defaultNamespace(obj.(*corev1.Namespace)) },
		Validate:   func(obj Object) field.ErrorList { return validateNamespace(obj.(*corev1.Namespace)) },
		ValidateUpdate: func(obj, old Object) field.ErrorList {
			ns, o := obj.(*corev1.Namespace), old.(*corev1.Namespace)
			errs := ValidateObjectMetaUpdate(&ns.ObjectMeta, &o.ObjectMeta, field.NewPath("metadata"))
			return append(errs, validateNamespace(ns)...)
		},
		Columns: []metav1.TableColumnDefinition{
			column("Status", "Phase of the namespace: Active or Terminating."),
			ageColumn(),
		},
		Row: func(obj Object, now time.Time) []any {
			ns := obj.(*corev1.Namespace)
			return []any{string(ns.Status.Phase), ageSince(ns.CreationTimestamp, now)}
		},
		Fields: func(obj Object) fields.Set {
			ns := obj.(*corev1.Namespace)
			return fields.Set{"status.phase": string(ns.Status.Phase), "name": ns.Name}
		},
	}
}

// defaultNamespace labels the namespace with its own name, so that label
// selectors can pick namespaces by name.
func defaultNamespace(ns *corev1.Namespace) {
	if ns.Name == "" {
		return
	}
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	ns.Labels[corev1.LabelMetadataName] = ns.Name
}

// initNamespace starts a namespace Active and adds the kubernetes finalizer
// to its spec. Both happen on create only: the finalizer is removed during
// deletion and must not come back on later writes.
func initNamespace(ns *corev1.Namespace) {
	ns.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
	if !slices.Contains(ns.Spec.Finalizers, corev1.FinalizerKubernetes) {
		ns.Spec.Finalizers = append(ns.Spec.Finalizers, corev1.FinalizerKubernetes)
	}
}

func validateNamespace(ns *corev1.Namespace) field.ErrorList {
	errs := apivalidation.ValidateObjectMeta(&ns.ObjectMeta, false, apivalidation.ValidateNamespaceName, field.NewPath("metadata"))
	for i, f := range ns.Spec.Finalizers {
		ff := field.NewPath("spec", "finalizers").Index(i)
		s := string(f)
		for _, msg := range validation.IsQualifiedName(s) {
			errs = append(errs, field.Invalid(ff, s, msg))
		}
		if !strings.Contains(s, "/") && f != corev1.FinalizerKubernetes {
			errs = append(errs, field.Invalid(ff, s, "name is neither a standard finalizer name nor is it fully qualified"))
		}
	}
	return errs
}
