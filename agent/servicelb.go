package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	coreinformers "k8s.io/client-go/informers/core/v1"
	discoveryinformers "k8s.io/client-go/informers/discovery/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// ServiceLBConfig configures the service load balancer's controller.
type ServiceLBConfig struct {
	// Node is this node's name (internalTrafficPolicy Local).
	Node string
	// NodeAddrs are the addresses NodePorts are served at (besides
	// 127.0.0.1).
	NodeAddrs []netip.Addr
	// Maglev fills lookup tables by Maglev hashing for services that do
	// not choose (annotation service.keel.dev/lb-algorithm).
	Maglev bool
	// RetryInterval is the wait before applying again after a failed
	// write.
	RetryInterval time.Duration
	// Log receives the controller's logs.
	Log *slog.Logger
}

// DefaultServiceLBConfig is the controller of node name.
func DefaultServiceLBConfig(node string) ServiceLBConfig {
	return ServiceLBConfig{Node: node, RetryInterval: 2 * time.Second, Log: slog.Default()}
}

// Validate checks the configuration.
func (c ServiceLBConfig) Validate() error {
	switch {
	case c.Node == "":
		return errors.New("service lb: node name is required")
	case c.RetryInterval <= 0:
		return errors.New("service lb: retry interval must be positive")
	case c.Log == nil:
		return errors.New("service lb: no logger")
	}
	return nil
}

// ServiceLB keeps the load balancer's maps routing every Service of the
// cluster to its endpoints: it watches Services and EndpointSlices,
// builds the service table and writes what changed.
type ServiceLB struct {
	cfg     ServiceLBConfig
	factory informers.SharedInformerFactory
	applier *lbApplier
	svcs    coreinformers.ServiceInformer
	eps     discoveryinformers.EndpointSliceInformer
	dirty   map[string]bool
	mu      sync.Mutex
	changed chan struct{}
}

// NewServiceLB returns the controller of maps, which held found when the
// agent started, watching Services and EndpointSlices through f (shared
// with the node's other watchers of them; Run starts it).
func NewServiceLB(cfg ServiceLBConfig, f informers.SharedInformerFactory, maps ServiceMaps, found LBMapsContent) (*ServiceLB, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &ServiceLB{cfg: cfg, factory: f, applier: newLBApplier(maps, found),
		svcs: f.Core().V1().Services(), eps: f.Discovery().V1().EndpointSlices(),
		dirty: map[string]bool{}, changed: make(chan struct{}, 1)}
	if err := s.eps.Informer().AddIndexers(cache.Indexers{sliceServiceIndex: sliceService}); err != nil {
		return nil, fmt.Errorf("service lb: %w", err)
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    s.mark,
		UpdateFunc: func(_, obj any) { s.mark(obj) },
		DeleteFunc: s.mark,
	}
	for _, inf := range []cache.SharedIndexInformer{s.svcs.Informer(), s.eps.Informer()} {
		if _, err := inf.AddEventHandler(handler); err != nil {
			return nil, fmt.Errorf("service lb: watch: %w", err)
		}
	}
	return s, nil
}

