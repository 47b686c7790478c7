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
	gc         *GarbageCollector
	job        *JobController
	cronJob    *CronJobController
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
	gc, err := NewGarbageCollector(cfg, f)
	if err != nil {
		return nil, err
	}
	job, err := NewJobController(cfg, f)
	if err != nil {
		return nil, err
	}
	cj, err := NewCronJobController(cfg, f)
	if err != nil {
		return nil, err
	}
	return &Controllers{factory: f, replicaSet: rs, deployment: d, gc: gc, job: job, cronJob: cj}, nil
}

// Run starts the informers and both controllers and returns once ctx
// ends and every goroutine they started has stopped.
func (c *Controllers) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return c.replicaSet.Run(gctx) })
	g.Go(func() error { return c.deployment.Run(gctx) })
	g.Go(func() error { return c.gc.Run(gctx) })
	g.Go(func() error { return c.job.Run(gctx) })
	g.Go(func() error { return c.cronJob.Run(gctx) })
	c.factory.Start(gctx.Done())
	err := g.Wait()
	c.factory.Shutdown()
	return err
}
