package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// testTimeout bounds waits that only a bug can make long.
const testTimeout = 20 * time.Second

func newTestStore(t *testing.T, edit func(*Config)) *Store {
	t.Helper()
	cfg := DefaultConfig(filepath.Join(t.TempDir(), "state", "store.db"))
	if edit != nil {
		edit(&cfg)
	}
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// val is an Op.Value that stores s whatever the revision.
func val(s string) func(int64) ([]byte, error) {
	return func(int64) ([]byte, error) { return []byte(s), nil }
}

// revVal stores s followed by the revision, like an object carrying its
// resourceVersion.
func revVal(s string) func(int64) ([]byte, error) {
	return func(rev int64) ([]byte, error) { return fmt.Appendf(nil, "%s@%d", s, rev), nil }
}

func create(bucket, key, value string) Op {
	return Op{Kind: Create, Bucket: bucket, Key: key, Value: val(value)}
}

func mustCommit(t *testing.T, s *Store, ops ...Op) int64 {
	t.Helper()
	rev, err := s.Commit(context.Background(), ops...)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return rev
}

// gate makes the writer wait inside a transaction: the returned op's Value
// blocks until release is called. entered is closed once the writer is in.
type gate struct {
	entered chan struct{}
	release chan struct{}
}

func newGate() *gate {
	return &gate{entered: make(chan struct{}), release: make(chan struct{})}
}

func (g *gate) op(bucket, key string) Op {
	return Op{Kind: Create, Bucket: bucket, Key: key, Value: func(int64) ([]byte, error) {
		close(g.entered)
		<-g.release
		return []byte("gate"), nil
	}}
}

// blockWriter commits the gate's op in the background and returns once the
// writer is held inside it; the channel yields that commit's outcome.
func blockWriter(t *testing.T, s *Store, g *gate) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := s.Commit(context.Background(), g.op("gate", "held"))
		done <- err
	}()
	select {
	case <-g.entered:
	case <-time.After(testTimeout):
		t.Fatal("writer never entered the gate")
	}
	return done
}

// waitQueued waits until n commits sit in the writer's queue.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for len(s.reqs) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d commits queued, want %d", len(s.reqs), n)
		}
		runtime.Gosched()
	}
}

// next receives one event or fails.
func next(t *testing.T, w *Watcher) Event {
	t.Helper()
	select {
	case ev, ok := <-w.Events():
		if !ok {
			t.Fatalf("watch closed early: %v", w.Err())
		}
		return ev
	case <-time.After(testTimeout):
		t.Fatal("no event")
	}
	return Event{}
}

// waitClosed drains w until its channel closes and returns Err.
func waitClosed(t *testing.T, w *Watcher) error {
	t.Helper()
	timeout := time.After(testTimeout)
	for {
		select {
		case _, ok := <-w.Events():
			if !ok {
				return w.Err()
			}
		case <-timeout:
			t.Fatal("watch never closed")
		}
	}
}

func wantErrIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want %v", err, target)
	}
}
