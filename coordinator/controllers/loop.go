package controllers

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// maxRetries bounds how often a failing key is retried with backoff before
// it waits for the next event or resync.
const maxRetries = 15

// byController indexes objects by their controller: "ns/Kind/name".
const byController = "controller"

func controllerIndex(obj any) ([]string, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, nil
	}
	ref := metav1.GetControllerOfNoCopy(m)
	if ref == nil {
		return nil, nil
	}
	return []string{m.GetNamespace() + "/" + ref.Kind + "/" + ref.Name}, nil
}

// loop is a rate-limited workqueue of namespace/name keys and the workers
// that sync them.
type loop struct {
	name  string
	log   *slog.Logger
	queue workqueue.TypedRateLimitingInterface[string]
	// sync brings one key in line and may ask to be called again later.
	sync func(ctx context.Context, key string) (time.Duration, error)
}

func newLoop(name string, log *slog.Logger, sync func(context.Context, string) (time.Duration, error)) *loop {
	q := workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: name})
	return &loop{name: name, log: log, queue: q, sync: sync}
}

// enqueue adds the key of obj (or of a deleted object's tombstone).
func (l *loop) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("%s: key of %T: %w", l.name, obj, err))
		return
	}
	l.queue.Add(key)
}

// run waits for the caches, then syncs keys with workers goroutines until
// ctx ends.
func (l *loop) run(ctx context.Context, workers int, synced ...cache.InformerSynced) error {
	defer l.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("%s: caches did not sync", l.name)
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for l.next(ctx) {
			}
		}()
	}
	<-ctx.Done()
	l.queue.ShutDown()
	wg.Wait()
	return nil
}

func (l *loop) next(ctx context.Context) bool {
	key, quit := l.queue.Get()
	if quit {
		return false
	}
	defer l.queue.Done(key)
	after, err := l.sync(ctx, key)
	switch {
	case err != nil && ctx.Err() != nil:
		l.queue.Forget(key)
	case err != nil && l.queue.NumRequeues(key) < maxRetries:
		l.log.Debug("sync failed, retrying", "controller", l.name, "key", key, "err", err)
		l.queue.AddRateLimited(key)
	case err != nil:
		l.log.Warn("sync failed, giving up until the next change", "controller", l.name, "key", key, "err", err)
		l.queue.Forget(key)
	default:
		l.queue.Forget(key)
		if after > 0 {
			l.queue.AddAfter(key, after)
		}
	}
	return true
}
