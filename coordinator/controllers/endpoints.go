package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// EndpointsController writes the Endpoints and EndpointSlices of every
// Service with a selector from the pods it selects, and deletes them with
// their Service.
type EndpointsController struct {
	cfg       Config
	loop      *loop
	services  corelisters.ServiceLister
	pods      corelisters.PodLister
	endpoints corelisters.EndpointsLister
	slices    discoverylisters.EndpointSliceLister
	nodes     corelisters.NodeLister
	synced    []cache.InformerSynced
	// expects holds the slices a sync created until the cache shows them,
	// so that a stale cache never makes a second set.
	expects *expectations
}

// NewEndpointsController registers an endpoints controller on the
// informers of f; start f after creating every controller.
func NewEndpointsController(cfg Config, f informers.SharedInformerFactory) (*EndpointsController, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	svcInf := f.Core().V1().Services()
	podInf := f.Core().V1().Pods()
	epInf := f.Core().V1().Endpoints()
	sliceInf := f.Discovery().V1().EndpointSlices()
	nodeInf := f.Core().V1().Nodes()
	c := &EndpointsController{
		cfg: cfg, services: svcInf.Lister(), pods: podInf.Lister(), endpoints: epInf.Lister(),
		slices: sliceInf.Lister(), nodes: nodeInf.Lister(), expects: newExpectations(),
		synced: []cache.InformerSynced{svcInf.Informer().HasSynced, podInf.Informer().HasSynced,
			epInf.Informer().HasSynced, sliceInf.Informer().HasSynced, nodeInf.Informer().HasSynced},
	}
	c.loop = newLoop("endpoints", cfg.Log, c.sync)
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{svcInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc: c.loop.enqueue, UpdateFunc: func(_, obj any) { c.loop.enqueue(obj) }, DeleteFunc: c.loop.enqueue}},
		{podInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc: c.podChanged, UpdateFunc: func(old, obj any) { c.podChanged(old); c.podChanged(obj) }, DeleteFunc: c.podChanged}},
		// Endpoints and slices changed by someone else are put back.
		{epInf.Informer(), cache.ResourceEventHandlerFuncs{
			UpdateFunc: func(_, obj any) { c.loop.enqueue(obj) }, DeleteFunc: c.loop.enqueue}},
		{sliceInf.Informer(), cache.ResourceEventHandlerFuncs{
			UpdateFunc: func(_, obj any) { c.sliceChanged(obj) }, DeleteFunc: c.sliceChanged}},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Run syncs services until ctx ends.
func (c *EndpointsController) Run(ctx context.Context) error {
	return c.loop.run(ctx, c.cfg.Workers, c.synced...)
}

// podChanged queues every service of the pod's namespace that selects it.
func (c *EndpointsController) podChanged(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	svcs, err := c.services.Services(p.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, s := range svcs {
		if managesEndpoints(s) && labels.SelectorFromValidatedSet(s.Spec.Selector).Matches(labels.Set(p.Labels)) {
			c.loop.queue.Add(s.Namespace + "/" + s.Name)
		}
	}
}

// sliceChanged queues the service of a slice this controller manages.
func (c *EndpointsController) sliceChanged(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok || s.Labels[discoveryv1.LabelManagedBy] != sliceManagedBy || s.Labels[discoveryv1.LabelServiceName] == "" {
		return
	}
	c.loop.queue.Add(s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName])
}

func (c *EndpointsController) sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	existing, err := c.slices.EndpointSlices(ns).List(labels.SelectorFromValidatedSet(labels.Set{
		discoveryv1.LabelServiceName: name, discoveryv1.LabelManagedBy: sliceManagedBy}))
	if err != nil {
		return 0, err
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.expects.forget(key)
		return 0, c.deleteAll(ctx, ns, name, existing)
	}
	if err != nil {
		return 0, err
	}
	if !managesEndpoints(svc) || svc.DeletionTimestamp != nil {
		return 0, nil
	}
	all, err := c.pods.Pods(ns).List(labels.Everything())
	if err != nil {
		return 0, err
	}
	pods := selectedPods(svc, all)
	epErr := c.syncEndpoints(ctx, svc, pods)
	if !c.expects.satisfied(key, c.cfg.Now(), c.sliceSeen) {
		return 100 * time.Millisecond, epErr
	}
	return 0, errors.Join(epErr, c.syncSlices(ctx, key, svc, pods, existing))
}

