package controllers

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// cascade deletes the dependents an owner left behind, in place of a
// garbage collector: every object in idx whose controller is the kind
// named name in ns, once a live read (exists) says no owner with that UID
// is left. Dependents of a new owner of the same name are kept.
func cascade(ctx context.Context, idx cache.Indexer, ns, kind, name string,
	exists func(context.Context, types.UID) (bool, error),
	del func(context.Context, metav1.Object) error) error {
	objs, err := idx.ByIndex(byController, ns+"/"+kind+"/"+name)
	if err != nil {
		return fmt.Errorf("dependents of %s %s/%s: %w", kind, ns, name, err)
	}
	alive := map[types.UID]bool{}
	var errs []error
	for _, o := range objs {
		m, ok := o.(metav1.Object)
		if !ok || m.GetDeletionTimestamp() != nil {
			continue
		}
		uid := metav1.GetControllerOfNoCopy(m).UID
		live, checked := alive[uid]
		if !checked {
			var err error
			if live, err = exists(ctx, uid); err != nil {
				return fmt.Errorf("look up %s %s/%s: %w", kind, ns, name, err)
			}
			alive[uid] = live
		}
		if live {
			continue
		}
		if err := del(ctx, m); ignoreNotFound(err) != nil && !apierrors.IsConflict(err) {
			errs = append(errs, fmt.Errorf("delete dependent %s/%s of %s %s: %w", ns, m.GetName(), kind, name, err))
		}
	}
	return errors.Join(errs...)
}

// deleteUID deletes only the object with this UID, never a successor
// of the same name.
func deleteUID(uid types.UID) metav1.DeleteOptions {
	bg := metav1.DeletePropagationBackground
	return metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}, PropagationPolicy: &bg}
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
