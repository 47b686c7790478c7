package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
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
	cs      kubernetes.Interface
	applier *lbApplier
}

// NewServiceLB returns the controller of maps, which held found when the
// agent started.
func NewServiceLB(cfg ServiceLBConfig, cs kubernetes.Interface, maps ServiceMaps, found LBMapsContent) (*ServiceLB, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &ServiceLB{cfg: cfg, cs: cs, applier: newLBApplier(maps, found)}, nil
}

// Run applies the cluster's services until ctx ends. The maps keep
// routing afterwards.
func (s *ServiceLB) Run(ctx context.Context) error {
	f := informers.NewSharedInformerFactory(s.cs, 0)
	svcs := f.Core().V1().Services()
	eps := f.Discovery().V1().EndpointSlices()
	changed := make(chan struct{}, 1)
	poke := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { poke() },
		UpdateFunc: func(any, any) { poke() },
		DeleteFunc: func(any) { poke() },
	}
	for _, inf := range []cache.SharedIndexInformer{svcs.Informer(), eps.Informer()} {
		if _, err := inf.AddEventHandler(handler); err != nil {
			return fmt.Errorf("service lb: watch: %w", err)
		}
	}
	f.Start(ctx.Done())
	defer f.Shutdown()
	for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("service lb: %v never synced", typ)
		}
	}
	var retry <-chan time.Time
	var lastProblems []string
	for {
		svcList, err := svcs.Lister().List(labels.Everything())
		if err != nil {
			return fmt.Errorf("service lb: list services: %w", err)
		}
		sliceList, err := eps.Lister().List(labels.Everything())
		if err != nil {
			return fmt.Errorf("service lb: list endpointslices: %w", err)
		}
		table := BuildServiceTable(ServiceTableInput{Node: s.cfg.Node, NodeAddrs: s.cfg.NodeAddrs,
			Services: svcList, Slices: sliceList, Maglev: s.cfg.Maglev})
		if !slices.Equal(table.Problems, lastProblems) {
			for _, p := range table.Problems {
				s.cfg.Log.Warn("service lb: " + p)
			}
			lastProblems = table.Problems
		}
		retry = nil
		if err := s.applier.apply(table); err != nil {
			s.cfg.Log.Error("service lb: writing the maps", "err", err)
			retry = time.After(s.cfg.RetryInterval)
		} else {
			s.cfg.Log.Debug("service lb: applied", "ports", len(table.Ports))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-retry:
		}
	}
}
