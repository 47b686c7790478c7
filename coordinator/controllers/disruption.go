package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
	"k8s.io/client-go/tools/cache"
)

// DisruptionController keeps the status of every PodDisruptionBudget:
// how many of its pods are healthy, how many it wants, and how many
// evictions it allows.
type DisruptionController struct {
	cfg    Config
	loop   *loop
	pdbs   policylisters.PodDisruptionBudgetLister
	pods   corelisters.PodLister
	rss    appslisters.ReplicaSetLister
	deps   appslisters.DeploymentLister
	stss   appslisters.StatefulSetLister
	synced []cache.InformerSynced
}

// NewDisruptionController registers a disruption controller on the
// informers of f; start f after creating every controller.
func NewDisruptionController(cfg Config, f informers.SharedInformerFactory) (*DisruptionController, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	pdbInf := f.Policy().V1().PodDisruptionBudgets()
	podInf := f.Core().V1().Pods()
	rsInf := f.Apps().V1().ReplicaSets()
	depInf := f.Apps().V1().Deployments()
	stsInf := f.Apps().V1().StatefulSets()
	c := &DisruptionController{
		cfg: cfg, pdbs: pdbInf.Lister(), pods: podInf.Lister(), rss: rsInf.Lister(), deps: depInf.Lister(), stss: stsInf.Lister(),
		synced: []cache.InformerSynced{pdbInf.Informer().HasSynced, podInf.Informer().HasSynced, rsInf.Informer().HasSynced,
			depInf.Informer().HasSynced, stsInf.Informer().HasSynced},
	}
	c.loop = newLoop("disruption", cfg.Log, c.sync)
	if _, err := pdbInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.loop.enqueue, UpdateFunc: func(_, obj any) { c.loop.enqueue(obj) },
	}); err != nil {
		return nil, err
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.podChanged, UpdateFunc: func(old, obj any) { c.podChanged(old); c.podChanged(obj) }, DeleteFunc: c.podChanged,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// Run keeps budgets' status until ctx ends.
func (c *DisruptionController) Run(ctx context.Context) error {
	return c.loop.run(ctx, c.cfg.Workers, c.synced...)
}

// podChanged queues the budgets whose selector matches the pod.
func (c *DisruptionController) podChanged(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	pdbs, err := c.pdbs.PodDisruptionBudgets(p.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, pdb := range pdbs {
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(p.Labels)) {
			c.loop.queue.Add(pdb.Namespace + "/" + pdb.Name)
		}
	}
}

func (c *DisruptionController) sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	pdb, err := c.pdbs.PodDisruptionBudgets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil {
		return 0, nil // validation keeps bad selectors out
	}
	var pods []*corev1.Pod
	// An empty selector selects nothing, as the eviction API sees it.
	if !sel.Empty() {
		if pods, err = c.pods.Pods(ns).List(sel); err != nil {
			return 0, err
		}
	}
	st, wait := decidePDB(pdb, pods, c.scales(pods), c.cfg.Now())
	if !pdbStatusChanged(pdb, st) {
		return wait, nil
	}
	next := pdb.DeepCopy()
	next.Status = st
	if _, err := c.cfg.Client.PolicyV1().PodDisruptionBudgets(ns).UpdateStatus(ctx, next, metav1.UpdateOptions{}); ignoreNotFound(err) != nil {
		return 0, fmt.Errorf("poddisruptionbudget %s status: %w", key, err)
	}
	return wait, nil
}

// scales finds the desired replicas of the controllers of pods, keyed by
// the controller UID the pods name: a ReplicaSet counts its Deployment's
// replicas when a Deployment controls it.
func (c *DisruptionController) scales(pods []*corev1.Pod) map[types.UID]controllerScale {
	out := map[types.UID]controllerScale{}
	for _, p := range pods {
		ref := metav1.GetControllerOfNoCopy(p)
		if ref == nil {
			continue
		}
		if _, done := out[ref.UID]; done {
			continue
		}
		switch ref.Kind {
		case "ReplicaSet":
			rs, err := c.rss.ReplicaSets(p.Namespace).Get(ref.Name)
			if err != nil || rs.UID != ref.UID {
				continue
			}
			out[ref.UID] = controllerScale{UID: rs.UID, Replicas: replicasOf(rs.Spec.Replicas)}
			if dref := metav1.GetControllerOfNoCopy(rs); dref != nil && dref.Kind == "Deployment" {
				if d, err := c.deps.Deployments(p.Namespace).Get(dref.Name); err == nil && d.UID == dref.UID {
					out[ref.UID] = controllerScale{UID: d.UID, Replicas: replicasOf(d.Spec.Replicas)}
				}
			}
		case "StatefulSet":
			if s, err := c.stss.StatefulSets(p.Namespace).Get(ref.Name); err == nil && s.UID == ref.UID {
				out[ref.UID] = controllerScale{UID: s.UID, Replicas: replicasOf(s.Spec.Replicas)}
			}
		}
	}
	return out
}
