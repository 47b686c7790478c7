package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// JobController runs each Job's pods to completion: parallelism,
// completions (NonIndexed and Indexed), backoffLimit with back-off between
// failures, activeDeadlineSeconds, suspend and ttlSecondsAfterFinished.
type JobController struct {
	cfg      Config
	loop     *loop
	jobs     batchlisters.JobLister
	pods     corelisters.PodLister
	synced   []cache.InformerSynced
	expects  *expectations
	recorder record.EventRecorder
}

// NewJobController registers a Job controller on the informers of f;
// start f after creating every controller.
func NewJobController(cfg Config, f informers.SharedInformerFactory) (*JobController, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	jobInf := f.Batch().V1().Jobs()
	podInf := f.Core().V1().Pods()
	c := &JobController{
		cfg: cfg, jobs: jobInf.Lister(), pods: podInf.Lister(),
		synced:  []cache.InformerSynced{jobInf.Informer().HasSynced, podInf.Informer().HasSynced},
		expects: newExpectations(),
	}
	c.loop = newLoop("job", cfg.Log, c.sync)
	if _, err := jobInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.loop.enqueue,
		UpdateFunc: func(_, obj any) { c.loop.enqueue(obj) },
		DeleteFunc: c.loop.enqueue,
	}); err != nil {
		return nil, err
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.podChanged,
		UpdateFunc: func(old, obj any) { c.podChanged(old); c.podChanged(obj) },
		DeleteFunc: c.podChanged,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// Run syncs Jobs until ctx ends.
func (c *JobController) Run(ctx context.Context) error {
	rec, stop := startRecorder(c.cfg, "job-controller")
	defer stop()
	c.recorder = rec
	return c.loop.run(ctx, c.cfg.Workers, c.synced...)
}

func (c *JobController) podChanged(obj any) {
	queueOwners(c.loop.queue, obj, jobKind.Kind,
		func(ns string) ([]*batchv1.Job, error) { return c.jobs.Jobs(ns).List(labels.Everything()) },
		func(j *batchv1.Job) *metav1.LabelSelector { return j.Spec.Selector })
}

func (c *JobController) sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	cached, err := c.jobs.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.expects.forget(key)
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	job := cached.DeepCopy()
	now := c.cfg.Now()
	pods, err := c.pods.Pods(ns).List(labels.Everything())
	if err != nil {
		return 0, err
	}
	plan, err := decideJob(job, pods, now, c.cfg.JobBackoff)
	if err != nil {
		return 0, err
	}
	if err := c.claim(ctx, job, plan); err != nil {
		return 0, err
	}
	var manageErr error
	if c.expects.satisfied(key, now, c.seen) {
		manageErr = c.manage(ctx, key, job, plan, now)
	}
	if !apiequality.Semantic.DeepEqual(plan.Status, job.Status) {
		job.Status = plan.Status
		if _, err := c.cfg.Client.BatchV1().Jobs(ns).UpdateStatus(ctx, job, metav1.UpdateOptions{}); err != nil {
			return 0, errors.Join(manageErr, ignoreNotFound(fmt.Errorf("job %s status: %w", key, err)))
		}
	}
	for _, e := range plan.Events {
		c.recorder.Event(job, e.Type, e.Reason, e.Message)
	}
	if plan.DeleteJob && manageErr == nil {
		err := c.cfg.Client.BatchV1().Jobs(ns).Delete(ctx, name, deleteUID(job.UID))
		if ignoreNotFound(err) != nil && !apierrors.IsConflict(err) {
			return 0, fmt.Errorf("delete job %s after its ttlSecondsAfterFinished: %w", key, err)
		}
		return 0, nil
	}
	return plan.RequeueAfter, manageErr
}

func (c *JobController) seen(r podRef) bool {
	p, err := c.pods.Pods(r.ns).Get(r.name)
	return err == nil && (r.uid == "" || p.UID == r.uid)
}

// claim adopts and releases the pods the plan names.
func (c *JobController) claim(ctx context.Context, job *batchv1.Job, plan JobPlan) error {
	pods := c.cfg.Client.CoreV1().Pods(job.Namespace)
	if len(plan.Adopt) > 0 {
		fresh, err := c.cfg.Client.BatchV1().Jobs(job.Namespace).Get(ctx, job.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("recheck job %s/%s before adoption: %w", job.Namespace, job.Name, err)
		}
		if fresh.UID != job.UID || fresh.DeletionTimestamp != nil {
			return fmt.Errorf("job %s/%s changed before adoption", job.Namespace, job.Name)
		}
	}
	for _, p := range plan.Adopt {
		p = p.DeepCopy()
		p.OwnerReferences = withControllerRef(p.OwnerReferences, controllerRef(job, jobKind))
		if _, err := pods.Update(ctx, p, metav1.UpdateOptions{}); ignoreNotFound(err) != nil {
			return fmt.Errorf("adopt pod %s/%s: %w", p.Namespace, p.Name, err)
		}
	}
	for _, p := range plan.Release {
		p = p.DeepCopy()
		p.OwnerReferences = withoutOwner(p.OwnerReferences, job.UID)
		if _, err := pods.Update(ctx, p, metav1.UpdateOptions{}); ignoreNotFound(err) != nil {
			return fmt.Errorf("release pod %s/%s: %w", p.Namespace, p.Name, err)
		}
	}
	return nil
}

// manage creates and deletes pods, creating in batches of 1, 2, 4... so
// that a template the API refuses costs one request, not hundreds.
func (c *JobController) manage(ctx context.Context, key string, job *batchv1.Job, plan JobPlan, now time.Time) error {
	pods := c.cfg.Client.CoreV1().Pods(job.Namespace)
	until := now.Add(c.cfg.ExpectationTimeout)
	var created, deleted []podRef
	defer func() { c.expects.expect(key, created, deleted, until) }()
	var toCreate []*corev1.Pod
	for range plan.Create {
		toCreate = append(toCreate, newJobPod(job, -1))
	}
	for _, i := range plan.CreateIndexes {
		toCreate = append(toCreate, newJobPod(job, i))
	}
	for batch := 1; len(toCreate) > 0; batch *= 2 {
		n := min(batch, len(toCreate))
		for _, want := range toCreate[:n] {
			p, err := pods.Create(ctx, want, metav1.CreateOptions{})
			if err != nil {
				c.recorder.Eventf(job, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
				return fmt.Errorf("create pod for job %s: %w", key, err)
			}
			c.recorder.Eventf(job, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", p.Name)
			created = append(created, podRef{ns: p.Namespace, name: p.Name, uid: p.UID})
		}
		toCreate = toCreate[n:]
	}
	for _, p := range plan.Delete {
		err := pods.Delete(ctx, p.Name, deleteUID(p.UID))
		if ignoreNotFound(err) != nil && !apierrors.IsConflict(err) {
			c.recorder.Eventf(job, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
			return fmt.Errorf("delete pod %s/%s: %w", p.Namespace, p.Name, err)
		}
		if err == nil {
			c.recorder.Eventf(job, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", p.Name)
		}
		deleted = append(deleted, podRef{ns: p.Namespace, name: p.Name, uid: p.UID})
	}
	return nil
}
