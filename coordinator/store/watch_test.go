package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
)

// TestWatch_handOverUnderWrites starts watchers at several points while
// writers are busy and checks that each sees every revision after its start
// exactly once, in order: the replay and the live stream meet without a gap
// or a duplicate.
func TestWatch_handOverUnderWrites(t *testing.T) {
	s := newTestStore(t, func(c *Config) { c.WatchBuffer = 1 << 20 })
	const writers, each = 8, 150
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := s.Commit(context.Background(), create("pods", fmt.Sprintf("w%d/%d", w, i), "x")); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	type started struct {
		w     *Watcher
		after int64
	}
	var watchers []started
	for i := range 12 {
		// Start points: the beginning, "now", and wherever the writers are.
		after := s.Revision()
		switch i % 3 {
		case 0:
			after = 1
		case 1:
			after = 0
		}
		w, err := s.Watch(context.Background(), "", "", after)
		if err != nil {
			t.Fatalf("Watch(%d): %v", after, err)
		}
		defer w.Stop()
		watchers = append(watchers, started{w, after})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Commit: %v", err)
	}
	final := s.Revision()
	if final != writers*each+1 {
		t.Fatalf("store at %d, want %d", final, writers*each+1)
	}
	for i, st := range watchers {
		first := next(t, st.w)
		if st.after != 0 && first.Rev != st.after+1 {
			t.Fatalf("watcher %d from %d started at %d", i, st.after, first.Rev)
		}
		prev := first.Rev
		for prev < final {
			ev := next(t, st.w)
			if ev.Rev != prev+1 {
				t.Fatalf("watcher %d: revision %d after %d", i, ev.Rev, prev)
			}
			prev = ev.Rev
		}
	}
}

