package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// DeploymentController rolls Deployments out through ReplicaSets and
// deletes the ReplicaSets of Deployments that are gone.
type DeploymentController struct {
	cfg    Config
	loop   *loop
	ds     appslisters.DeploymentLister
	rss    appslisters.ReplicaSetLister
	rsIdx  cache.Indexer
	pods   corelisters.PodLister
	synced []cache.InformerSynced
}

// NewDeploymentController registers a Deployment controller on the
// informers of f; start f after creating every controller.
func NewDeploymentController(cfg Config, f informers.SharedInformerFactory) (*DeploymentController, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	dInf := f.Apps().V1().Deployments()
	rsInf := f.Apps().V1().ReplicaSets()
	podInf := f.Core().V1().Pods()
	if err := rsInf.Informer().AddIndexers(cache.Indexers{byController: controllerIndex}); err != nil {
		return nil, fmt.Errorf("replicaset index: %w", err)
	}
	c := &DeploymentController{
		cfg: cfg, ds: dInf.Lister(), rss: rsInf.Lister(), rsIdx: rsInf.Informer().GetIndexer(), pods: podInf.Lister(),
		synced: []cache.InformerSynced{dInf.Informer().HasSynced, rsInf.Informer().HasSynced, podInf.Informer().HasSynced},
	}
	c.loop = newLoop("deployment", cfg.Log, c.sync)
	if _, err := dInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.loop.enqueue,
		UpdateFunc: func(_, obj any) { c.loop.enqueue(obj) },
		DeleteFunc: c.loop.enqueue,
	}); err != nil {
		return nil, err
	}
	if _, err := rsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.rsChanged,
		UpdateFunc: func(old, obj any) { c.rsChanged(old); c.rsChanged(obj) },
		DeleteFunc: c.rsChanged,
	}); err != nil {
		return nil, err
	}
	// A Recreate rollout waits for the last old pod to go.
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: c.podDeleted}); err != nil {
		return nil, err
	}
	return c, nil
}

// Run syncs Deployments until ctx ends.
func (c *DeploymentController) Run(ctx context.Context) error {
	return c.loop.run(ctx, c.cfg.Workers, c.synced...)
}

func (c *DeploymentController) rsChanged(obj any) {
	queueOwners(c.loop.queue, obj, deploymentKind.Kind,
		func(ns string) ([]*appsv1.Deployment, error) { return c.ds.Deployments(ns).List(labels.Everything()) },
		func(d *appsv1.Deployment) *metav1.LabelSelector { return d.Spec.Selector })
}

func (c *DeploymentController) podDeleted(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil || ref.Kind != replicaSetKind.Kind {
		return
	}
	rs, err := c.rss.ReplicaSets(pod.Namespace).Get(ref.Name)
	if err != nil {
		return
	}
	if dref := metav1.GetControllerOfNoCopy(rs); dref != nil && dref.Kind == deploymentKind.Kind {
		c.loop.queue.Add(rs.Namespace + "/" + dref.Name)
	}
}

func (c *DeploymentController) sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	cached, err := c.ds.Deployments(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	d := cached.DeepCopy()
	rss, err := c.rss.ReplicaSets(ns).List(labels.Everything())
	if err != nil {
		return 0, err
	}
	pods, err := c.pods.Pods(ns).List(labels.Everything())
	if err != nil {
		return 0, err
	}
	plan, err := decideDeployment(d, rss, pods, c.cfg.Now())
	if err != nil {
		return 0, err
	}
	if err := c.apply(ctx, d, plan); err != nil {
		return 0, err
	}
	return plan.RequeueAfter, nil
}

// apply carries a plan out. Every write is made against the cached
// resourceVersion, so a plan made from a stale cache fails with a
// conflict and is made again.
func (c *DeploymentController) apply(ctx context.Context, d *appsv1.Deployment, plan DeploymentPlan) error {
	apps := c.cfg.Client.AppsV1()
	rsc := apps.ReplicaSets(d.Namespace)
	if len(plan.Adopt) > 0 {
		fresh, err := apps.Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("recheck deployment %s/%s before adoption: %w", d.Namespace, d.Name, err)
		}
		if fresh.UID != d.UID || fresh.DeletionTimestamp != nil {
			return fmt.Errorf("deployment %s/%s changed before adoption", d.Namespace, d.Name)
		}
	}
	for _, rs := range plan.Adopt {
		rs = rs.DeepCopy()
		rs.OwnerReferences = withControllerRef(rs.OwnerReferences, controllerRef(d, deploymentKind))
		if _, err := rsc.Update(ctx, rs, metav1.UpdateOptions{}); ignoreNotFound(err) != nil {
			return fmt.Errorf("adopt replicaset %s/%s: %w", rs.Namespace, rs.Name, err)
		}
	}
	for _, rs := range plan.Release {
		rs = rs.DeepCopy()
		rs.OwnerReferences = withoutOwner(rs.OwnerReferences, d.UID)
		if _, err := rsc.Update(ctx, rs, metav1.UpdateOptions{}); ignoreNotFound(err) != nil {
			return fmt.Errorf("release replicaset %s/%s: %w", rs.Namespace, rs.Name, err)
		}
	}
	if rs := plan.Create; rs != nil {
		_, err := rsc.Create(ctx, rs, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return c.collision(ctx, d, rs)
		}
		if err != nil {
			return fmt.Errorf("create replicaset %s/%s: %w", rs.Namespace, rs.Name, err)
		}
	}
	for _, rs := range plan.Update {
		if _, err := rsc.Update(ctx, rs, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update replicaset %s/%s: %w", rs.Namespace, rs.Name, err)
		}
	}
	var errs []error
	for _, rs := range plan.Delete {
		if err := rsc.Delete(ctx, rs.Name, deleteUID(rs.UID)); ignoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("delete old replicaset %s/%s: %w", rs.Namespace, rs.Name, err))
		}
	}
	if plan.Annotations != nil {
		d.Annotations = plan.Annotations
		out, err := apps.Deployments(d.Namespace).Update(ctx, d, metav1.UpdateOptions{})
		if err != nil {
			return errors.Join(append(errs, fmt.Errorf("annotate deployment %s/%s: %w", d.Namespace, d.Name, err))...)
		}
		d = out
	}
	if plan.Status != nil {
		d.Status = *plan.Status
		if _, err := apps.Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{}); ignoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("deployment %s/%s status: %w", d.Namespace, d.Name, err))
		}
	}
	return errors.Join(errs...)
}

// collision handles a new ReplicaSet whose name is taken. If it is the
// Deployment's own with the same template, the cache was only late;
// otherwise the hash collided and the collision count moves on, which
// names the next ReplicaSet differently.
func (c *DeploymentController) collision(ctx context.Context, d *appsv1.Deployment, want *appsv1.ReplicaSet) error {
	apps := c.cfg.Client.AppsV1()
	got, err := apps.ReplicaSets(d.Namespace).Get(ctx, want.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("replicaset %s/%s exists but cannot be read: %w", d.Namespace, want.Name, err)
	}
	if metav1.IsControlledBy(got, d) && equalIgnoreHash(&got.Spec.Template, &d.Spec.Template) {
		return fmt.Errorf("replicaset %s/%s is not in the cache yet", d.Namespace, want.Name)
	}
	d.Status.CollisionCount = ptr.To(ptr.Deref(d.Status.CollisionCount, 0) + 1)
	if _, err := apps.Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("deployment %s/%s collision count: %w", d.Namespace, d.Name, err)
	}
	return fmt.Errorf("replicaset name %s/%s is taken; collision count now %d", d.Namespace, want.Name, *d.Status.CollisionCount)
}
