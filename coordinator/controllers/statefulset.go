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

// StatefulSetController keeps every StatefulSet's pods, named by ordinal,
// and their claims; it rolls template changes out from the highest
// ordinal down and deletes what a deleted set leaves behind.
type StatefulSetController struct {
	cfg     Config
	loop    *loop
	sets    appslisters.StatefulSetLister
	pods    corelisters.PodLister
	claims  corelisters.PersistentVolumeClaimLister
	podIdx  cache.Indexer
	revIdx  cache.Indexer
	synced  []cache.InformerSynced
	expects *expectations
	record  *recorder
}

// NewStatefulSetController registers a StatefulSet controller on the
// informers of f; start f after creating every controller.
func NewStatefulSetController(cfg Config, f informers.SharedInformerFactory) (*StatefulSetController, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	setInf := f.Apps().V1().StatefulSets()
	podInf := f.Core().V1().Pods()
	revInf := f.Apps().V1().ControllerRevisions()
	pvcInf := f.Core().V1().PersistentVolumeClaims()
	if err := ensureControllerIndex(podInf.Informer(), revInf.Informer()); err != nil {
		return nil, err
	}
	c := &StatefulSetController{
		cfg: cfg, sets: setInf.Lister(), pods: podInf.Lister(), claims: pvcInf.Lister(),
		podIdx: podInf.Informer().GetIndexer(), revIdx: revInf.Informer().GetIndexer(),
		synced: []cache.InformerSynced{setInf.Informer().HasSynced, podInf.Informer().HasSynced,
			revInf.Informer().HasSynced, pvcInf.Informer().HasSynced},
		expects: newExpectations(),
		record:  newRecorder("statefulset-controller"),
	}
	c.loop = newLoop("statefulset", cfg.Log, c.sync)
	if _, err := setInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.loop.enqueue, UpdateFunc: func(_, obj any) { c.loop.enqueue(obj) }, DeleteFunc: c.loop.enqueue,
	}); err != nil {
		return nil, err
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.podChanged, UpdateFunc: func(old, obj any) { c.podChanged(old); c.podChanged(obj) }, DeleteFunc: c.podChanged,
	}); err != nil {
		return nil, err
	}
	if _, err := revInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: c.podChanged}); err != nil {
		return nil, err
	}
	return c, nil
}

// Run syncs StatefulSets until ctx ends.
func (c *StatefulSetController) Run(ctx context.Context) error {
	defer c.record.start(c.cfg)()
	return c.loop.run(ctx, c.cfg.Workers, c.synced...)
}

func (c *StatefulSetController) podChanged(obj any) {
	queueOwners(c.loop.queue, obj, statefulSetKind.Kind,
		func(ns string) ([]*appsv1.StatefulSet, error) {
			return c.sets.StatefulSets(ns).List(labels.Everything())
		},
		func(s *appsv1.StatefulSet) *metav1.LabelSelector { return s.Spec.Selector })
}

func (c *StatefulSetController) sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	cached, err := c.sets.StatefulSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		// The garbage collector deletes what the set owned.
		c.expects.forget(key)
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	set := cached.DeepCopy()
	now := c.cfg.Now()
	pods, err := c.pods.Pods(ns).List(labels.Everything())
	if err != nil {
		return 0, err
	}
	claims, err := c.claims.PersistentVolumeClaims(ns).List(labels.Everything())
	if err != nil {
		return 0, err
	}
	revs, err := ownedRevisions(c.revIdx, set, statefulSetKind.Kind)
	if err != nil {
		return 0, err
	}
	plan, err := decideStatefulSet(StatefulSetFacts{Set: set, Pods: pods, Claims: claims, Revisions: revs}, now)
	if err != nil {
		return 0, err
	}
	apps := c.cfg.Client.AppsV1()
	if err := applyRevisions(ctx, c.cfg, plan.Revision); err != nil {
		if errors.Is(err, errRevisionCollision) {
			set.Status.CollisionCount = ptr.To(ptr.Deref(set.Status.CollisionCount, 0) + 1)
			if _, serr := apps.StatefulSets(ns).UpdateStatus(ctx, set, metav1.UpdateOptions{}); serr != nil {
				return 0, errors.Join(err, serr)
			}
		}
		return 0, err
	}
	if err := claimPods(ctx, c.cfg, set, statefulSetKind, plan.Adopt, plan.Release, func(ctx context.Context) (metav1.Object, error) {
		return apps.StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
	}); err != nil {
		return 0, err
	}
	var manageErr error
	if c.expects.satisfied(key, now, c.seen) {
		manageErr = c.manage(ctx, key, set, plan, now)
	}
	if !apiequality.Semantic.DeepEqual(plan.Status, set.Status) {
		set.Status = plan.Status
		if _, err := apps.StatefulSets(ns).UpdateStatus(ctx, set, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return 0, errors.Join(manageErr, fmt.Errorf("statefulset %s status: %w", key, err))
		}
	}
	return plan.RequeueAfter, manageErr
}

