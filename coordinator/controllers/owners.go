package controllers

import (
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

var (
	replicaSetKind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")
	deploymentKind = appsv1.SchemeGroupVersion.WithKind("Deployment")
)

// controllerRef returns the owner reference a controller puts on what it
// creates or adopts.
func controllerRef(owner metav1.Object, kind schema.GroupVersionKind) metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion:         kind.GroupVersion().String(),
		Kind:               kind.Kind,
		Name:               owner.GetName(),
		UID:                owner.GetUID(),
		Controller:         ptr.To(true),
		BlockOwnerDeletion: ptr.To(true),
	}
}

// claim is the outcome of matching one dependent against its would-be
// controller.
type claim int

const (
	ignore  claim = iota // someone else's, or neither owned nor matching
	owned                // controlled and matching
	adopt                // an orphan that matches
	release              // controlled but no longer matching
)

// claimOf decides, as Kubernetes' ControllerRefManager does, whether
// owner keeps, adopts, releases or ignores a dependent.
func claimOf(owner metav1.Object, sel labels.Selector, dep metav1.Object) claim {
	ref := metav1.GetControllerOfNoCopy(dep)
	match := sel.Matches(labels.Set(dep.GetLabels()))
	if ref != nil {
		if ref.UID != owner.GetUID() {
			return ignore
		}
		if match || owner.GetDeletionTimestamp() != nil {
			return owned
		}
		return release
	}
	if !match || owner.GetDeletionTimestamp() != nil || dep.GetDeletionTimestamp() != nil {
		return ignore
	}
	return adopt
}

// withControllerRef returns a copy of refs with ref added.
func withControllerRef(refs []metav1.OwnerReference, ref metav1.OwnerReference) []metav1.OwnerReference {
	out := make([]metav1.OwnerReference, 0, len(refs)+1)
	out = append(out, refs...)
	return append(out, ref)
}

// withoutOwner returns a copy of refs without the one to uid.
func withoutOwner(refs []metav1.OwnerReference, uid types.UID) []metav1.OwnerReference {
	var out []metav1.OwnerReference
	for _, r := range refs {
		if r.UID != uid {
			out = append(out, r)
		}
	}
	return out
}

// controlledBy reports whether obj's controller is the kind named name
// with the given UID; an empty uid matches any UID.
func controlledBy(obj metav1.Object, kind, name string, uid types.UID) bool {
	ref := metav1.GetControllerOfNoCopy(obj)
	return ref != nil && ref.Kind == kind && ref.Name == name && (uid == "" || ref.UID == uid)
}

// queueOwners queues, for a changed dependent obj (or its tombstone), the
// owner of ownerKind that controls it; for an orphan, every owner listed
// in its namespace whose selector matches it, since any may adopt it.
func queueOwners[O metav1.Object](q workqueue.TypedRateLimitingInterface[string], obj any, ownerKind string,
	list func(namespace string) ([]O, error), selector func(O) *metav1.LabelSelector) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	dep, ok := obj.(metav1.Object)
	if !ok {
		return
	}
	if ref := metav1.GetControllerOfNoCopy(dep); ref != nil {
		if ref.Kind == ownerKind {
			q.Add(dep.GetNamespace() + "/" + ref.Name)
		}
		return
	}
	owners, err := list(dep.GetNamespace())
	if err != nil {
		return
	}
	for _, o := range owners {
		sel, err := metav1.LabelSelectorAsSelector(selector(o))
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(dep.GetLabels())) {
			q.Add(o.GetNamespace() + "/" + o.GetName())
		}
	}
}
