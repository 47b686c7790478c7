package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// TaintManager deletes the pods of nodes with NoExecute taints they do
// not tolerate, at once or when their tolerationSeconds run out. The
// deletion is an ordinary graceful one: the pods show as Terminating and
// their controllers replace them.
type TaintManager struct {
	cfg    Config
	loop   *loop
	nodes  corelisters.NodeLister
	podIdx cache.Indexer
	synced []cache.InformerSynced
	events record.EventRecorder
}

// NewTaintManager registers a taint manager on the informers of f; start
// f after creating every controller.
func NewTaintManager(cfg Config, f informers.SharedInformerFactory) (*TaintManager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	nodeInf := f.Core().V1().Nodes()
	podInf := f.Core().V1().Pods()
	if err := addNodeIndex(podInf.Informer()); err != nil {
		return nil, err
	}
	c := &TaintManager{
		cfg: cfg, nodes: nodeInf.Lister(), podIdx: podInf.Informer().GetIndexer(),
		synced: []cache.InformerSynced{nodeInf.Informer().HasSynced, podInf.Informer().HasSynced},
	}
	c.loop = newLoop("taint-eviction", cfg.Log, c.sync)
	if _, err := nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.loop.enqueue, UpdateFunc: func(_, obj any) { c.loop.enqueue(obj) },
	}); err != nil {
		return nil, err
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.podChanged, UpdateFunc: func(_, obj any) { c.podChanged(obj) },
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// Run evicts pods until ctx ends.
func (c *TaintManager) Run(ctx context.Context) error {
	rec, stop := startRecorder(c.cfg, "taint-eviction-controller")
	defer stop()
	c.events = rec
	return c.loop.run(ctx, c.cfg.Workers, c.synced...)
}

func (c *TaintManager) podChanged(obj any) {
	if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" && p.DeletionTimestamp == nil {
		c.loop.queue.Add(p.Spec.NodeName)
	}
}

func (c *TaintManager) sync(ctx context.Context, name string) (time.Duration, error) {
	node, err := c.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	pods, err := podsOnNode(c.podIdx, name)
	if err != nil {
		return 0, err
	}
	plan := decideEvictions(node.Spec.Taints, pods, c.cfg.Now())
	var errs []error
	for _, p := range plan.Evict {
		c.events.Event(p, corev1.EventTypeNormal, reasonTaintEviction, "Marking for deletion Pod "+p.Namespace+"/"+p.Name)
		err := c.cfg.Client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}})
		if ignoreNotFound(err) != nil && !apierrors.IsConflict(err) {
			errs = append(errs, fmt.Errorf("evict pod %s/%s from node %s: %w", p.Namespace, p.Name, name, err))
			continue
		}
		c.cfg.Log.Info("pod evicted from tainted node", "node", name, "pod", p.Name, "ns", p.Namespace)
	}
	return plan.RequeueAfter, errors.Join(errs...)
}
