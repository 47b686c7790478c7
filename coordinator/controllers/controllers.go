package controllers

import (
	"context"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/informers"
)

// runner is one controller's loop.
type runner interface {
	Run(ctx context.Context) error
}

// constructor builds a controller over the shared informers.
type constructor func(Config, informers.SharedInformerFactory) (runner, error)

// as adapts a controller's typed constructor.
func as[T runner](build func(Config, informers.SharedInformerFactory) (T, error)) constructor {
	return func(cfg Config, f informers.SharedInformerFactory) (runner, error) { return build(cfg, f) }
}

// all are the coordinator's controllers. ReplicaSet and Deployment come
// first: they add the pod index by controller that the others reuse.
var all = []constructor{
	as(NewReplicaSetController),
	as(NewDeploymentController),
	as(NewEndpointsController),
	as(NewNodeLifecycleController),
	as(NewTaintManager),
	as(NewDisruptionController),
	as(NewDaemonSetController),
	as(NewStatefulSetController),
	as(NewVolumeController),
	as(NewGarbageCollector),
	as(NewJobController),
	as(NewCronJobController),
	as(NewLoadBalancerController),
	as(NewKubeDNSController),
}

// Controllers runs every controller over one set of shared informers.
type Controllers struct {
	factory informers.SharedInformerFactory
	runners []runner
}

// New builds every controller from cfg.
func New(cfg Config) (*Controllers, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f := informers.NewSharedInformerFactory(cfg.Client, cfg.Resync)
	c := &Controllers{factory: f}
	for _, build := range all {
		r, err := build(cfg, f)
		if err != nil {
			return nil, err
		}
		c.runners = append(c.runners, r)
	}
	return c, nil
}

// Run starts the informers and the controllers and returns once ctx ends
// and every goroutine they started has stopped.
func (c *Controllers) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, r := range c.runners {
		g.Go(func() error { return r.Run(gctx) })
	}
	c.factory.Start(gctx.Done())
	err := g.Wait()
	c.factory.Shutdown()
	return err
}