// mark notes that the service of obj (a Service or one of its
// EndpointSlices) changed.
func (s *ServiceLB) mark(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	var name string
	switch o := obj.(type) {
	case *corev1.Service:
		name = o.Namespace + "/" + o.Name
	case *discoveryv1.EndpointSlice:
		keys, _ := sliceService(o)
		if len(keys) == 0 {
			return
		}
		name = keys[0]
	default:
		return
	}
	s.mu.Lock()
	s.dirty[name] = true
	s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// Run applies the cluster's services until ctx ends. The maps keep
// routing afterwards. It applies the whole table once the informers have
// synced (taking over what an earlier agent left in the maps), then, on
// each change, only the services that changed.
func (s *ServiceLB) Run(ctx context.Context) error {
	svcs, eps := s.svcs, s.eps
	s.factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), svcs.Informer().HasSynced, eps.Informer().HasSynced) {
		return nil
	}
	in := ServiceTableInput{Node: s.cfg.Node, NodeAddrs: s.cfg.NodeAddrs, Maglev: s.cfg.Maglev}
	problems := map[string][]string{}
	report := func(name string, ps []string) {
		if !slices.Equal(problems[name], ps) {
			for _, p := range ps {
				s.cfg.Log.Warn("service lb: "+p, "svc", name)
			}
		}
		if len(ps) == 0 {
			delete(problems, name)
		} else {
			problems[name] = ps
		}
	}
	full := true
	var retry <-chan time.Time
	for {
		retry = nil
		if full {
			s.mu.Lock()
			clear(s.dirty)
			s.mu.Unlock()
			all, err := s.fullTable(svcs.Lister(), eps.Lister(), in)
			if err != nil {
				return err
			}
			for _, p := range all.Problems {
				s.cfg.Log.Warn("service lb: " + p)
			}
			if err := s.applier.apply(all); err != nil {
				s.cfg.Log.Error("service lb: writing the maps", "err", err)
				retry = time.After(s.cfg.RetryInterval)
			} else {
				full = false
				s.cfg.Log.Info("service lb: applied every service", "ports", len(all.Ports))
			}
		} else {
			s.mu.Lock()
			names := make([]string, 0, len(s.dirty))
			for n := range s.dirty {
				names = append(names, n)
			}
			clear(s.dirty)
			s.mu.Unlock()
			sort.Strings(names)
			for i, name := range names {
				t, err := s.serviceTable(name, svcs.Lister(), eps.Informer().GetIndexer(), in)
				if err == nil {
					report(name, t.Problems)
					err = s.applier.applyService(name, t)
				}
				if err != nil {
					s.cfg.Log.Error("service lb: writing the maps", "svc", name, "err", err)
					s.mu.Lock()
					for _, n := range names[i:] {
						s.dirty[n] = true
					}
					s.mu.Unlock()
					retry = time.After(s.cfg.RetryInterval)
					break
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.changed:
		case <-retry:
		}
	}
}

const sliceServiceIndex = "service"

// sliceService indexes EndpointSlices by their service's NS/NAME.
func sliceService(obj any) ([]string, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return nil, nil
	}
	name := s.Labels[discoveryv1.LabelServiceName]
	if name == "" {
		return nil, nil
	}
	return []string{s.Namespace + "/" + name}, nil
}

func (s *ServiceLB) fullTable(svcs corelisters.ServiceLister, eps discoverylisters.EndpointSliceLister, in ServiceTableInput) (ServiceTable, error) {
	var err error
	if in.Services, err = svcs.List(labels.Everything()); err != nil {
		return ServiceTable{}, fmt.Errorf("service lb: list services: %w", err)
	}
	if in.Slices, err = eps.List(labels.Everything()); err != nil {
		return ServiceTable{}, fmt.Errorf("service lb: list endpointslices: %w", err)
	}
	return BuildServiceTable(in), nil
}

// serviceTable is the part of the table of service name (NS/NAME): none
// when it is gone.
func (s *ServiceLB) serviceTable(name string, svcs corelisters.ServiceLister, eps cache.Indexer, in ServiceTableInput) (ServiceTable, error) {
	ns, n, _ := strings.Cut(name, "/")
	svc, err := svcs.Services(ns).Get(n)
	if apierrors.IsNotFound(err) {
		return ServiceTable{Ports: map[string]*LBPort{}}, nil
	}
	if err != nil {
		return ServiceTable{}, err
	}
	objs, err := eps.ByIndex(sliceServiceIndex, name)
	if err != nil {
		return ServiceTable{}, err
	}
	own := make([]*discoveryv1.EndpointSlice, 0, len(objs))
	for _, o := range objs {
		if es, ok := o.(*discoveryv1.EndpointSlice); ok {
			own = append(own, es)
		}
	}
	return BuildServicePorts(svc, own, in), nil
}
