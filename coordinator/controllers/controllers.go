package controllers

import (
	"context"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/informers"
)

// Controllers runs the Deployment and ReplicaSet controllers over one set
// of shared informers.
type Controllers struct {
	factory    informers.SharedInformerFactory
	replicaSet *ReplicaSetController
	deployment *DeploymentController
	endpoints  *EndpointsController
	nodes      *NodeLifecycleController
	taints     *TaintManager
	disruption *DisruptionController
}

// New builds both controllers from cfg.
func New(cfg Config) (*Controllers, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f := informers.NewSharedInformerFactory(cfg.Client, cfg.Resync)
	rs, err := NewReplicaSetController(cfg, f)
	if err != nil {
		return nil, err
	}
	d, err := NewDeploymentController(cfg, f)
	if err != nil {
		return nil, err
	}
	ep, err := NewEndpointsController(cfg, f)
	if err != nil {
		return nil, err
	}
	nl, err := NewNodeLifecycleController(cfg, f)
	if err != nil {
		return nil, err
	}
	tm, err := NewTaintManager(cfg, f)
	if err != nil {
		return nil, err
	}
	dc, err := NewDisruptionController(cfg, f)
	if err != nil {
		return nil, err
	}
	return &Controllers{factory: f, replicaSet: rs, deployment: d, endpoints: ep, nodes: nl, taints: tm, disruption: dc}, nil
}

// Run starts the informers and both controllers and returns once ctx
// ends and every goroutine they started has stopped.
func (c *Controllers) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return c.replicaSet.Run(gctx) })
	g.Go(func() error { return c.deployment.Run(gctx) })
	g.Go(func() error { return c.endpoints.Run(gctx) })
	g.Go(func() error { return c.nodes.Run(gctx) })
	g.Go(func() error { return c.taints.Run(gctx) })
	g.Go(func() error { return c.disruption.Run(gctx) })
	c.factory.Start(gctx.Done())
	err := g.Wait()
	c.factory.Shutdown()
	return err
}
