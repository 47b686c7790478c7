package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// CronJobController creates a CronJob's Jobs on its schedule and keeps its
// history within limits.
type CronJobController struct {
	cfg      Config
	loop     *loop
	cronJobs batchlisters.CronJobLister
	jobs     batchlisters.JobLister
	synced   []cache.InformerSynced
	recorder record.EventRecorder
}

// NewCronJobController registers a CronJob controller on the informers of
// f; start f after creating every controller.
func NewCronJobController(cfg Config, f informers.SharedInformerFactory) (*CronJobController, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	cjInf := f.Batch().V1().CronJobs()
	jobInf := f.Batch().V1().Jobs()
	c := &CronJobController{
		cfg: cfg, cronJobs: cjInf.Lister(), jobs: jobInf.Lister(),
		synced: []cache.InformerSynced{cjInf.Informer().HasSynced, jobInf.Informer().HasSynced},
	}
	c.loop = newLoop("cronjob", cfg.Log, c.sync)
	if _, err := cjInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.loop.enqueue,
		UpdateFunc: func(_, obj any) { c.loop.enqueue(obj) },
		DeleteFunc: c.loop.enqueue,
	}); err != nil {
		return nil, err
	}
	if _, err := jobInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.jobChanged,
		UpdateFunc: func(_, obj any) { c.jobChanged(obj) },
		DeleteFunc: c.jobChanged,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// Run syncs CronJobs until ctx ends.
func (c *CronJobController) Run(ctx context.Context) error {
	rec, stop := startRecorder(c.cfg, "cronjob-controller")
	defer stop()
	c.recorder = rec
	return c.loop.run(ctx, c.cfg.Workers, c.synced...)
}

// jobChanged queues the CronJob controlling a Job.
func (c *CronJobController) jobChanged(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	j, ok := obj.(metav1.Object)
	if !ok {
		return
	}
	if ref := metav1.GetControllerOfNoCopy(j); ref != nil && ref.Kind == cronJobKind.Kind {
		c.loop.queue.Add(j.GetNamespace() + "/" + ref.Name)
	}
}

func (c *CronJobController) sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	cached, err := c.cronJobs.CronJobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	cj := cached.DeepCopy()
	jobs, err := c.jobs.Jobs(ns).List(labels.Everything())
	if err != nil {
		return 0, err
	}
	plan := decideCronJob(cj, jobs, c.cfg.Now())
	batch := c.cfg.Client.BatchV1().Jobs(ns)
	var errs []error
	for _, j := range plan.Delete {
		err := batch.Delete(ctx, j.Name, deleteUID(j.UID))
		if ignoreNotFound(err) != nil && !apierrors.IsConflict(err) {
			errs = append(errs, fmt.Errorf("delete job %s/%s of cronjob %s: %w", ns, j.Name, name, err))
		}
	}
	for _, e := range plan.Events {
		c.recorder.Event(cj, e.Type, e.Reason, e.Message)
	}
	st := plan.Status
	if plan.Create != nil && len(errs) == 0 {
		created, err := batch.Create(ctx, plan.Create, metav1.CreateOptions{})
		fresh := err == nil
		if apierrors.IsAlreadyExists(err) {
			created, err = batch.Get(ctx, plan.Create.Name, metav1.GetOptions{})
			if err == nil && !metav1.IsControlledBy(created, cj) {
				err = fmt.Errorf("job %s/%s exists and is not controlled by cronjob %s", ns, created.Name, name)
			}
		}
		if err != nil {
			c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedCreate", "Error creating job: %v", err)
			errs = append(errs, fmt.Errorf("create job for cronjob %s: %w", key, err))
		} else {
			if fresh {
				c.recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulCreate", "Created job %s", created.Name)
			}
			if jobFinished(created) == "" {
				st.Active = append(st.Active, jobRef(created))
			}
			st.LastScheduleTime = ptrTime(plan.ScheduledTime)
		}
	}
	if !apiequality.Semantic.DeepEqual(st, cj.Status) {
		cj.Status = st
		if _, err := c.cfg.Client.BatchV1().CronJobs(ns).UpdateStatus(ctx, cj, metav1.UpdateOptions{}); ignoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("cronjob %s status: %w", key, err))
		}
	}
	return plan.RequeueAfter, errors.Join(errs...)
}
