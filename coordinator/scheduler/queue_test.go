package scheduler

import (
	"slices"
	"testing"
	"time"
)

func popAll(q *Queue, now time.Time) []string {
	var out []string
	for {
		k, ok := q.Pop(now)
		if !ok {
			return out
		}
		out = append(out, k)
	}
}

func TestQueue_order(t *testing.T) {
	t0 := time.Unix(1000, 0)
	q := NewQueue()
	q.Add("low-1", 0, t0)
	q.Add("high", 100, t0)
	q.Add("low-2", 0, t0)
	q.Add("low-1", 0, t0) // already queued
	if got, want := popAll(q, t0), []string{"high", "low-1", "low-2"}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	if q.Len() != 3 {
		t.Fatalf("in flight pods are still queued: len %d", q.Len())
	}
	for _, k := range []string{"high", "low-1", "low-2"} {
		q.Done(k, Scheduled, t0)
	}
	if q.Len() != 0 {
		t.Fatalf("len %d after scheduling all", q.Len())
	}
}

func TestQueue_backoffDoubles(t *testing.T) {
	t0 := time.Unix(1000, 0)
	q := NewQueue()
	q.Add("p", 0, t0)
	now := t0
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second} {
		if _, ok := q.Pop(now); !ok {
			t.Fatalf("attempt %d: nothing to pop", i)
		}
		q.Done("p", Failed, now)
		at, ok := q.NextBackoff()
		if !ok || at.Sub(now) != want {
			t.Fatalf("attempt %d: back-off %v, want %v", i, at.Sub(now), want)
		}
		if _, ok := q.Pop(at.Add(-time.Millisecond)); ok {
			t.Fatalf("attempt %d: popped during back-off", i)
		}
		now = at
	}
}

func TestQueue_unschedulableWaitsForAChange(t *testing.T) {
	t0 := time.Unix(1000, 0)
	q := NewQueue()
	q.Add("p", 0, t0)
	q.Pop(t0)
	q.Done("p", Unschedulable, t0)
	if _, ok := q.Pop(t0.Add(time.Minute)); ok {
		t.Fatal("an unschedulable pod came back with nothing changed")
	}
	if b, u := q.Pending(); b != 0 || u != 1 {
		t.Fatalf("pending %d backing off, %d unschedulable", b, u)
	}
	// A change after its back-off ended: active at once.
	q.MoveAll(t0.Add(time.Minute))
	if k, ok := q.Pop(t0.Add(time.Minute)); !ok || k != "p" {
		t.Fatal("the pod did not come back after a cluster change")
	}
	// A change during its back-off: back once the back-off ends.
	now := t0.Add(2 * time.Minute)
	q.Done("p", Unschedulable, now)
	q.MoveAll(now)
	if _, ok := q.Pop(now); ok {
		t.Fatal("popped during back-off")
	}
	if k, ok := q.Pop(now.Add(2 * time.Second)); !ok || k != "p" {
		t.Fatal("the pod did not come back after its back-off")
	}
	// A change while the pod is in flight sends it to back-off, not to
	// wait for another change.
	now = now.Add(time.Minute)
	q.MoveAll(now)
	q.Done("p", Unschedulable, now)
	if b, u := q.Pending(); b != 1 || u != 0 {
		t.Fatalf("pending %d backing off, %d unschedulable; want the pod backing off", b, u)
	}
}

func TestQueue_flushAndUpdates(t *testing.T) {
	t0 := time.Unix(1000, 0)
	q := NewQueue()
	q.Add("p", 0, t0)
	q.Pop(t0)
	q.Done("p", Unschedulable, t0)
	q.Flush(t0.Add(time.Minute))
	if _, ok := q.Pop(t0.Add(time.Minute)); ok {
		t.Fatal("flushed too early")
	}
	q.Flush(t0.Add(5 * time.Minute))
	if k, ok := q.Pop(t0.Add(5 * time.Minute)); !ok || k != "p" {
		t.Fatal("not flushed after the unschedulable timeout")
	}
	// The pod itself changing moves it on.
	now := t0.Add(6 * time.Minute)
	q.Done("p", Unschedulable, now)
	q.Add("p", 0, now.Add(time.Hour))
	if k, ok := q.Pop(now.Add(time.Hour)); !ok || k != "p" {
		t.Fatal("an updated pod stayed unschedulable")
	}
	// Removed pods are gone wherever they were.
	q.Remove("p")
	q.Done("p", Unschedulable, now)
	q.Add("a", 0, now)
	q.Add("b", 0, now)
	q.Remove("a")
	if got := popAll(q, now); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("got %v", got)
	}
	q.Done("b", Failed, now)
	q.Remove("b")
	if q.Len() != 0 || q.backoff.Len() != 0 {
		t.Fatalf("len %d, backing off %d", q.Len(), q.backoff.Len())
	}
}