func (c *StatefulSetController) seen(r podRef) bool {
	p, err := c.pods.Pods(r.ns).Get(r.name)
	return err == nil && (r.uid == "" || p.UID == r.uid)
}

// manage creates the claims, deletes and creates the pods and deletes the
// scaled-away claims of a plan.
func (c *StatefulSetController) manage(ctx context.Context, key string, set *appsv1.StatefulSet, plan StatefulSetPlan, now time.Time) error {
	core := c.cfg.Client.CoreV1()
	for _, pvc := range plan.CreateClaims {
		_, err := core.PersistentVolumeClaims(pvc.Namespace).Create(ctx, pvc, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			c.record.Eventf(set, corev1.EventTypeWarning, "FailedCreate", "create Claim %s for StatefulSet %s failed error: %v", pvc.Name, set.Name, err)
			return fmt.Errorf("create claim %s/%s for statefulset %s: %w", pvc.Namespace, pvc.Name, key, err)
		}
		if err == nil {
			c.record.Eventf(set, corev1.EventTypeNormal, "SuccessfulCreate", "create Claim %s in StatefulSet %s success", pvc.Name, set.Name)
		}
	}
	until := now.Add(c.cfg.ExpectationTimeout)
	var created, deleted []podRef
	defer func() { c.expects.expect(key, created, deleted, until) }()
	for _, p := range plan.Delete {
		if err := core.Pods(p.Namespace).Delete(ctx, p.Name, deleteUID(p.UID)); ignoreNotFound(err) != nil {
			c.record.Eventf(set, corev1.EventTypeWarning, "FailedDelete", "delete Pod %s in StatefulSet %s failed error: %v", p.Name, set.Name, err)
			return fmt.Errorf("delete pod %s/%s: %w", p.Namespace, p.Name, err)
		}
		c.record.Eventf(set, corev1.EventTypeNormal, "SuccessfulDelete", "delete Pod %s in StatefulSet %s successful", p.Name, set.Name)
		deleted = append(deleted, podRef{ns: p.Namespace, name: p.Name, uid: p.UID})
	}
	for _, p := range plan.Create {
		out, err := core.Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			c.record.Eventf(set, corev1.EventTypeWarning, "FailedCreate", "create Pod %s in StatefulSet %s failed error: %v", p.Name, set.Name, err)
			return fmt.Errorf("create pod %s/%s for statefulset %s: %w", p.Namespace, p.Name, key, err)
		}
		c.record.Eventf(set, corev1.EventTypeNormal, "SuccessfulCreate", "create Pod %s in StatefulSet %s successful", p.Name, set.Name)
		created = append(created, podRef{ns: out.Namespace, name: out.Name, uid: out.UID})
	}
	var errs []error
	for _, pvc := range plan.DeleteClaims {
		if err := core.PersistentVolumeClaims(pvc.Namespace).Delete(ctx, pvc.Name, deleteUID(pvc.UID)); ignoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("delete claim %s/%s of a scaled-away pod: %w", pvc.Namespace, pvc.Name, err))
		}
	}
	return errors.Join(errs...)
}
