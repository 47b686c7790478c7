package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

func TestCommit_preconditions(t *testing.T) {
	errValue := errors.New("cannot encode")
	// Every case starts from a store holding pods/a created at revision 2
	// and updated at revision 3.
	tests := []struct {
		name    string
		op      Op
		wantErr error // nil: must succeed
	}{
		{"create new key", create("pods", "b", "x"), nil},
		{"create in new bucket", create("services", "a", "x"), nil},
		{"create existing key", create("pods", "a", "x"), ErrExists},
		{"update existing key", Op{Kind: Update, Bucket: "pods", Key: "a", Value: val("y")}, nil},
		{"update at expected revision", Op{Kind: Update, Bucket: "pods", Key: "a", ExpectRev: 3, Value: val("y")}, nil},
		{"update at stale revision", Op{Kind: Update, Bucket: "pods", Key: "a", ExpectRev: 2, Value: val("y")}, ErrConflict},
		{"update missing key", Op{Kind: Update, Bucket: "pods", Key: "zz", Value: val("y")}, ErrNotFound},
		{"update in missing bucket", Op{Kind: Update, Bucket: "nodes", Key: "a", Value: val("y")}, ErrNotFound},
		{"delete existing key", Op{Kind: Delete, Bucket: "pods", Key: "a"}, nil},
		{"delete at expected revision", Op{Kind: Delete, Bucket: "pods", Key: "a", ExpectRev: 3}, nil},
		{"delete at stale revision", Op{Kind: Delete, Bucket: "pods", Key: "a", ExpectRev: 9}, ErrConflict},
		{"delete missing key", Op{Kind: Delete, Bucket: "pods", Key: "zz"}, ErrNotFound},
		{"value error", Op{Kind: Create, Bucket: "pods", Key: "b", Value: func(int64) ([]byte, error) { return nil, errValue }}, errValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t, nil)
			mustCommit(t, s, create("pods", "a", "v1"))
			mustCommit(t, s, Op{Kind: Update, Bucket: "pods", Key: "a", Value: val("v2")})
			rev, err := s.Commit(context.Background(), tt.op)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Commit: %v", err)
				}
				if rev != 4 || s.Revision() != 4 {
					t.Fatalf("rev %d, store at %d, want 4", rev, s.Revision())
				}
				return
			}
			wantErrIs(t, err, tt.wantErr)
			var opErr *OpError
			if !errors.As(err, &opErr) || opErr.Index != 0 || opErr.Key != tt.op.Key || opErr.Op != tt.op.Kind {
				t.Fatalf("error %#v, want *OpError for op 0", err)
			}
			if s.Revision() != 3 {
				t.Fatalf("failed commit moved the revision to %d", s.Revision())
			}
			kv, err := s.Get("pods", "a")
			if err != nil || string(kv.Value) != "v2" || kv.ModRevision != 3 || kv.CreateRevision != 2 {
				t.Fatalf("pods/a = %+v, %v; want v2 at 3 created at 2", kv, err)
			}
		})
	}
}

func TestCommit_invalidOps(t *testing.T) {
	tests := []struct {
		name  string
		ops   []Op
		index int // -1: not an *OpError
	}{
		{"no ops", nil, -1},
		{"empty bucket", []Op{create("", "a", "x")}, 0},
		{"reserved bucket", []Op{create("x", "a", "x"), create(changelogBucket, "a", "x")}, 1},
		{"empty key", []Op{create("pods", "", "x")}, 0},
		{"no value function", []Op{{Kind: Update, Bucket: "pods", Key: "a"}}, 0},
		{"unknown kind", []Op{{Kind: 9, Bucket: "pods", Key: "a"}}, 0},
		{"key twice", []Op{create("pods", "a", "x"), {Kind: Delete, Bucket: "pods", Key: "a"}}, 1},
	}
	s := newTestStore(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Commit(context.Background(), tt.ops...)
			if err == nil {
				t.Fatal("Commit succeeded")
			}
			var opErr *OpError
			if got := errors.As(err, &opErr); got != (tt.index >= 0) || (got && opErr.Index != tt.index) {
				t.Fatalf("error %v, want OpError at %d", err, tt.index)
			}
			if s.Revision() != 1 {
				t.Fatalf("revision moved to %d", s.Revision())
			}
		})
	}
}

