package kinds

import (
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// leaseKind is coordination.k8s.io/v1 Lease: nodes renew one each in
// kube-node-lease as their heartbeat, and kubectl describe node reads it.
func leaseKind() *Kind {
	return &Kind{
		GVK:        coordinationv1.SchemeGroupVersion.WithKind("Lease"),
		Resource:   "leases",
		Singular:   "lease",
		Namespaced: true,
		New:        func() Object { return &coordinationv1.Lease{} },
		NewList:    func() runtime.Object { return &coordinationv1.LeaseList{} },
		Validate:   func(obj Object) field.ErrorList { return validateLease(obj.(*coordinationv1.Lease)) },
		Columns: []metav1.TableColumnDefinition{
			column("Holder", "The holder of the lease."),
			ageColumn(),
		},
		Row: func(obj Object, now time.Time) []any {
			l := obj.(*coordinationv1.Lease)
			holder := ""
			if l.Spec.HolderIdentity != nil {
				holder = *l.Spec.HolderIdentity
			}
			return []any{holder, ageSince(l.CreationTimestamp, now)}
		},
	}
}

func validateLease(l *coordinationv1.Lease) field.ErrorList {
	errs := ValidateObjectMeta(&l.ObjectMeta, true, field.NewPath("metadata"))
	spec := field.NewPath("spec")
	if d := l.Spec.LeaseDurationSeconds; d != nil && *d <= 0 {
		errs = append(errs, field.Invalid(spec.Child("leaseDurationSeconds"), *d, "must be greater than 0"))
	}
	if t := l.Spec.LeaseTransitions; t != nil && *t < 0 {
		errs = append(errs, field.Invalid(spec.Child("leaseTransitions"), *t, "must be greater than or equal to 0"))
	}
	return errs
}
