package controllers

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// gcNode is what the garbage collector knows of one object: who it is,
// whether it is being deleted, its finalizers and its owner references.
type gcNode struct {
	Resource  string // the collector's name of its resource, "apps/replicasets"
	Namespace string
	Name      string
	UID       types.UID
	// ResourceVersion is the version seen, which writes are made against.
	ResourceVersion string
	Deleting        bool
	Finalizers      []string
	Owners          []metav1.OwnerReference
}

func gcNodeOf(resource string, m metav1.Object) gcNode {
	return gcNode{
		Resource: resource, Namespace: m.GetNamespace(), Name: m.GetName(), UID: m.GetUID(),
		ResourceVersion: m.GetResourceVersion(), Deleting: m.GetDeletionTimestamp() != nil, Finalizers: m.GetFinalizers(), Owners: m.GetOwnerReferences(),
	}
}

// ownerState is what became of one owner a dependent names.
type ownerState int

const (
	// ownerSolid exists and is not waiting for its dependents; owners of
	// kinds the collector does not know are taken as solid.
	ownerSolid ownerState = iota
	// ownerAbsent is gone: no object of that name, or one with another UID.
	ownerAbsent
	// ownerWaiting is being deleted in the foreground, waiting for its
	// dependents to go first.
	ownerWaiting
)

// gcActionKind says what one garbage collector action does.
type gcActionKind int

const (
	// gcDelete deletes Target (by UID) with Policy.
	gcDelete gcActionKind = iota
	// gcRemoveOwners removes the references to OwnerUIDs from Target.
	gcRemoveOwners
	// gcRemoveFinalizer removes Finalizer from Target.
	gcRemoveFinalizer
)

// gcAction is one write the garbage collector makes. The actions of one
// decision are carried out in order; the first that fails stops the rest.
type gcAction struct {
	Kind      gcActionKind
	Target    gcNode
	Policy    metav1.DeletionPropagation
	OwnerUIDs []types.UID
	Finalizer string
}

// decideGC is the garbage collector's decision for one object, given what
// became of each owner it names (by UID) and the objects that name it as
// an owner. It follows Kubernetes' collector:
//
//   - an object being deleted with the "orphan" finalizer has the
//     references to it removed from its dependents, then loses the
//     finalizer;
//   - an object being deleted with the "foregroundDeletion" finalizer loses
//     the finalizer once no dependent blocking its deletion
//     (blockOwnerDeletion) is left; its dependents are deleted by their own
//     decisions, which see it as waiting;
//   - an object with a solid owner keeps living, and loses its references
//     to absent and waiting owners;
//   - an object whose owners are all absent or waiting is deleted: in the
//     foreground when an owner waits for it and it has dependents of its
//     own, else as its own finalizers ask (background by default).
func decideGC(obj gcNode, owners map[types.UID]ownerState, dependents []gcNode) []gcAction {
	if obj.Deleting {
		return decideDeletingOwner(obj, dependents)
	}
	if len(obj.Owners) == 0 {
		return nil
	}
	var solid, gone []types.UID
	waiting := false
	for _, ref := range obj.Owners {
		switch owners[ref.UID] {
		case ownerSolid:
			solid = append(solid, ref.UID)
		case ownerWaiting:
			waiting = true
			gone = append(gone, ref.UID)
		default:
			gone = append(gone, ref.UID)
		}
	}
	if len(solid) > 0 {
		if len(gone) == 0 {
			return nil
		}
		return []gcAction{{Kind: gcRemoveOwners, Target: obj, OwnerUIDs: gone}}
	}
	policy := metav1.DeletePropagationBackground
	switch {
	case waiting && len(dependents) > 0:
		policy = metav1.DeletePropagationForeground
	case slices.Contains(obj.Finalizers, metav1.FinalizerOrphanDependents):
		policy = metav1.DeletePropagationOrphan
	case slices.Contains(obj.Finalizers, metav1.FinalizerDeleteDependents):
		policy = metav1.DeletePropagationForeground
	}
	return []gcAction{{Kind: gcDelete, Target: obj, Policy: policy}}
}

// decideDeletingOwner handles an object being deleted with a collector
// finalizer. Orphaning wins when both are present, as in Kubernetes.
func decideDeletingOwner(obj gcNode, dependents []gcNode) []gcAction {
	switch {
	case slices.Contains(obj.Finalizers, metav1.FinalizerOrphanDependents):
		var acts []gcAction
		for _, d := range dependents {
			acts = append(acts, gcAction{Kind: gcRemoveOwners, Target: d, OwnerUIDs: []types.UID{obj.UID}})
		}
		return append(acts, gcAction{Kind: gcRemoveFinalizer, Target: obj, Finalizer: metav1.FinalizerOrphanDependents})
	case slices.Contains(obj.Finalizers, metav1.FinalizerDeleteDependents):
		for _, d := range dependents {
			if blocks(d, obj.UID) {
				return nil
			}
		}
		return []gcAction{{Kind: gcRemoveFinalizer, Target: obj, Finalizer: metav1.FinalizerDeleteDependents}}
	}
	return nil
}

// blocks reports whether dep's reference to owner has blockOwnerDeletion.
func blocks(dep gcNode, owner types.UID) bool {
	for _, r := range dep.Owners {
		if r.UID == owner && r.BlockOwnerDeletion != nil && *r.BlockOwnerDeletion {
			return true
		}
	}
	return false
}

// ownerStateOf classifies an owner found with this UID.
func ownerStateOf(m metav1.Object) ownerState {
	if m.GetDeletionTimestamp() != nil && slices.Contains(m.GetFinalizers(), metav1.FinalizerDeleteDependents) {
		return ownerWaiting
	}
	return ownerSolid
}

// hasGCFinalizer reports whether m waits for the collector.
func hasGCFinalizer(m metav1.Object) bool {
	f := m.GetFinalizers()
	return slices.Contains(f, metav1.FinalizerOrphanDependents) || slices.Contains(f, metav1.FinalizerDeleteDependents)
}
