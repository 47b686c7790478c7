package scheduler

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// Scheduler binds pending pods to nodes. One goroutine owns the Cluster
// and the Queue; informers hand it their events through an inbox, and a
// pool of workers writes bindings, pod conditions and events, handing the
// bindings' results back the same way.
type Scheduler struct {
	cfg     Config
	cluster *Cluster
	queue   *Queue
	inbox   inbox
	pending map[string]*corev1.Pod // unbound pods of this scheduler, by key
	jobs    chan job
	events  record.EventRecorder
	drained []event // the owner's buffer for the inbox's events
}

// New builds a scheduler from cfg.
func New(cfg Config) (*Scheduler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Scheduler{cfg: cfg, cluster: NewCluster(), queue: NewQueue(), pending: map[string]*corev1.Pod{},
		inbox: inbox{kick: make(chan struct{}, 1)}}
	s.cluster.PercentageOfNodesToScore = cfg.PercentageOfNodesToScore
	s.queue.InitialBackoff, s.queue.MaxBackoff = cfg.InitialBackoff, cfg.MaxBackoff
	s.queue.UnschedulableTimeout = cfg.UnschedulableTimeout
	return s, nil
}

// Run schedules pods until ctx ends, and returns once every goroutine it
// started has stopped.
func (s *Scheduler) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Discovery is retried: the API may not answer yet, or fail for a
	// moment, which is no reason to stop the coordinator.
	var served volumeKinds
	logged := false
	err := wait.PollUntilContextCancel(ctx, time.Second, true, func(context.Context) (bool, error) {
		var err error
		served, err = servedVolumeKinds(s.cfg.Client.Discovery())
		if err != nil && !logged {
			s.cfg.Log.Warn("scheduler: discovery failed, retrying", "err", err)
			logged = true
		}
		return err == nil, nil
	})
	if err != nil {
		return nil // ctx ended
	}
	if missing := served.missing(); missing != "" {
		s.cfg.Log.Info("scheduler: volume kinds not served, pods that use them stay unschedulable", "kinds", missing)
	}
	bc := record.NewBroadcaster(record.WithContext(ctx))
	defer bc.Shutdown()
	bc.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: s.cfg.Client.CoreV1().Events("")})
	s.events = bc.NewRecorder(scheme.Scheme, corev1.EventSource{Component: s.cfg.SchedulerName})

	factory := informers.NewSharedInformerFactory(s.cfg.Client, 0)
	handler := func(kind eventKind) cache.ResourceEventHandler {
		return cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { s.inbox.push(event{kind: kind, obj: obj}) },
			UpdateFunc: func(old, obj any) { s.inbox.push(event{kind: kind, old: old, obj: obj}) },
			DeleteFunc: func(obj any) {
				if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
					obj = d.Obj
				}
				s.inbox.push(event{kind: kind, obj: obj, deleted: true})
			},
		}
	}
	informersOf := map[eventKind]cache.SharedIndexInformer{
		kindPod:       factory.Core().V1().Pods().Informer(),
		kindNode:      factory.Core().V1().Nodes().Informer(),
		kindNamespace: factory.Core().V1().Namespaces().Informer(),
	}
	if served.claims {
		informersOf[kindClaim] = factory.Core().V1().PersistentVolumeClaims().Informer()
	}
	if served.volumes {
		informersOf[kindVolume] = factory.Core().V1().PersistentVolumes().Informer()
	}
	if served.classes {
		informersOf[kindClass] = factory.Storage().V1().StorageClasses().Informer()
	}
	var synced []cache.InformerSynced
	for kind, inf := range informersOf {
		reg, err := inf.AddEventHandler(handler(kind))
		if err != nil {
			return fmt.Errorf("scheduler: watch %s: %w", kind, err)
		}
		synced = append(synced, reg.HasSynced)
	}
	s.jobs = make(chan job, 2*s.cfg.Workers)
	g, gctx := errgroup.WithContext(ctx)
	for range s.cfg.Workers {
		g.Go(func() error { s.work(gctx); return nil })
	}
	factory.Start(gctx.Done())
	defer factory.Shutdown()
	g.Go(func() error {
		if !cache.WaitForCacheSync(gctx.Done(), synced...) {
			return nil
		}
		s.drain(gctx)
		s.cfg.Log.Info("scheduler started", "nodes", s.cluster.NumNodes(), "pending", s.queue.Len())
		s.loop(gctx)
		return nil
	})
	return g.Wait()
}

// loop is the owner of the cluster and the queue.
func (s *Scheduler) loop(ctx context.Context) {
	flush := time.NewTicker(min(s.cfg.UnschedulableTimeout, 30*time.Second))
	defer flush.Stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.drain(ctx)
		for ctx.Err() == nil {
			key, ok := s.queue.Pop(s.cfg.Now())
			if !ok {
				break
			}
			s.scheduleOne(ctx, key)
			s.drain(ctx)
		}
		wait := time.Hour
		if at, ok := s.queue.NextBackoff(); ok {
			wait = max(at.Sub(s.cfg.Now()), time.Millisecond)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-s.inbox.kick:
		case <-timer.C:
		case <-flush.C:
			s.queue.Flush(s.cfg.Now())
		}
	}
}

// scheduleOne decides for one pod and hands the binding or the failure
// report to the workers.
func (s *Scheduler) scheduleOne(ctx context.Context, key string) {
	now := s.cfg.Now()
	pod := s.pending[key]
	if pod == nil || s.cluster.Assumed(key) {
		s.queue.Done(key, Scheduled, now)
		return
	}
	d := s.cluster.Schedule(pod)
	if d.Node == "" {
		s.queue.Done(key, Unschedulable, now)
		s.cfg.Log.Debug("pod unschedulable", "pod", key, "reason", d.Message)
		s.submit(ctx, job{pod: pod, message: d.Message})
		return
	}
	s.cluster.Assume(pod, d.Node)
	s.submit(ctx, job{pod: pod, node: d.Node})
}

func (s *Scheduler) submit(ctx context.Context, j job) {
	select {
	case s.jobs <- j:
	case <-ctx.Done():
	}
}

// inbox carries events to the owner goroutine without ever blocking the
// informers or the workers.
type inbox struct {
	mu     sync.Mutex
	events []event
	kick   chan struct{}
}

func (b *inbox) push(e event) {
	b.mu.Lock()
	b.events = append(b.events, e)
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

func (b *inbox) take(into []event) []event {
	b.mu.Lock()
	into = append(into[:0], b.events...)
	clear(b.events)
	b.events = b.events[:0]
	b.mu.Unlock()
	return into
}