func TestCommit_multiOpIsAtomic(t *testing.T) {
	s := newTestStore(t, nil)
	mustCommit(t, s, create("pods", "taken", "x"))
	called := false
	_, err := s.Commit(context.Background(),
		create("pods", "a", "x"),
		Op{Kind: Create, Bucket: "services", Key: "s", Value: func(int64) ([]byte, error) { called = true; return nil, nil }},
		create("pods", "taken", "y"),
	)
	var opErr *OpError
	if !errors.As(err, &opErr) || opErr.Index != 2 || !errors.Is(err, ErrExists) {
		t.Fatalf("error %v, want OpError at 2 wrapping ErrExists", err)
	}
	if called {
		t.Fatal("Value ran although a precondition failed")
	}
	if _, err := s.Get("pods", "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pods/a after a failed commit: %v", err)
	}
	if s.Revision() != 2 {
		t.Fatalf("revision %d, want 2", s.Revision())
	}

	rev := mustCommit(t, s,
		Op{Kind: Create, Bucket: "pods", Key: "a", Value: revVal("a")},
		Op{Kind: Create, Bucket: "services", Key: "s", Value: revVal("s")},
		Op{Kind: Delete, Bucket: "pods", Key: "taken"},
	)
	if rev != 3 || s.Revision() != 3 {
		t.Fatalf("multi-op commit at %d, store at %d, want one revision: 3", rev, s.Revision())
	}
	for _, bk := range [][2]string{{"pods", "a"}, {"services", "s"}} {
		kv, err := s.Get(bk[0], bk[1])
		if err != nil || kv.ModRevision != 3 || string(kv.Value) != bk[1]+"@3" {
			t.Fatalf("%s/%s = %+v, %v; want stamped at 3", bk[0], bk[1], kv, err)
		}
	}
}

func TestCommit_revisionsOnePerCommit(t *testing.T) {
	s := newTestStore(t, nil)
	if s.Revision() != 1 {
		t.Fatalf("new store at %d, want 1", s.Revision())
	}
	want := int64(2)
	for i := range 20 {
		if i%3 == 0 { // a failing commit takes no revision
			if _, err := s.Commit(context.Background(), Op{Kind: Delete, Bucket: "pods", Key: "none"}); err == nil {
				t.Fatal("delete of a missing key succeeded")
			}
		}
		rev := mustCommit(t, s, create("pods", fmt.Sprint(i), "x"), create("nodes", fmt.Sprint(i), "x"))
		if rev != want || s.Revision() != want {
			t.Fatalf("commit %d at %d (store %d), want %d", i, rev, s.Revision(), want)
		}
		want++
	}
}

// TestCommit_batchIsolatesFailures queues many commits behind a held writer
// so they land in one transaction, half of them doomed, and checks that
// every success is written at its own revision and no failure leaks.
func TestCommit_batchIsolatesFailures(t *testing.T) {
	s := newTestStore(t, nil)
	mustCommit(t, s, create("pods", "existing", "x"))
	g := newGate()
	held := blockWriter(t, s, g)

	const n = 64
	type outcome struct {
		rev int64
		err error
	}
	results := make([]outcome, n)
	var wg sync.WaitGroup
	for i := range n {
		var ops []Op
		switch i % 4 {
		case 0: // succeeds
			ops = []Op{create("pods", fmt.Sprintf("ok-%d", i), "x")}
		case 1: // both create the same key: exactly one of each pair wins
			ops = []Op{create("pods", fmt.Sprintf("pair-%d", i/8), "x")}
		case 2: // a good op then a conflicting one: nothing written
			ops = []Op{create("pods", fmt.Sprintf("lost-%d", i), "x"), create("pods", "existing", "x")}
		case 3: // conflicting revision
			ops = []Op{{Kind: Update, Bucket: "pods", Key: "existing", ExpectRev: 99, Value: val("y")}}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rev, err := s.Commit(context.Background(), ops...)
			results[i] = outcome{rev, err}
		}()
	}
	waitQueued(t, s, n)
	batchesBefore := s.batches.Load()
	close(g.release)
	if err := <-held; err != nil {
		t.Fatalf("held commit: %v", err)
	}
	wg.Wait()
	if got := s.batches.Load() - batchesBefore; got != 1 {
		t.Fatalf("%d write transactions for the queued commits, want 1", got)
	}

	seen := map[int64]bool{}
	wins := 0
	for i, r := range results {
		switch i % 4 {
		case 0:
			if r.err != nil {
				t.Fatalf("commit %d: %v", i, r.err)
			}
		case 1:
			if r.err != nil {
				wantErrIs(t, r.err, ErrExists)
				continue
			}
			wins++
		case 2:
			wantErrIs(t, r.err, ErrExists)
			if _, err := s.Get("pods", fmt.Sprintf("lost-%d", i)); !errors.Is(err, ErrNotFound) {
				t.Fatalf("op of a failed commit was written: %v", err)
			}
			continue
		case 3:
			wantErrIs(t, r.err, ErrConflict)
			continue
		}
		if seen[r.rev] {
			t.Fatalf("revision %d given twice", r.rev)
		}
		seen[r.rev] = true
	}
	if wins != n/8 {
		t.Fatalf("%d pair winners, want %d", wins, n/8)
	}
	// Successes hold exactly the revisions after the held commit.
	for rev := int64(4); rev <= s.Revision(); rev++ {
		if !seen[rev] {
			t.Fatalf("revision %d unaccounted for (store at %d)", rev, s.Revision())
		}
	}
	if int64(len(seen)) != s.Revision()-3 {
		t.Fatalf("%d successes, store at %d", len(seen), s.Revision())
	}
}

