package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// ReplicaSetController keeps every ReplicaSet's pods at its replica count
// and deletes the pods of ReplicaSets that are gone.
type ReplicaSetController struct {
	cfg     Config
	loop    *loop
	rss     appslisters.ReplicaSetLister
	pods    corelisters.PodLister
	podIdx  cache.Indexer
	synced  []cache.InformerSynced
	expects *expectations
}

// NewReplicaSetController registers a ReplicaSet controller on the
// informers of f; start f after creating every controller.
func NewReplicaSetController(cfg Config, f informers.SharedInformerFactory) (*ReplicaSetController, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	rsInf := f.Apps().V1().ReplicaSets()
	podInf := f.Core().V1().Pods()
	if err := podInf.Informer().AddIndexers(cache.Indexers{byController: controllerIndex}); err != nil {
		return nil, fmt.Errorf("pod index: %w", err)
	}
	c := &ReplicaSetController{
		cfg: cfg, rss: rsInf.Lister(), pods: podInf.Lister(), podIdx: podInf.Informer().GetIndexer(),
		synced:  []cache.InformerSynced{rsInf.Informer().HasSynced, podInf.Informer().HasSynced},
		expects: newExpectations(),
	}
	c.loop = newLoop("replicaset", cfg.Log, c.sync)
	if _, err := rsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.loop.enqueue,
		UpdateFunc: func(_, obj any) { c.loop.enqueue(obj) },
		DeleteFunc: c.loop.enqueue,
	}); err != nil {
		return nil, err
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.podChanged,
		UpdateFunc: func(old, obj any) { c.podChanged(old); c.podChanged(obj) },
		DeleteFunc: c.podChanged,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// Run syncs ReplicaSets until ctx ends.
func (c *ReplicaSetController) Run(ctx context.Context) error {
	return c.loop.run(ctx, c.cfg.Workers, c.synced...)
}

// podChanged queues the ReplicaSet controlling a pod, or for an orphan
// every ReplicaSet that could adopt it.
func (c *ReplicaSetController) podChanged(obj any) {
	queueOwners(c.loop.queue, obj, replicaSetKind.Kind,
		func(ns string) ([]*appsv1.ReplicaSet, error) { return c.rss.ReplicaSets(ns).List(labels.Everything()) },
		func(rs *appsv1.ReplicaSet) *metav1.LabelSelector { return rs.Spec.Selector })
}

func (c *ReplicaSetController) sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	cached, err := c.rss.ReplicaSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.expects.forget(key)
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	rs := cached.DeepCopy()
	now := c.cfg.Now()
	pods, err := c.pods.Pods(ns).List(labels.Everything())
	if err != nil {
		return 0, err
	}
	plan, err := decideReplicaSet(rs, pods, now)
	if err != nil {
		return 0, err
	}
	if err := c.claim(ctx, rs, plan); err != nil {
		return 0, err
	}
	var manageErr error
	if c.expects.satisfied(key, now, c.seen) {
		manageErr = c.manage(ctx, key, rs, plan, now)
	}
	st := plan.Status
	setReplicaFailure(&st, manageErr, len(plan.Delete) > 0, now)
	if !apiequality.Semantic.DeepEqual(st, rs.Status) {
		rs.Status = st
		if _, err := c.cfg.Client.AppsV1().ReplicaSets(ns).UpdateStatus(ctx, rs, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return 0, errors.Join(manageErr, fmt.Errorf("replicaset %s status: %w", key, err))
		}
	}
	return plan.RequeueAfter, manageErr
}

// seen reports whether the cache holds the pod r names.
func (c *ReplicaSetController) seen(r podRef) bool {
	p, err := c.pods.Pods(r.ns).Get(r.name)
	return err == nil && (r.uid == "" || p.UID == r.uid)
}

// claim adopts and releases the pods the plan names.
func (c *ReplicaSetController) claim(ctx context.Context, rs *appsv1.ReplicaSet, plan ReplicaSetPlan) error {
	pods := c.cfg.Client.CoreV1().Pods(rs.Namespace)
	if len(plan.Adopt) > 0 {
		// Adopt only for a ReplicaSet that is what the cache says it is.
		fresh, err := c.cfg.Client.AppsV1().ReplicaSets(rs.Namespace).Get(ctx, rs.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("recheck replicaset %s/%s before adoption: %w", rs.Namespace, rs.Name, err)
		}
		if fresh.UID != rs.UID || fresh.DeletionTimestamp != nil {
			return fmt.Errorf("replicaset %s/%s changed before adoption", rs.Namespace, rs.Name)
		}
	}
	for _, p := range plan.Adopt {
		p = p.DeepCopy()
		p.OwnerReferences = withControllerRef(p.OwnerReferences, controllerRef(rs, replicaSetKind))
		if _, err := pods.Update(ctx, p, metav1.UpdateOptions{}); ignoreNotFound(err) != nil {
			return fmt.Errorf("adopt pod %s/%s: %w", p.Namespace, p.Name, err)
		}
	}
	for _, p := range plan.Release {
		p = p.DeepCopy()
		p.OwnerReferences = withoutOwner(p.OwnerReferences, rs.UID)
		if _, err := pods.Update(ctx, p, metav1.UpdateOptions{}); ignoreNotFound(err) != nil {
			return fmt.Errorf("release pod %s/%s: %w", p.Namespace, p.Name, err)
		}
	}
	return nil
}

// manage creates and deletes pods, creating in batches of 1, 2, 4... so
// that a template the API refuses costs one request, not hundreds.
func (c *ReplicaSetController) manage(ctx context.Context, key string, rs *appsv1.ReplicaSet, plan ReplicaSetPlan, now time.Time) error {
	pods := c.cfg.Client.CoreV1().Pods(rs.Namespace)
	until := now.Add(c.cfg.ExpectationTimeout)
	var created []podRef
	defer func() { c.expects.expect(key, created, nil, until) }()
	for left, batch := plan.Create, 1; left > 0; batch *= 2 {
		n := min(batch, left)
		for range n {
			p, err := pods.Create(ctx, newPod(rs), metav1.CreateOptions{})
			if err != nil {
				return fmt.Errorf("create pod for replicaset %s: %w", key, err)
			}
			created = append(created, podRef{ns: p.Namespace, name: p.Name, uid: p.UID})
		}
		left -= n
	}
	var deleted []podRef
	defer func() { c.expects.expect(key, nil, deleted, until) }()
	for _, p := range plan.Delete {
		err := pods.Delete(ctx, p.Name, deleteUID(p.UID))
		if ignoreNotFound(err) != nil {
			return fmt.Errorf("delete pod %s/%s: %w", p.Namespace, p.Name, err)
		}
		deleted = append(deleted, podRef{ns: p.Namespace, name: p.Name, uid: p.UID})
	}
	return nil
}
