package controllers

import (
	"context"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"
)

// errRevisionCollision: the name of a new ControllerRevision is taken by
// one with other data; the owner's collision count must move on.
var errRevisionCollision = errors.New("controller revision name collision")

// ensureControllerIndex adds the by-controller index to informers that
// lack it; controllers sharing an informer add it once.
func ensureControllerIndex(infs ...cache.SharedIndexInformer) error {
	for _, inf := range infs {
		if _, ok := inf.GetIndexer().GetIndexers()[byController]; ok {
			continue
		}
		if err := inf.AddIndexers(cache.Indexers{byController: controllerIndex}); err != nil {
			return fmt.Errorf("controller index: %w", err)
		}
	}
	return nil
}

// ownedRevisions are the ControllerRevisions owner (of kind) controls.
func ownedRevisions(idx cache.Indexer, owner metav1.Object, kind string) ([]*appsv1.ControllerRevision, error) {
	objs, err := idx.ByIndex(byController, owner.GetNamespace()+"/"+kind+"/"+owner.GetName())
	if err != nil {
		return nil, fmt.Errorf("revisions of %s %s/%s: %w", kind, owner.GetNamespace(), owner.GetName(), err)
	}
	var out []*appsv1.ControllerRevision
	for _, o := range objs {
		r, ok := o.(*appsv1.ControllerRevision)
		if ok && r.DeletionTimestamp == nil && metav1.IsControlledBy(r, owner) {
			out = append(out, r)
		}
	}
	return out, nil
}

// applyRevisions creates, renumbers and deletes ControllerRevisions as
// plan says.
func applyRevisions(ctx context.Context, cfg Config, plan RevisionPlan) error {
	cur := plan.Current
	revs := cfg.Client.AppsV1().ControllerRevisions(cur.Namespace)
	switch {
	case plan.Create:
		_, err := revs.Create(ctx, cur, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			got, gerr := revs.Get(ctx, cur.Name, metav1.GetOptions{})
			if gerr != nil {
				return fmt.Errorf("controller revision %s/%s exists but cannot be read: %w", cur.Namespace, cur.Name, gerr)
			}
			if sameData(got.Data.Raw, cur.Data.Raw) && ownerUID(got) == ownerUID(cur) {
				return fmt.Errorf("controller revision %s/%s is not in the cache yet", cur.Namespace, cur.Name)
			}
			return fmt.Errorf("%w: %s/%s", errRevisionCollision, cur.Namespace, cur.Name)
		}
		if err != nil {
			return fmt.Errorf("create controller revision %s/%s: %w", cur.Namespace, cur.Name, err)
		}
	case plan.Renumber:
		if _, err := revs.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("renumber controller revision %s/%s: %w", cur.Namespace, cur.Name, err)
		}
	}
	var errs []error
	for _, r := range plan.Delete {
		if err := revs.Delete(ctx, r.Name, deleteUID(r.UID)); ignoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("delete controller revision %s/%s: %w", r.Namespace, r.Name, err))
		}
	}
	return errors.Join(errs...)
}

func ownerUID(obj metav1.Object) string {
	if ref := metav1.GetControllerOfNoCopy(obj); ref != nil {
		return string(ref.UID)
	}
	return ""
}

// claimPods adopts orphans and releases pods for owner, after checking
// with a live read (recheck) that owner is still what the cache says.
func claimPods(ctx context.Context, cfg Config, owner metav1.Object, kind schema.GroupVersionKind, adopt, release []*corev1.Pod,
	recheck func(context.Context) (metav1.Object, error)) error {
	pods := cfg.Client.CoreV1().Pods(owner.GetNamespace())
	if len(adopt) > 0 {
		fresh, err := recheck(ctx)
		if err != nil {
			return fmt.Errorf("recheck %s %s/%s before adoption: %w", kind.Kind, owner.GetNamespace(), owner.GetName(), err)
		}
		if fresh.GetUID() != owner.GetUID() || fresh.GetDeletionTimestamp() != nil {
			return fmt.Errorf("%s %s/%s changed before adoption", kind.Kind, owner.GetNamespace(), owner.GetName())
		}
	}
	for _, p := range adopt {
		p = p.DeepCopy()
		p.OwnerReferences = withControllerRef(p.OwnerReferences, controllerRef(owner, kind))
		if _, err := pods.Update(ctx, p, metav1.UpdateOptions{}); ignoreNotFound(err) != nil {
			return fmt.Errorf("adopt pod %s/%s: %w", p.Namespace, p.Name, err)
		}
	}
	for _, p := range release {
		p = p.DeepCopy()
		p.OwnerReferences = withoutOwner(p.OwnerReferences, owner.GetUID())
		if _, err := pods.Update(ctx, p, metav1.UpdateOptions{}); ignoreNotFound(err) != nil {
			return fmt.Errorf("release pod %s/%s: %w", p.Namespace, p.Name, err)
		}
	}
	return nil
}
