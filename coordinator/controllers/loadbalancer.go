package controllers

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// lbKey is the load balancer controller's only queue key: every decision
// is made over all services at once.
const lbKey = "pool"

// LoadBalancerController gives LoadBalancer services addresses from the
// configured pool (status.loadBalancer.ingress) and takes them back from
// services that are no longer of type LoadBalancer. Deleting a service
// frees its address with it. It keeps no state of its own beyond what the
// services hold, so a coordinator that takes over continues from the
// stored services.
type LoadBalancerController struct {
	cfg      Config
	pool     LoadBalancerPool
	loop     *loop
	services corelisters.ServiceLister
	synced   cache.InformerSynced
	rec      record.EventRecorder
	// written holds the services whose status this controller wrote
	// until the cache shows that write, so a stale cache never makes it
	// give an address twice. Only the loop's one worker touches it.
	written map[string]*corev1.Service
	// told is the last event recorded per service UID, so a service
	// waiting for an address is told once, not at every sync.
	told map[types.UID]lbEvent
}

// NewLoadBalancerController registers a load balancer controller on the
// informers of f; start f after creating every controller.
func NewLoadBalancerController(cfg Config, f informers.SharedInformerFactory) (*LoadBalancerController, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	pool, err := ParseLoadBalancerPool(cfg.LoadBalancerPool)
	if err != nil {
		return nil, err
	}
	inf := f.Core().V1().Services()
	c := &LoadBalancerController{
		cfg: cfg, pool: pool, services: inf.Lister(), synced: inf.Informer().HasSynced,
		written: map[string]*corev1.Service{}, told: map[types.UID]lbEvent{},
	}
	c.loop = newLoop("loadbalancer", cfg.Log, c.sync)
	queue := func(any) { c.loop.queue.Add(lbKey) }
	_, err = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: queue, UpdateFunc: func(_, obj any) { queue(obj) }, DeleteFunc: queue,
	})
	return c, err
}

// Run assigns addresses until ctx ends.
func (c *LoadBalancerController) Run(ctx context.Context) error {
	rec, stop := startRecorder(c.cfg, "loadbalancer-controller")
	defer stop()
	c.rec = rec
	c.loop.queue.Add(lbKey)
	// One worker: each sync decides over every service.
	return c.loop.run(ctx, 1, c.synced)
}

func (c *LoadBalancerController) sync(ctx context.Context, _ string) (time.Duration, error) {
	cached, err := c.services.List(labels.Everything())
	if err != nil {
		return 0, err
	}
	svcs := c.overlay(cached)
	var errs []error
	for _, d := range decideLoadBalancers(svcs, c.pool) {
		s := d.Service
		if d.Changed {
			upd := s.DeepCopy()
			upd.Status.LoadBalancer.Ingress = d.Ingress
			got, err := c.cfg.Client.CoreV1().Services(s.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{})
			if err != nil {
				if !apierrors.IsNotFound(err) {
					errs = append(errs, fmt.Errorf("update status of service %s: %w", keyOf(s), err))
				}
				continue
			}
			c.written[keyOf(s)] = got
			c.cfg.Log.Info("load balancer address", "ns", s.Namespace, "svc", s.Name, "ingress", ingressList(d.Ingress))
		}
		if d.Event != nil && c.told[s.UID] != *d.Event {
			c.told[s.UID] = *d.Event
			c.rec.Event(s, d.Event.Type, d.Event.Reason, d.Event.Message)
		}
	}
	c.forgetTold(svcs)
	return 0, errors.Join(errs...)
}

// overlay is the cached services with this controller's writes the cache
// does not show yet in their place; writes the cache shows, and those of
// services that are gone, are forgotten.
func (c *LoadBalancerController) overlay(cached []*corev1.Service) []*corev1.Service {
	out := make([]*corev1.Service, 0, len(cached))
	present := make(map[string]bool, len(cached))
	for _, s := range cached {
		k := keyOf(s)
		present[k] = true
		w, ok := c.written[k]
		if !ok {
			out = append(out, s)
			continue
		}
		if w.UID == s.UID && olderVersion(s.ResourceVersion, w.ResourceVersion) {
			out = append(out, w)
			continue
		}
		delete(c.written, k)
		out = append(out, s)
	}
	for k := range c.written {
		if !present[k] {
			delete(c.written, k)
		}
	}
	return out
}

// olderVersion reports whether resource version a is below b: the
// store's versions are its revision numbers.
func olderVersion(a, b string) bool {
	x, errA := strconv.ParseUint(a, 10, 64)
	y, errB := strconv.ParseUint(b, 10, 64)
	return errA == nil && errB == nil && x < y
}

// forgetTold drops what was told to services that are gone.
func (c *LoadBalancerController) forgetTold(svcs []*corev1.Service) {
	if len(c.told) == 0 {
		return
	}
	uids := make(map[types.UID]bool, len(svcs))
	for _, s := range svcs {
		uids[s.UID] = true
	}
	for uid := range c.told {
		if !uids[uid] {
			delete(c.told, uid)
		}
	}
}