func TestCommit_concurrentWritersKeepRevisionsDense(t *testing.T) {
	s := newTestStore(t, nil)
	const writers, each = 32, 20
	var wg sync.WaitGroup
	revs := make(chan int64, writers*each)
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				// Every writer also fights over one shared key.
				op := create("pods", fmt.Sprintf("w%d-%d", w, i), "x")
				if i%5 == 0 {
					op = create("pods", fmt.Sprintf("shared-%d", i), "x")
				}
				rev, err := s.Commit(context.Background(), op)
				if err != nil {
					if !errors.Is(err, ErrExists) {
						errs <- err
					}
					continue
				}
				revs <- rev
			}
		}()
	}
	wg.Wait()
	close(revs)
	close(errs)
	for err := range errs {
		t.Fatalf("Commit: %v", err)
	}
	seen := map[int64]bool{}
	for rev := range revs {
		if seen[rev] {
			t.Fatalf("revision %d given twice", rev)
		}
		seen[rev] = true
	}
	if want := writers*(each-each/5) + each/5; len(seen) != want || s.Revision() != int64(want)+1 {
		t.Fatalf("%d successes, store at %d, want %d successes", len(seen), s.Revision(), want)
	}
}

func TestCommit_contextDone(t *testing.T) {
	s := newTestStore(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Commit(ctx, create("pods", "a", "x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("commit with a done context: %v", err)
	}

	// A commit whose context ends while it waits behind the writer is not
	// applied.
	g := newGate()
	held := blockWriter(t, s, g)
	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := s.Commit(ctx, create("pods", "late", "x"))
		done <- err
	}()
	waitQueued(t, s, 1)
	cancel()
	close(g.release)
	if err := <-held; err != nil {
		t.Fatalf("held commit: %v", err)
	}
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled queued commit: %v", err)
	}
	if _, err := s.Get("pods", "late"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("cancelled commit was written: %v", err)
	}
}

func TestStore_closeFailsPendingCommits(t *testing.T) {
	s := newTestStore(t, nil)
	g := newGate()
	held := blockWriter(t, s, g)
	const n = 5
	pending := make(chan error, n)
	for i := range n {
		go func() {
			_, err := s.Commit(context.Background(), create("pods", fmt.Sprint(i), "x"))
			pending <- err
		}()
	}
	waitQueued(t, s, n)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	<-s.closing
	close(g.release)
	if err := <-held; err != nil {
		t.Fatalf("commit in flight at Close: %v", err)
	}
	for range n {
		wantErrIs(t, <-pending, ErrClosed)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err := s.Commit(context.Background(), create("pods", "after", "x"))
	wantErrIs(t, err, ErrClosed)
	_, err = s.Get("gate", "held")
	wantErrIs(t, err, ErrClosed)
	_, _, err = s.List("pods", "")
	wantErrIs(t, err, ErrClosed)
	_, err = s.Watch(context.Background(), "", "", 0)
	wantErrIs(t, err, ErrClosed)
}
