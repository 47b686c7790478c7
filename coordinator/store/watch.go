package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// replayChunk is how many changelog records one read transaction of a
// replay covers, so a long replay never holds a snapshot open for long.
const replayChunk = 256

// Watcher delivers the changes of a Watch in revision order. Events of one
// multi-op commit share a revision and come in the commit's op order.
type Watcher struct {
	s              *Store
	ctx            context.Context
	bucket, prefix string

	out    chan Event
	wake   chan struct{} // cap 1: live events were queued
	halt   chan struct{} // closed by stop
	once   sync.Once
	reason error         // why halt was closed; written before it is
	exited chan struct{} // closed when run returns, after err is set
	err    error

	mu      sync.Mutex
	queue   []change     // live changes not yet taken by run
	pending atomic.Int64 // live changes queued or in run's hands
}

// Watch streams every change with a revision above afterRev to keys of
// bucket ("" for every bucket) that start with prefix: first replayed from
// the changelog, then live. afterRev 0 means from the current revision on.
// A start before the compacted revision fails with ErrCompacted. The watch
// ends when ctx is done, on Stop, when the store closes, or when the
// watcher falls WatchBuffer events behind (ErrTooSlow); Err says which.
func (s *Store) Watch(ctx context.Context, bucket, prefix string, afterRev int64) (*Watcher, error) {
	if afterRev < 0 {
		return nil, fmt.Errorf("watch %s/%s: negative revision %d", bucket, prefix, afterRev)
	}
	if bucket != "" {
		if err := checkBucketName(bucket); err != nil {
			return nil, fmt.Errorf("watch %s/%s: %w", bucket, prefix, err)
		}
	}
	w := &Watcher{
		s: s, ctx: ctx, bucket: bucket, prefix: prefix,
		out:    make(chan Event),
		wake:   make(chan struct{}, 1),
		halt:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	// Register for live changes before reading the snapshot: whatever the
	// snapshot misses is then sure to arrive live.
	s.watchMu.Lock()
	if s.watchers == nil {
		s.watchMu.Unlock()
		return nil, ErrClosed
	}
	s.watchers[w] = struct{}{}
	s.watchWG.Add(1)
	s.watchMu.Unlock()

	var snapRev int64
	err := s.view(func(tx *bolt.Tx) error {
		meta := tx.Bucket([]byte(metaBucket))
		var err error
		if snapRev, err = metaInt(meta, metaRevision); err != nil {
			return err
		}
		compacted, err := metaInt(meta, metaCompacted)
		if err != nil {
			return err
		}
		if afterRev != 0 && afterRev < compacted {
			return fmt.Errorf("%w: revision %d is before the compacted revision %d", ErrCompacted, afterRev, compacted)
		}
		return nil
	})
	if err != nil {
		s.unregister(w)
		s.watchWG.Done()
		return nil, fmt.Errorf("watch %s/%s: %w", bucket, prefix, err)
	}
	if afterRev == 0 {
		afterRev = snapRev
	}
	go w.run(afterRev, snapRev)
	return w, nil
}

// Events returns the channel of changes; it is closed when the watch ends.
func (w *Watcher) Events() <-chan Event { return w.out }

// Err says why Events was closed: the context's error, ErrClosed,
// ErrTooSlow, ErrCompacted (the changelog was compacted under a long
// replay), a read error, or nil after Stop. It is nil while the watch runs.
func (w *Watcher) Err() error {
	select {
	case <-w.exited:
		return w.err
	default:
		return nil
	}
}

// Stop ends the watch and waits until Events is closed. It is idempotent.
func (w *Watcher) Stop() {
	w.stop(nil)
	<-w.exited
}

func (w *Watcher) stop(reason error) {
	w.once.Do(func() {
		w.reason = reason
		close(w.halt)
	})
}

// push queues the live changes that match the watch; it never blocks. It
// reports false when the watcher overflowed and was halted.
func (w *Watcher) push(changes []change) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, c := range changes {
		if matches(w.bucket, w.prefix, c.Bucket, c.Key) {
			n++
		}
	}
	if n == 0 {
		return true
	}
	if w.pending.Load()+int64(n) > int64(w.s.cfg.WatchBuffer) {
		w.stop(ErrTooSlow)
		return false
	}
	w.pending.Add(int64(n))
	for _, c := range changes {
		if matches(w.bucket, w.prefix, c.Bucket, c.Key) {
			w.queue = append(w.queue, c)
		}
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return true
}

// run replays (afterRev, snapRev] from the changelog and then delivers live
// changes above max(afterRev, snapRev).
func (w *Watcher) run(afterRev, snapRev int64) {
	err := w.replay(afterRev, snapRev)
	if err == nil {
		err = w.live(max(afterRev, snapRev))
	}
	w.s.unregister(w)
	w.err = err
	close(w.exited)
	close(w.out)
	w.s.watchWG.Done()
}

// errHalted is returned by send when the watch is told to end.
var errHalted = errors.New("watch halted")

func (w *Watcher) send(ev Event) error {
	select {
	case w.out <- ev:
		return nil
	case <-w.halt:
		return errHalted
	case <-w.ctx.Done():
		return w.ctx.Err()
	}
}

// finish maps errHalted to the reason the watch was halted.
func (w *Watcher) finish(err error) error {
	if errors.Is(err, errHalted) {
		return w.reason
	}
	return err
}

func (w *Watcher) replay(afterRev, snapRev int64) error {
	next := afterRev + 1
	for next <= snapRev {
		select {
		case <-w.halt:
			return w.reason
		case <-w.ctx.Done():
			return w.ctx.Err()
		default:
		}
		var evs []Event
		err := w.s.view(func(tx *bolt.Tx) error {
			c := tx.Bucket([]byte(changelogBucket)).Cursor()
			n := 0
			for k, v := c.Seek(revKey(next)); k != nil && n < replayChunk && next <= snapRev; k, v = c.Next() {
				rev, err := keyRev(k)
				if err != nil {
					return err
				}
				if rev != next {
					return fmt.Errorf("%w: revision %d left the changelog during the replay", ErrCompacted, next)
				}
				changes, err := decodeRecord(rev, v)
				if err != nil {
					return err
				}
				for _, ch := range changes {
					if !matches(w.bucket, w.prefix, ch.Bucket, ch.Key) {
						continue
					}
					ev, err := w.s.toEvent(ch)
					if err != nil {
						return err
					}
					evs = append(evs, ev)
				}
				next++
				n++
			}
			if n == 0 {
				return fmt.Errorf("%w: revision %d left the changelog during the replay", ErrCompacted, next)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("watch replay: %w", err)
		}
		for _, ev := range evs {
			if err := w.send(ev); err != nil {
				return w.finish(err)
			}
		}
	}
	return nil
}

func (w *Watcher) live(skipTo int64) error {
	for {
		w.mu.Lock()
		q := w.queue
		w.queue = nil
		w.mu.Unlock()
		for _, ch := range q {
			if ch.Rev > skipTo {
				ev, err := w.s.toEvent(ch)
				if err != nil {
					return fmt.Errorf("watch: %w", err)
				}
				if err := w.send(ev); err != nil {
					return w.finish(err)
				}
			}
			w.pending.Add(-1)
		}
		if len(q) > 0 {
			continue
		}
		select {
		case <-w.wake:
		case <-w.halt:
			return w.reason
		case <-w.ctx.Done():
			return w.ctx.Err()
		}
	}
}

// toEvent opens a change for a watcher; the event owns its bytes.
func (s *Store) toEvent(c change) (Event, error) {
	ev := Event{Type: c.Type, Rev: c.Rev, Bucket: c.Bucket, Key: c.Key}
	if c.Value != nil {
		_, createRev, payload, err := header(c.Value)
		if err != nil {
			return Event{}, err
		}
		ev.CreateRevision = createRev
		if ev.Value, err = s.openValue(c.Bucket, payload); err != nil {
			return Event{}, err
		}
	}
	if c.Prev != nil {
		modRev, createRev, payload, err := header(c.Prev)
		if err != nil {
			return Event{}, err
		}
		ev.PrevRevision = modRev
		if c.Type == Removed {
			ev.CreateRevision = createRev
		}
		if ev.Prev, err = s.openValue(c.Bucket, payload); err != nil {
			return Event{}, err
		}
	}
	return ev, nil
}

// publish hands the records the writer just committed (at revisions
// base+1, base+2, ...) to every registered watcher.
func (s *Store) publish(base int64, records [][]byte) {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	if len(s.watchers) == 0 {
		return
	}
	var all []change
	for i, rec := range records {
		changes, err := decodeRecord(base+1+int64(i), rec)
		if err != nil {
			// Only a bug here can make the writer's own record unreadable;
			// end the watches rather than let them skip a revision.
			for w := range s.watchers {
				w.stop(fmt.Errorf("watch: %w", err))
			}
			return
		}
		all = append(all, changes...)
	}
	for w := range s.watchers {
		if !w.push(all) {
			delete(s.watchers, w)
		}
	}
}

func (s *Store) unregister(w *Watcher) {
	s.watchMu.Lock()
	delete(s.watchers, w)
	s.watchMu.Unlock()
}

// haltWatchers ends every watch with err and refuses new ones.
func (s *Store) haltWatchers(err error) {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	for w := range s.watchers {
		w.stop(err)
	}
	s.watchers = nil
}
