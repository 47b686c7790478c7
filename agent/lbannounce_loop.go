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
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// Announcer makes this node answer for load balancer addresses on its
// uplink (the cni package's ARP responder). Set replaces the whole set;
// an empty one stops every answer.
type Announcer interface {
	Set(addrs []netip.Addr) error
}

// LBAnnounceConfig configures the announcement of load balancer
// addresses.
type LBAnnounceConfig struct {
	// NodeName is this node's name.
	NodeName string
	// Retry is how long a failed Set waits before it is tried again.
	Retry time.Duration
	// Log receives what is taken and released; slog.Default when nil.
	Log *slog.Logger
}

// DefaultLBAnnounceConfig is the configuration of node name's
// announcements.
func DefaultLBAnnounceConfig(name string) LBAnnounceConfig {
	return LBAnnounceConfig{NodeName: name, Retry: 5 * time.Second, Log: slog.Default()}
}

// Validate checks the configuration.
func (c LBAnnounceConfig) Validate() error {
	if c.NodeName == "" {
		return errors.New("load balancer announcements: node name is required")
	}
	if c.Retry <= 0 {
		return errors.New("load balancer announcements: retry must be positive")
	}
	return nil
}

// LBAnnouncer keeps this node's Announcer holding the load balancer
// addresses LoadBalancerOwners gives it, from the Nodes, Services and
// EndpointSlices it watches.
type LBAnnouncer struct {
	cfg     LBAnnounceConfig
	factory informers.SharedInformerFactory
	ann     Announcer
	changed chan struct{}
}

// lbAnnounceResync is how often the owners are worked out again without
// a change.
const lbAnnounceResync = 10 * time.Minute

// NewLBAnnouncer announces through ann what the Nodes, Services and
// EndpointSlices of f (shared with the node's other watchers; Run starts
// it) say this node owns.
func NewLBAnnouncer(cfg LBAnnounceConfig, f informers.SharedInformerFactory, ann Announcer) (*LBAnnouncer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	l := &LBAnnouncer{cfg: cfg, factory: f, ann: ann, changed: make(chan struct{}, 1)}
	poke := func(any) {
		select {
		case l.changed <- struct{}{}:
		default:
		}
	}
	h := cache.ResourceEventHandlerFuncs{AddFunc: poke, UpdateFunc: func(_, o any) { poke(o) }, DeleteFunc: poke}
	for _, inf := range []cache.SharedIndexInformer{f.Core().V1().Nodes().Informer(), f.Core().V1().Services().Informer(), f.Discovery().V1().EndpointSlices().Informer()} {
		if _, err := inf.AddEventHandler(h); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Run announces until ctx ends, then stops announcing.
func (l *LBAnnouncer) Run(ctx context.Context) error {
	nodes := l.factory.Core().V1().Nodes()
	svcs := l.factory.Core().V1().Services()
	eps := l.factory.Discovery().V1().EndpointSlices()
	changed := l.changed
	l.factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), nodes.Informer().HasSynced, svcs.Informer().HasSynced, eps.Informer().HasSynced) {
		return nil
	}

	var held []netip.Addr
	failed, lastErr := false, ""
	defer func() {
		if len(held) > 0 || failed {
			if err := l.ann.Set(nil); err != nil {
				l.cfg.Log.Warn("stop announcing load balancer addresses", "err", err)
			}
		}
	}()
	for {
		want, err := l.owned(nodes.Lister(), svcs.Lister(), eps.Lister())
		var retry <-chan time.Time
		switch {
		case err != nil:
			l.cfg.Log.Warn("load balancer addresses", "err", err)
		case failed || !slices.Equal(want, held):
			if err := l.ann.Set(want); err != nil {
				// Said once per distinct failure, retried quietly.
				if err.Error() != lastErr {
					l.cfg.Log.Warn("announce load balancer addresses", "addrs", want, "err", err)
					lastErr = err.Error()
				}
				failed = true
				retry = time.After(l.cfg.Retry)
				break
			}
			if taken, released := diffAddrs(held, want); len(taken)+len(released) > 0 {
				l.cfg.Log.Info("load balancer addresses announced", "took", taken, "released", released, "holding", want)
			}
			held, failed, lastErr = want, false, ""
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-retry:
		case <-time.After(lbAnnounceResync):
		}
	}
}

// owned reads the caches and computes this node's addresses.
func (l *LBAnnouncer) owned(nodes corelisters.NodeLister, svcs corelisters.ServiceLister, eps discoverylisters.EndpointSliceLister) ([]netip.Addr, error) {
	ns, err := nodes.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	ss, err := svcs.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	es, err := eps.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("list endpoint slices: %w", err)
	}
	return OwnedBy(LoadBalancerOwners(ns, ss, es), l.cfg.NodeName), nil
}

// diffAddrs is what want adds to held and what it leaves out, both sorted.
func diffAddrs(held, want []netip.Addr) (taken, released []netip.Addr) {
	for _, a := range want {
		if !slices.Contains(held, a) {
			taken = append(taken, a)
		}
	}
	for _, a := range held {
		if !slices.Contains(want, a) {
			released = append(released, a)
		}
	}
	return taken, released
}
