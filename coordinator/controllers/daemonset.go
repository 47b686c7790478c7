package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// DaemonSetController keeps one pod of every DaemonSet on each node that
// should run it, rolls template changes out through ControllerRevisions,
// and deletes the pods and revisions of DaemonSets that are gone.
type DaemonSetController struct {
	cfg     Config
	loop    *loop
	dss     appslisters.DaemonSetLister
	nodes   corelisters.NodeLister
	pods    corelisters.PodLister
	podIdx  cache.Indexer
	revIdx  cache.Indexer
	synced  []cache.InformerSynced
	expects *expectations
	record  *recorder
}

// NewDaemonSetController registers a DaemonSet controller on the
// informers of f; start f after creating every controller.
func NewDaemonSetController(cfg Config, f informers.SharedInformerFactory) (*DaemonSetController, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	dsInf := f.Apps().V1().DaemonSets()
	podInf := f.Core().V1().Pods()
	nodeInf := f.Core().V1().Nodes()
	revInf := f.Apps().V1().ControllerRevisions()
	if err := ensureControllerIndex(podInf.Informer(), revInf.Informer()); err != nil {
		return nil, err
	}
	c := &DaemonSetController{
		cfg: cfg, dss: dsInf.Lister(), nodes: nodeInf.Lister(), pods: podInf.Lister(),
		podIdx: podInf.Informer().GetIndexer(), revIdx: revInf.Informer().GetIndexer(),
		synced: []cache.InformerSynced{dsInf.Informer().HasSynced, podInf.Informer().HasSynced,
			nodeInf.Informer().HasSynced, revInf.Informer().HasSynced},
		expects: newExpectations(),
		record:  newRecorder("daemonset-controller"),
	}
	c.loop = newLoop("daemonset", cfg.Log, c.sync)
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{dsInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc: c.loop.enqueue, UpdateFunc: func(_, obj any) { c.loop.enqueue(obj) }, DeleteFunc: c.loop.enqueue}},
		{podInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc: c.podChanged, UpdateFunc: func(old, obj any) { c.podChanged(old); c.podChanged(obj) }, DeleteFunc: c.podChanged}},
		{revInf.Informer(), cache.ResourceEventHandlerFuncs{DeleteFunc: c.podChanged}},
		{nodeInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc: c.all, UpdateFunc: func(old, obj any) { c.nodeUpdated(old, obj) }, DeleteFunc: c.all}},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Run syncs DaemonSets until ctx ends.
func (c *DaemonSetController) Run(ctx context.Context) error {
	defer c.record.start(c.cfg)()
	return c.loop.run(ctx, c.cfg.Workers, c.synced...)
}

func (c *DaemonSetController) podChanged(obj any) {
	queueOwners(c.loop.queue, obj, daemonSetKind.Kind,
		func(ns string) ([]*appsv1.DaemonSet, error) { return c.dss.DaemonSets(ns).List(labels.Everything()) },
		func(ds *appsv1.DaemonSet) *metav1.LabelSelector { return ds.Spec.Selector })
}

// all queues every DaemonSet: a node came or went.
func (c *DaemonSetController) all(any) {
	dss, err := c.dss.List(labels.Everything())
	if err != nil {
		return
	}
	for _, ds := range dss {
		c.loop.enqueue(ds)
	}
}

// nodeUpdated queues every DaemonSet when what decides eligibility
// changed: labels, taints, the name (for affinity) or conditions.
func (c *DaemonSetController) nodeUpdated(old, obj any) {
	o, ok1 := old.(*corev1.Node)
	n, ok2 := obj.(*corev1.Node)
	if ok1 && ok2 && apiequality.Semantic.DeepEqual(o.Labels, n.Labels) &&
		apiequality.Semantic.DeepEqual(o.Spec.Taints, n.Spec.Taints) && o.Spec.Unschedulable == n.Spec.Unschedulable {
		return
	}
	c.all(obj)
}

func (c *DaemonSetController) sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	cached, err := c.dss.DaemonSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		// The garbage collector deletes what the set owned.
		c.expects.forget(key)
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	ds := cached.DeepCopy()
	now := c.cfg.Now()
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return 0, err
	}
	pods, err := c.pods.Pods(ns).List(labels.Everything())
	if err != nil {
		return 0, err
	}
	revs, err := ownedRevisions(c.revIdx, ds, daemonSetKind.Kind)
	if err != nil {
		return 0, err
	}
	plan, err := decideDaemonSet(DaemonSetFacts{DaemonSet: ds, Nodes: nodes, Pods: pods, Revisions: revs}, now)
	if err != nil {
		return 0, err
	}
	if err := claimPods(ctx, c.cfg, ds, daemonSetKind, plan.Adopt, plan.Release, func(ctx context.Context) (metav1.Object, error) {
		return c.cfg.Client.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
	}); err != nil {
		return 0, err
	}
	if err := applyRevisions(ctx, c.cfg, plan.Revision); err != nil {
		if errors.Is(err, errRevisionCollision) {
			ds.Status.CollisionCount = ptr.To(ptr.Deref(ds.Status.CollisionCount, 0) + 1)
			if _, serr := c.cfg.Client.AppsV1().DaemonSets(ns).UpdateStatus(ctx, ds, metav1.UpdateOptions{}); serr != nil {
				return 0, errors.Join(err, serr)
			}
		}
		return 0, err
	}
	var manageErr error
	if c.expects.satisfied(key, now, c.seen) {
		manageErr = c.manage(ctx, key, ds, plan, now)
	}
	if !apiequality.Semantic.DeepEqual(plan.Status, ds.Status) {
		ds.Status = plan.Status
		if _, err := c.cfg.Client.AppsV1().DaemonSets(ns).UpdateStatus(ctx, ds, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return 0, errors.Join(manageErr, fmt.Errorf("daemonset %s status: %w", key, err))
		}
	}
	return plan.RequeueAfter, manageErr
}

func (c *DaemonSetController) seen(r podRef) bool {
	p, err := c.pods.Pods(r.ns).Get(r.name)
	return err == nil && (r.uid == "" || p.UID == r.uid)
}

// manage deletes, then creates daemon pods as the plan says.
func (c *DaemonSetController) manage(ctx context.Context, key string, ds *appsv1.DaemonSet, plan DaemonSetPlan, now time.Time) error {
	pods := c.cfg.Client.CoreV1().Pods(ds.Namespace)
	until := now.Add(c.cfg.ExpectationTimeout)
	var created, deleted []podRef
	defer func() { c.expects.expect(key, created, deleted, until) }()
	for _, p := range plan.Delete {
		if err := pods.Delete(ctx, p.Name, deleteUID(p.UID)); ignoreNotFound(err) != nil {
			c.record.Eventf(ds, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
			return fmt.Errorf("delete daemon pod %s/%s: %w", p.Namespace, p.Name, err)
		}
		c.record.Eventf(ds, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", p.Name)
		deleted = append(deleted, podRef{ns: p.Namespace, name: p.Name, uid: p.UID})
	}
	for _, node := range plan.Create {
		p, err := pods.Create(ctx, newDaemonPod(ds, node, plan.Hash), metav1.CreateOptions{})
		if err != nil {
			c.record.Eventf(ds, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
			return fmt.Errorf("create pod of daemonset %s for node %s: %w", key, node, err)
		}
		c.record.Eventf(ds, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", p.Name)
		created = append(created, podRef{ns: p.Namespace, name: p.Name, uid: p.UID})
	}
	return nil
}
