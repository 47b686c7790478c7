package scheduler

import (
	"container/heap"
	"time"
)

// Outcome is how an attempt to schedule a pod ended.
type Outcome int

const (
	// Scheduled: the pod was bound; the queue forgets it.
	Scheduled Outcome = iota
	// Unschedulable: no node fits; the pod waits for the cluster to change
	// (and at least its back-off), or for the unschedulable timeout.
	Unschedulable
	// Failed: an error (say, the binding write failed); the pod is retried
	// after its back-off.
	Failed
)

// Queue orders the pods waiting to be scheduled, as kube-scheduler's
// scheduling queue does: an active heap (higher priority first, then
// first come), a back-off heap of pods that failed recently, and a set of
// unschedulable pods moved back when the cluster changes. It reads no
// clock: every call that needs the time takes now.
type Queue struct {
	// InitialBackoff is the wait after a pod's first failed attempt; it
	// doubles with each further attempt up to MaxBackoff.
	InitialBackoff, MaxBackoff time.Duration
	// UnschedulableTimeout moves an unschedulable pod back to the active
	// queue even when nothing in the cluster changed.
	UnschedulableTimeout time.Duration

	items         map[string]*queued
	active        activeHeap
	backoff       backoffHeap
	unschedulable map[string]*queued
	seq           uint64
	moveCycle     uint64 // bumped by MoveAll
}

type queued struct {
	key      string
	priority int32
	seq      uint64
	attempts int
	readyAt  time.Time // end of the back-off
	since    time.Time // when it became unschedulable
	state    int
	index    int    // in its heap
	cycle    uint64 // moveCycle when it was popped
	changed  bool   // the pod changed while in flight
}

const (
	inActive = iota
	inBackoff
	inUnschedulable
	inFlight
)

// NewQueue returns an empty queue with kube-scheduler's default timings:
// 1s back-off doubling to 10s, unschedulable pods retried after 5 minutes
// at the latest.
func NewQueue() *Queue {
	return &Queue{InitialBackoff: time.Second, MaxBackoff: 10 * time.Second, UnschedulableTimeout: 5 * time.Minute,
		items: map[string]*queued{}, unschedulable: map[string]*queued{}}
}

// Add queues a pod, or tells the queue that a waiting pod changed in a
// way that may make it schedulable: an unschedulable pod then moves on to
// back-off or active. A pod being scheduled stays so.
func (q *Queue) Add(key string, priority int32, now time.Time) {
	it := q.items[key]
	if it == nil {
		q.seq++
		it = &queued{key: key, priority: priority, seq: q.seq}
		q.items[key] = it
		q.toActive(it)
		return
	}
	it.priority = priority
	switch it.state {
	case inActive:
		heap.Fix(&q.active, it.index)
	case inFlight:
		it.changed = true
	case inUnschedulable:
		delete(q.unschedulable, key)
		q.release(it, now)
	}
}

// Remove forgets a pod (deleted, or bound by someone else).
func (q *Queue) Remove(key string) {
	it := q.items[key]
	if it == nil {
		return
	}
	delete(q.items, key)
	switch it.state {
	case inActive:
		heap.Remove(&q.active, it.index)
	case inBackoff:
		heap.Remove(&q.backoff, it.index)
	case inUnschedulable:
		delete(q.unschedulable, key)
	}
}

// Pop returns the next pod to schedule, moving the pods whose back-off
// ended to the active heap first. The pod is in flight until Done.
func (q *Queue) Pop(now time.Time) (string, bool) {
	for q.backoff.Len() > 0 && !q.backoff[0].readyAt.After(now) {
		q.toActive(heap.Pop(&q.backoff).(*queued))
	}
	if q.active.Len() == 0 {
		return "", false
	}
	it := heap.Pop(&q.active).(*queued)
	it.state = inFlight
	it.cycle = q.moveCycle
	it.changed = false
	return it.key, true
}

// Done ends the attempt Pop started.
func (q *Queue) Done(key string, o Outcome, now time.Time) {
	it := q.items[key]
	if it == nil || it.state != inFlight {
		return
	}
	if o == Scheduled {
		delete(q.items, key)
		return
	}
	it.attempts++
	it.readyAt = now.Add(q.backoffFor(it.attempts))
	// A cluster change while the pod was in flight may be what it
	// needed: retry after the back-off rather than wait for another.
	if o == Failed || it.cycle != q.moveCycle || it.changed {
		it.state = inBackoff
		heap.Push(&q.backoff, it)
		return
	}
	it.state = inUnschedulable
	it.since = now
	q.unschedulable[key] = it
}

// MoveAll moves every unschedulable pod on, after a change in the cluster
// (a node added or changed, a pod gone, a volume bound).
func (q *Queue) MoveAll(now time.Time) {
	q.moveCycle++
	for key, it := range q.unschedulable {
		delete(q.unschedulable, key)
		q.release(it, now)
	}
}

// Flush moves on the pods unschedulable for longer than
// UnschedulableTimeout.
func (q *Queue) Flush(now time.Time) {
	for key, it := range q.unschedulable {
		if now.Sub(it.since) >= q.UnschedulableTimeout {
			delete(q.unschedulable, key)
			q.release(it, now)
		}
	}
}

// NextBackoff is when the first back-off ends; false when none waits.
func (q *Queue) NextBackoff() (time.Time, bool) {
	if q.backoff.Len() == 0 {
		return time.Time{}, false
	}
	return q.backoff[0].readyAt, true
}

// Len counts the pods queued in any state.
func (q *Queue) Len() int { return len(q.items) }

// Active counts the pods ready to be popped (not counting back-offs that
// ended since the last Pop).
func (q *Queue) Active() int { return q.active.Len() }

// Pending counts the pods waiting in back-off and unschedulable.
func (q *Queue) Pending() (backoff, unschedulable int) {
	return q.backoff.Len(), len(q.unschedulable)
}

func (q *Queue) release(it *queued, now time.Time) {
	if it.readyAt.After(now) {
		it.state = inBackoff
		heap.Push(&q.backoff, it)
		return
	}
	q.toActive(it)
}

func (q *Queue) toActive(it *queued) {
	it.state = inActive
	heap.Push(&q.active, it)
}

func (q *Queue) backoffFor(attempts int) time.Duration {
	d := q.InitialBackoff
	for i := 1; i < attempts && d < q.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, q.MaxBackoff)
}

type activeHeap []*queued

func (h activeHeap) Len() int { return len(h) }
func (h activeHeap) Less(i, j int) bool {
	if h[i].priority != h[j].priority {
		return h[i].priority > h[j].priority
	}
	return h[i].seq < h[j].seq
}
func (h activeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i]; h[i].index = i; h[j].index = j }
func (h *activeHeap) Push(x any)   { it := x.(*queued); it.index = len(*h); *h = append(*h, it) }
func (h *activeHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return it
}

type backoffHeap []*queued

func (h backoffHeap) Len() int           { return len(h) }
func (h backoffHeap) Less(i, j int) bool { return h[i].readyAt.Before(h[j].readyAt) }
func (h backoffHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i]; h[i].index = i; h[j].index = j }
func (h *backoffHeap) Push(x any)        { it := x.(*queued); it.index = len(*h); *h = append(*h, it) }
func (h *backoffHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return it
}
