package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	coordinationlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// byNode indexes pods by spec.nodeName.
const byNode = "node"

func nodeIndex(obj any) ([]string, error) {
	if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" {
		return []string{p.Spec.NodeName}, nil
	}
	return nil, nil
}

// addNodeIndex indexes the pod informer by node, once.
func addNodeIndex(inf cache.SharedIndexInformer) error {
	if _, ok := inf.GetIndexer().GetIndexers()[byNode]; ok {
		return nil
	}
	if err := inf.AddIndexers(cache.Indexers{byNode: nodeIndex}); err != nil {
		return fmt.Errorf("pod index by node: %w", err)
	}
	return nil
}

// podsOnNode lists the cached pods bound to node.
func podsOnNode(idx cache.Indexer, node string) ([]*corev1.Pod, error) {
	objs, err := idx.ByIndex(byNode, node)
	if err != nil {
		return nil, err
	}
	pods := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		if p, ok := o.(*corev1.Pod); ok {
			pods = append(pods, p)
		}
	}
	return pods, nil
}

// NodeLifecycleController watches node heartbeats: a node silent for
// longer than Config.NodeMonitorGracePeriod gets its conditions set to
// Unknown, a node that is not Ready is tainted and its pods are marked not
// ready, and a node Ready again loses those taints.
type NodeLifecycleController struct {
	cfg    Config
	loop   *loop
	nodes  corelisters.NodeLister
	leases coordinationlisters.LeaseLister
	podIdx cache.Indexer
	synced []cache.InformerSynced
	events record.EventRecorder
}

// NewNodeLifecycleController registers a node lifecycle controller on the
// informers of f; start f after creating every controller.
func NewNodeLifecycleController(cfg Config, f informers.SharedInformerFactory) (*NodeLifecycleController, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	nodeInf := f.Core().V1().Nodes()
	leaseInf := f.Coordination().V1().Leases()
	podInf := f.Core().V1().Pods()
	if err := addNodeIndex(podInf.Informer()); err != nil {
		return nil, err
	}
	c := &NodeLifecycleController{
		cfg: cfg, nodes: nodeInf.Lister(), leases: leaseInf.Lister(), podIdx: podInf.Informer().GetIndexer(),
		synced: []cache.InformerSynced{nodeInf.Informer().HasSynced, leaseInf.Informer().HasSynced, podInf.Informer().HasSynced},
	}
	c.loop = newLoop("nodelifecycle", cfg.Log, c.sync)
	if _, err := nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.loop.enqueue, UpdateFunc: func(_, obj any) { c.loop.enqueue(obj) },
	}); err != nil {
		return nil, err
	}
	if _, err := leaseInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.leaseChanged, UpdateFunc: func(_, obj any) { c.leaseChanged(obj) },
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// Run watches nodes until ctx ends.
func (c *NodeLifecycleController) Run(ctx context.Context) error {
	rec, stop := startRecorder(c.cfg, "node-controller")
	defer stop()
	c.events = rec
	return c.loop.run(ctx, c.cfg.Workers, c.synced...)
}

func (c *NodeLifecycleController) leaseChanged(obj any) {
	if l, ok := obj.(*coordinationv1.Lease); ok && l.Namespace == corev1.NamespaceNodeLease {
		c.loop.queue.Add(l.Name)
	}
}

func (c *NodeLifecycleController) sync(ctx context.Context, name string) (time.Duration, error) {
	node, err := c.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	lease, err := c.leases.Leases(corev1.NamespaceNodeLease).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return 0, err
	}
	now := c.cfg.Now()
	plan := decideNode(node, lease, c.cfg.NodeMonitorGracePeriod, now)
	nodes := c.cfg.Client.CoreV1().Nodes()
	if plan.Conditions != nil {
		n := node.DeepCopy()
		n.Status.Conditions = plan.Conditions
		if _, err := nodes.UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
			return 0, fmt.Errorf("node %s status: %w", name, err)
		}
		c.cfg.Log.Info("node stopped posting status", "node", name)
	}
	for _, e := range plan.Events {
		c.events.Event(node, e.Type, e.Reason, e.Message)
	}
	if plan.TaintsChanged {
		if err := c.setTaints(ctx, name, plan.Taints); err != nil {
			return 0, err
		}
	}
	if plan.PodsNotReady {
		if err := c.markPodsNotReady(ctx, name, now); err != nil {
			return 0, err
		}
	}
	return plan.RequeueAfter, nil
}

// setTaints writes the node's taints from a fresh read, recomputing the
// managed ones so that a concurrent change to the others is kept.
func (c *NodeLifecycleController) setTaints(ctx context.Context, name string, want []corev1.Taint) error {
	nodes := c.cfg.Client.CoreV1().Nodes()
	n, err := nodes.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return ignoreNotFound(err)
	}
	var mine []corev1.Taint
	for _, t := range want {
		if !managedTaintKeys[t.Key] {
			continue
		}
		// A taint the fresh node already has keeps its timeAdded.
		for _, f := range n.Spec.Taints {
			if f.Key == t.Key && f.Effect == t.Effect {
				t = f
				break
			}
		}
		mine = append(mine, t)
	}
	var taints []corev1.Taint
	for _, t := range n.Spec.Taints {
		if !managedTaintKeys[t.Key] {
			taints = append(taints, t)
		}
	}
	n.Spec.Taints = append(taints, mine...)
	if _, err := nodes.Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("node %s taints: %w", name, err)
	}
	return nil
}

// markPodsNotReady sets Ready False on the node's pods that are Ready.
func (c *NodeLifecycleController) markPodsNotReady(ctx context.Context, node string, now time.Time) error {
	pods, err := podsOnNode(c.podIdx, node)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range pods {
		st, changed := podNotReadyStatus(p, now)
		if !changed {
			continue
		}
		p = p.DeepCopy()
		p.Status = st
		if _, err := c.cfg.Client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{}); ignoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("mark pod %s/%s not ready: %w", p.Namespace, p.Name, err))
			continue
		}
		c.events.Event(p, corev1.EventTypeWarning, reasonNodeNotReady, "Node is not ready")
	}
	return errors.Join(errs...)
}

// MarkNodeUnreachable sets every condition of node to Unknown at now, as
// when it stops posting its status, without waiting for its heartbeat to
// expire: for a node that membership reports failed. The node lifecycle
// controller then taints it unreachable and its pods leave. The node's own
// next status report undoes it.
func MarkNodeUnreachable(ctx context.Context, client kubernetes.Interface, node string, now time.Time) error {
	nodes := client.CoreV1().Nodes()
	for attempt := 0; ; attempt++ {
		n, err := nodes.Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("mark node %s unreachable: %w", node, err)
		}
		if c := nodeCondition(n.Status.Conditions, corev1.NodeReady); c != nil && c.Status == corev1.ConditionUnknown {
			return nil
		}
		n.Status.Conditions = unknownConditions(n.Status.Conditions, now)
		_, err = nodes.UpdateStatus(ctx, n, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) && attempt < 5 {
			continue
		}
		if err != nil {
			return fmt.Errorf("mark node %s unreachable: %w", node, err)
		}
		return nil
	}
}
