package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// kubeDNSKey is the kube-dns controller's only queue key.
const kubeDNSKey = KubeDNSNamespace + "/" + KubeDNSName

// KubeDNSController keeps the EndpointSlices of the kube-dns Service
// (which the coordinator creates without a selector): one endpoint per
// node that runs pods, at its pod bridge's address, where that node's
// agent answers DNS. A pod whose own agent is down reaches the DNS of the
// other nodes through the service's cluster IP.
type KubeDNSController struct {
	cfg      Config
	loop     *loop
	services corelisters.ServiceLister
	nodes    corelisters.NodeLister
	slices   discoverylisters.EndpointSliceLister
	synced   []cache.InformerSynced
}

// NewKubeDNSController registers a kube-dns controller on the informers
// of f; start f after creating every controller.
func NewKubeDNSController(cfg Config, f informers.SharedInformerFactory) (*KubeDNSController, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	svcInf := f.Core().V1().Services()
	nodeInf := f.Core().V1().Nodes()
	sliceInf := f.Discovery().V1().EndpointSlices()
	c := &KubeDNSController{
		cfg: cfg, services: svcInf.Lister(), nodes: nodeInf.Lister(), slices: sliceInf.Lister(),
		synced: []cache.InformerSynced{svcInf.Informer().HasSynced, nodeInf.Informer().HasSynced, sliceInf.Informer().HasSynced},
	}
	c.loop = newLoop("kube-dns", cfg.Log, c.sync)
	queue := func(any) { c.loop.queue.Add(kubeDNSKey) }
	ifKubeDNS := func(obj any) {
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		switch o := obj.(type) {
		case *corev1.Service:
			if o.Namespace == KubeDNSNamespace && o.Name == KubeDNSName {
				queue(obj)
			}
		case *discoveryv1.EndpointSlice:
			if o.Namespace == KubeDNSNamespace && o.Labels[discoveryv1.LabelManagedBy] == kubeDNSManagedBy {
				queue(obj)
			}
		}
	}
	// Only a node's pod CIDR, readiness, taints and deletion matter;
	// its status is posted every few seconds.
	nodeChanged := func(old, obj any) {
		o, ok1 := old.(*corev1.Node)
		n, ok2 := obj.(*corev1.Node)
		if ok1 && ok2 && nodeReady(o) == nodeReady(n) && runsNoPods(o) == runsNoPods(n) &&
			o.Spec.PodCIDR == n.Spec.PodCIDR && slices.Equal(o.Spec.PodCIDRs, n.Spec.PodCIDRs) &&
			(o.DeletionTimestamp == nil) == (n.DeletionTimestamp == nil) &&
			o.Labels[corev1.LabelTopologyZone] == n.Labels[corev1.LabelTopologyZone] {
			return
		}
		queue(obj)
	}
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{svcInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: ifKubeDNS, UpdateFunc: func(_, obj any) { ifKubeDNS(obj) }, DeleteFunc: ifKubeDNS}},
		{sliceInf.Informer(), cache.ResourceEventHandlerFuncs{UpdateFunc: func(_, obj any) { ifKubeDNS(obj) }, DeleteFunc: ifKubeDNS}},
		{nodeInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: queue, UpdateFunc: nodeChanged, DeleteFunc: queue}},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Run keeps the slices until ctx ends.
func (c *KubeDNSController) Run(ctx context.Context) error {
	c.loop.queue.Add(kubeDNSKey)
	return c.loop.run(ctx, 1, c.synced...)
}

func (c *KubeDNSController) sync(ctx context.Context, _ string) (time.Duration, error) {
	existing, err := c.slices.EndpointSlices(KubeDNSNamespace).List(labels.SelectorFromValidatedSet(labels.Set{
		discoveryv1.LabelManagedBy: kubeDNSManagedBy}))
	if err != nil {
		return 0, err
	}
	svc, err := c.services.Services(KubeDNSNamespace).Get(KubeDNSName)
	if apierrors.IsNotFound(err) {
		// Gone with the service (its owner), or never made: nothing to keep.
		return 0, c.apply(ctx, SlicePlan{Delete: existing})
	}
	if err != nil {
		return 0, err
	}
	if svc.DeletionTimestamp != nil || len(svc.Spec.Selector) > 0 {
		// A kube-dns with a selector is someone else's DNS: the endpoints
		// controller keeps its slices.
		return 0, c.apply(ctx, SlicePlan{Delete: existing})
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return 0, err
	}
	plan := planKubeDNSSlices(desiredKubeDNSSlices(svc, nodes), existing)
	if !plan.Empty() {
		c.cfg.Log.Info("kube-dns endpoints", "ns", KubeDNSNamespace, "svc", KubeDNSName, "endpoints", len(kubeDNSEndpoints(nodes)))
	}
	return 0, c.apply(ctx, plan)
}

func (c *KubeDNSController) apply(ctx context.Context, plan SlicePlan) error {
	client := c.cfg.Client.DiscoveryV1().EndpointSlices(KubeDNSNamespace)
	var errs []error
	for _, s := range plan.Create {
		if _, err := client.Create(ctx, s, metav1.CreateOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("create endpointslice %s/%s: %w", s.Namespace, s.Name, err))
		}
	}
	for _, s := range plan.Update {
		if _, err := client.Update(ctx, s, metav1.UpdateOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("update endpointslice %s/%s: %w", s.Namespace, s.Name, err))
		}
	}
	for _, s := range plan.Delete {
		if err := client.Delete(ctx, s.Name, deleteUID(s.UID)); ignoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("delete endpointslice %s/%s: %w", s.Namespace, s.Name, err))
		}
	}
	return errors.Join(errs...)
}
