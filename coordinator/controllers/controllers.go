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
	daemonSet  *DaemonSetController
	stateful   *StatefulSetController
	volumes    *VolumeController
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
	ds, err := NewDaemonSetController(cfg, f)
	if err != nil {
		return nil, err
	}
	sts, err := NewStatefulSetController(cfg, f)
	if err != nil {
		return nil, err
	}
	vols, err := NewVolumeController(cfg, f)
	if err != nil {
		return nil, err
	}
	return &Controllers{factory: f, replicaSet: rs, deployment: d, daemonSet: ds, stateful: sts, volumes: vols}, nil
}

// Run starts the informers and both controllers and returns once ctx
// ends and every goroutine they started has stopped.
func (c *Controllers) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return c.replicaSet.Run(gctx) })
	g.Go(func() error { return c.deployment.Run(gctx) })
	g.Go(func() error { return c.daemonSet.Run(gctx) })
	g.Go(func() error { return c.stateful.Run(gctx) })
	g.Go(func() error { return c.volumes.Run(gctx) })
	c.factory.Start(gctx.Done())
	err := g.Wait()
	c.factory.Shutdown()
	return err
}