func TestWatch_filters(t *testing.T) {
	writes := []Op{
		create("pods", "ns1/a", "x"),
		create("pods", "ns2/b", "x"),
		create("deployments", "ns1/c", "x"),
		create("pods", "ns10/d", "x"),
	}
	tests := []struct {
		bucket, prefix string
		want           []string
	}{
		{"", "", []string{"pods/ns1/a", "pods/ns2/b", "deployments/ns1/c", "pods/ns10/d"}},
		{"pods", "", []string{"pods/ns1/a", "pods/ns2/b", "pods/ns10/d"}},
		{"pods", "ns1/", []string{"pods/ns1/a"}},
		{"", "ns1/", []string{"pods/ns1/a", "deployments/ns1/c"}},
		{"deployments", "ns2/", nil},
		{"nodes", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.bucket+"/"+tt.prefix, func(t *testing.T) {
			s := newTestStore(t, nil)
			live, err := s.Watch(context.Background(), tt.bucket, tt.prefix, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, op := range writes {
				mustCommit(t, s, op)
			}
			// A marker every watch sees last proves nothing else came.
			end := create(tt.bucket, tt.prefix+"zz-end", "x")
			if tt.bucket == "" {
				end.Bucket = "pods"
			}
			mustCommit(t, s, end)
			replay, err := s.Watch(context.Background(), tt.bucket, tt.prefix, 1)
			if err != nil {
				t.Fatal(err)
			}
			for name, w := range map[string]*Watcher{"live": live, "replay": replay} {
				var got []string
				for {
					ev := next(t, w)
					if ev.Key == end.Key {
						break
					}
					got = append(got, ev.Bucket+"/"+ev.Key)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("%s watch got %v, want %v", name, got, tt.want)
				}
				w.Stop()
			}
		})
	}
}

func TestWatch_multiOpCommitEvents(t *testing.T) {
	s := newTestStore(t, nil)
	mustCommit(t, s, create("pods", "a", "a1"), create("pods", "b", "b1"))
	w, err := s.Watch(context.Background(), "pods", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	mustCommit(t, s,
		Op{Kind: Update, Bucket: "pods", Key: "a", Value: val("a2")},
		Op{Kind: Delete, Bucket: "pods", Key: "b"},
		create("pods", "c", "c1"),
	)
	want := []Event{
		{Type: Put, Rev: 3, Bucket: "pods", Key: "a", Value: []byte("a2"), Prev: []byte("a1"), CreateRevision: 2, PrevRevision: 2},
		{Type: Removed, Rev: 3, Bucket: "pods", Key: "b", Prev: []byte("b1"), CreateRevision: 2, PrevRevision: 2},
		{Type: Put, Rev: 3, Bucket: "pods", Key: "c", Value: []byte("c1"), CreateRevision: 3},
	}
	for i, exp := range want {
		if ev := next(t, w); !reflect.DeepEqual(ev, exp) {
			t.Fatalf("event %d = %+v, want %+v", i, ev, exp)
		}
	}
}

func TestWatch_compaction(t *testing.T) {
	s := newTestStore(t, func(c *Config) { c.ChangelogRetention = 5 })
	for i := range 20 {
		mustCommit(t, s, create("pods", fmt.Sprint(i), "x"))
	}
	if s.Revision() != 21 || s.Compacted() != 16 {
		t.Fatalf("revision %d compacted %d, want 21 and 16", s.Revision(), s.Compacted())
	}
	if _, err := s.Watch(context.Background(), "", "", 15); !errors.Is(err, ErrCompacted) {
		t.Fatalf("watch before the compacted revision: %v", err)
	}
	w, err := s.Watch(context.Background(), "", "", 16)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for rev := int64(17); rev <= 21; rev++ {
		if ev := next(t, w); ev.Rev != rev {
			t.Fatalf("replayed %d, want %d", ev.Rev, rev)
		}
	}
	if n := changelogLen(t, s); n != 5 {
		t.Fatalf("changelog holds %d records, want 5", n)
	}
}

// TestWatch_compactionIsChunked lowers the retention of a long changelog and
// checks that each transaction deletes at most one chunk.
func TestWatch_compactionIsChunked(t *testing.T) {
	s := newTestStore(t, func(c *Config) { c.MaxBatch = 1 })
	const n = 2500
	for i := range n / 100 {
		ops := make([]Op, 0, 100)
		for j := range 100 {
			ops = append(ops, create("pods", fmt.Sprintf("%d-%d", i, j), "x"))
		}
		for _, op := range ops { // one revision each
			mustCommit(t, s, op)
		}
	}
	path := s.cfg.Path
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig(path)
	cfg.MaxBatch, cfg.ChangelogRetention = 1, 10
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	chunk := s.compactChunk()
	for want := 1 + chunk; ; want += chunk {
		mustCommit(t, s, create("nodes", fmt.Sprint(want), "x"))
		limit := s.Revision() - 10
		if want >= limit {
			if s.Compacted() != limit {
				t.Fatalf("compacted %d, want %d", s.Compacted(), limit)
			}
			break
		}
		if s.Compacted() != want {
			t.Fatalf("compacted %d after one transaction, want %d", s.Compacted(), want)
		}
	}
	if got := changelogLen(t, s); got != 10 {
		t.Fatalf("changelog holds %d records, want 10", got)
	}
}

func changelogLen(t *testing.T, s *Store) int {
	t.Helper()
	tx, err := s.db.Begin(false)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	return tx.Bucket([]byte(changelogBucket)).Stats().KeyN
}

func TestWatch_slowWatcherIsDropped(t *testing.T) {
	s := newTestStore(t, func(c *Config) { c.WatchBuffer = 4 })
	slow, err := s.Watch(context.Background(), "", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	// The writer must not wait for a watcher that never reads.
	for i := range 10 {
		mustCommit(t, s, create("pods", fmt.Sprint(i), "x"))
	}
	got := 0
	for range slow.Events() {
		got++
	}
	wantErrIs(t, slow.Err(), ErrTooSlow)
	if got > 5 {
		t.Fatalf("dropped watcher delivered %d events", got)
	}
	// It can resume from where it stopped.
	again, err := s.Watch(context.Background(), "", "", 1+int64(got))
	if err != nil {
		t.Fatal(err)
	}
	defer again.Stop()
	if ev := next(t, again); ev.Rev != 2+int64(got) {
		t.Fatalf("resumed at %d, want %d", ev.Rev, 2+got)
	}
}

func TestWatch_ends(t *testing.T) {
	tests := []struct {
		name    string
		end     func(s *Store, w *Watcher, cancel context.CancelFunc)
		wantErr error
	}{
		{"stop", func(_ *Store, w *Watcher, _ context.CancelFunc) { w.Stop(); w.Stop() }, nil},
		{"context", func(_ *Store, _ *Watcher, cancel context.CancelFunc) { cancel() }, context.Canceled},
		{"close", func(s *Store, _ *Watcher, _ context.CancelFunc) { s.Close() }, ErrClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t, nil)
			mustCommit(t, s, create("pods", "a", "x"))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			w, err := s.Watch(ctx, "", "", 1)
			if err != nil {
				t.Fatal(err)
			}
			if w.Err() != nil {
				t.Fatalf("Err while running: %v", w.Err())
			}
			next(t, w)
			tt.end(s, w, cancel)
			if err := waitClosed(t, w); !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Err = %v, want %v", err, tt.wantErr)
			}
			w.Stop()
		})
	}
}

func TestWatch_badArguments(t *testing.T) {
	s := newTestStore(t, nil)
	for _, tc := range []struct {
		bucket string
		after  int64
	}{{"", -1}, {changelogBucket, 0}, {metaBucket, 1}} {
		if _, err := s.Watch(context.Background(), tc.bucket, "", tc.after); err == nil {
			t.Fatalf("Watch(%q, %d) accepted", tc.bucket, tc.after)
		}
	}
}