// deleteAll deletes the Endpoints and slices of a service that is gone.
func (c *EndpointsController) deleteAll(ctx context.Context, ns, name string, slices []*discoveryv1.EndpointSlice) error {
	var errs []error
	if _, err := c.endpoints.Endpoints(ns).Get(name); err == nil {
		if err := c.cfg.Client.CoreV1().Endpoints(ns).Delete(ctx, name, metav1.DeleteOptions{}); ignoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("delete endpoints %s/%s: %w", ns, name, err))
		}
	}
	for _, s := range slices {
		if err := c.cfg.Client.DiscoveryV1().EndpointSlices(ns).Delete(ctx, s.Name, deleteUID(s.UID)); ignoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("delete endpointslice %s/%s: %w", ns, s.Name, err))
		}
	}
	return errors.Join(errs...)
}

// syncEndpoints writes the service's Endpoints when they differ from
// what its pods make.
func (c *EndpointsController) syncEndpoints(ctx context.Context, svc *corev1.Service, pods []*corev1.Pod) error {
	subsets := desiredSubsets(svc, pods)
	lbls := endpointsLabels(svc)
	lbls[labelSkipMirror] = "true"
	client := c.cfg.Client.CoreV1().Endpoints(svc.Namespace)
	cur, err := c.endpoints.Endpoints(svc.Namespace).Get(svc.Name)
	if apierrors.IsNotFound(err) {
		ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: svc.Name, Namespace: svc.Namespace, Labels: lbls}, Subsets: subsets}
		if _, err := client.Create(ctx, ep, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create endpoints %s/%s: %w", svc.Namespace, svc.Name, err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if apiequality.Semantic.DeepEqual(cur.Subsets, subsets) && apiequality.Semantic.DeepEqual(cur.Labels, lbls) {
		return nil
	}
	ep := cur.DeepCopy()
	ep.Subsets, ep.Labels = subsets, lbls
	if _, err := client.Update(ctx, ep, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update endpoints %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	return nil
}

// syncSlices writes the service's EndpointSlices when they differ from
// what its pods make.
func (c *EndpointsController) syncSlices(ctx context.Context, key string, svc *corev1.Service, pods []*corev1.Pod, existing []*discoveryv1.EndpointSlice) error {
	zones := map[string]string{}
	if nodes, err := c.nodes.List(labels.Everything()); err == nil {
		for _, n := range nodes {
			if z := n.Labels[corev1.LabelTopologyZone]; z != "" {
				zones[n.Name] = z
			}
		}
	}
	plan := reconcileSlices(svc, desiredSliceContents(svc, pods, zones), existing)
	client := c.cfg.Client.DiscoveryV1().EndpointSlices(svc.Namespace)
	var errs []error
	var created []podRef
	for _, s := range plan.Create {
		out, err := client.Create(ctx, s, metav1.CreateOptions{})
		if err != nil {
			errs = append(errs, fmt.Errorf("create endpointslice for service %s/%s: %w", svc.Namespace, svc.Name, err))
			continue
		}
		created = append(created, podRef{ns: out.Namespace, name: out.Name, uid: out.UID})
	}
	c.expects.expect(key, created, nil, c.cfg.Now().Add(c.cfg.ExpectationTimeout))
	for _, s := range plan.Update {
		if _, err := client.Update(ctx, s, metav1.UpdateOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("update endpointslice %s/%s: %w", svc.Namespace, s.Name, err))
		}
	}
	for _, s := range plan.Delete {
		if err := client.Delete(ctx, s.Name, deleteUID(s.UID)); ignoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("delete endpointslice %s/%s: %w", svc.Namespace, s.Name, err))
		}
	}
	return errors.Join(errs...)
}

// sliceSeen reports whether the cache holds the slice r names.
func (c *EndpointsController) sliceSeen(r podRef) bool {
	s, err := c.slices.EndpointSlices(r.ns).Get(r.name)
	return err == nil && s.UID == r.uid
}
