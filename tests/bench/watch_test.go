package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// watchWait bounds the wait for one watch event.
const watchWait = 30 * time.Second

// arrival is an ADDED event and when the client decoded it.
type arrival struct {
	name string
	at   time.Time
}

// watchResult is what watchLatency measured.
type watchResult struct {
	// afterReturn is, per create, the time from the create returning to its
	// event arriving; an event that was there first counts as zero.
	afterReturn result
	// afterSend is, per create, the time from the create being sent to its
	// event arriving: how long a write takes to reach a watcher.
	afterSend result
	// early is how many events arrived before their create returned.
	early int
}

// watchLatency watches ns, then creates n ConfigMaps one after the other,
// each once the previous one's ADDED event arrived, and times the events.
func watchLatency(ctx context.Context, cs *kubernetes.Clientset, ns string, n int) (watchResult, error) {
	cms := cs.CoreV1().ConfigMaps(ns)
	l, err := cms.List(ctx, metav1.ListOptions{})
	if err != nil {
		return watchResult{}, fmt.Errorf("list %s: %w", ns, err)
	}
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: l.ResourceVersion})
	if err != nil {
		return watchResult{}, fmt.Errorf("watch %s: %w", ns, err)
	}
	arrived := make(chan arrival, n)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(arrived)
		for ev := range w.ResultChan() {
			cm, ok := ev.Object.(*corev1.ConfigMap)
			if ev.Type != watch.Added || !ok {
				continue
			}
			select {
			case arrived <- arrival{cm.Name, time.Now()}:
			case <-ctx.Done():
				return
			}
		}
	}()
	defer func() { w.Stop(); <-done }()

	start := time.Now()
	var wr watchResult
	afterReturn := make([]time.Duration, 0, n)
	afterSend := make([]time.Duration, 0, n)
	for i := range n {
		name := cmName(int64(i))
		sent := time.Now()
		if _, err := cms.Create(ctx, configMap(ns, name), metav1.CreateOptions{}); err != nil {
			return watchResult{}, fmt.Errorf("create %s/%s: %w", ns, name, err)
		}
		returned := time.Now()
		select {
		case a, ok := <-arrived:
			if !ok {
				return watchResult{}, fmt.Errorf("watch %s ended after %d events", ns, i)
			}
			if a.name != name {
				return watchResult{}, fmt.Errorf("watch %s: event for %s, want %s", ns, a.name, name)
			}
			d := a.at.Sub(returned)
			if d <= 0 {
				wr.early++
			}
			afterReturn = append(afterReturn, max(d, 0))
			afterSend = append(afterSend, a.at.Sub(sent))
		case <-time.After(watchWait):
			return watchResult{}, fmt.Errorf("watch %s: no event for %s within %s", ns, name, watchWait)
		case <-ctx.Done():
			return watchResult{}, errors.Join(fmt.Errorf("watch %s", ns), ctx.Err())
		}
	}
	wall := time.Since(start)
	slices.Sort(afterReturn)
	slices.Sort(afterSend)
	wr.afterReturn = result{wall: wall, lat: afterReturn}
	wr.afterSend = result{wall: wall, lat: afterSend}
	return wr, nil
}
