package apiserver

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/keel-edge/keel/coordinator/kinds"
)

// gcFinalizers returns the finalizers obj keeps once deleted with opts, as
// Kubernetes' API server sets them for its garbage collector: Orphan adds
// "orphan" (the collector strips the owner references from dependents,
// then the finalizer), Foreground adds "foregroundDeletion" (the collector
// deletes dependents, then the finalizer), Background takes both away.
// Without a policy the deprecated orphanDependents field decides, else the
// finalizers already there stay: every served kind defaults to Background.
// Namespaces keep their finalizers as they are: their content is deleted
// by the namespace's own finalization.
func gcFinalizers(k *kinds.Kind, obj kinds.Object, opts *metav1.DeleteOptions) []string {
	fins := obj.GetFinalizers()
	if k.Resource == "namespaces" && k.GVK.Group == "" {
		return fins
	}
	orphan := slices.Contains(fins, metav1.FinalizerOrphanDependents)
	foreground := slices.Contains(fins, metav1.FinalizerDeleteDependents)
	switch {
	case opts.PropagationPolicy != nil:
		orphan = *opts.PropagationPolicy == metav1.DeletePropagationOrphan
		foreground = *opts.PropagationPolicy == metav1.DeletePropagationForeground
	case opts.OrphanDependents != nil:
		orphan, foreground = *opts.OrphanDependents, false
	}
	out := make([]string, 0, len(fins)+1)
	for _, f := range fins {
		if f != metav1.FinalizerOrphanDependents && f != metav1.FinalizerDeleteDependents {
			out = append(out, f)
		}
	}
	if orphan {
		out = append(out, metav1.FinalizerOrphanDependents)
	}
	if foreground {
		out = append(out, metav1.FinalizerDeleteDependents)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
