package main

import (
	"context"
	"sync"
)

// background runs one piece of work at a time that can be stopped and
// started again: the API front and the store follower of a member that
// is not the coordinator, which make way while it is.
type background struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// runningLocked reports whether work is under way; the caller holds the
// lock.
func (b *background) runningLocked() bool { return b.cancel != nil }

// goLocked runs work until stop (or ctx ends); the caller holds the lock.
func (b *background) goLocked(ctx context.Context, work func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	b.cancel, b.done = cancel, done
	go func() {
		defer close(done)
		work(ctx)
	}()
}

// stop ends the work and returns once it has returned.
func (b *background) stop() {
	b.mu.Lock()
	cancel, done := b.cancel, b.done
	b.cancel, b.done = nil, nil
	b.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}
