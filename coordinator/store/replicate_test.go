package store

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
)

// sameContents fails unless a and b hold the same keys and values in the
// given buckets, at the same revision.
func sameContents(t *testing.T, a, b *Store, buckets ...string) {
	t.Helper()
	if a.Revision() != b.Revision() {
		t.Fatalf("revisions %d and %d", a.Revision(), b.Revision())
	}
	for _, bucket := range buckets {
		wa, _, err := a.List(bucket, "")
		if err != nil {
			t.Fatal(err)
		}
		wb, _, err := b.List(bucket, "")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(wa, wb) {
			t.Fatalf("bucket %s differs:\n%+v\n%+v", bucket, wa, wb)
		}
	}
}

func TestStore_followByRecords(t *testing.T) {
	leader := newTestStore(t, nil)
	follower := newTestStore(t, nil)
	mustCommit(t, leader, create("pods", "a", "1"), create("pods", "b", "1"))
	mustCommit(t, leader, Op{Kind: Update, Bucket: "pods", Key: "a", Value: val("2")})
	mustCommit(t, leader, Op{Kind: Delete, Bucket: "pods", Key: "b"}, create("nodes", "n", "x"))

	// A watcher on the follower sees the replicated changes.
	w, err := follower.Watch(context.Background(), "pods", "", follower.Revision())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	recs, err := leader.Records(follower.Revision(), 2)
	if err != nil || len(recs) != 2 {
		t.Fatalf("records: %d, %v", len(recs), err)
	}
	if _, err := follower.Apply(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	rest, err := leader.Records(follower.Revision(), 100)
	if err != nil || len(rest) != 1 {
		t.Fatalf("rest: %d, %v", len(rest), err)
	}
	if _, err := follower.Apply(context.Background(), rest); err != nil {
		t.Fatal(err)
	}
	sameContents(t, leader, follower, "pods", "nodes")
	if ev := next(t, w); ev.Key != "a" && ev.Key != "b" {
		t.Fatalf("follower watch: %+v", ev)
	}

	// Records must continue the follower's revisions, and a refused batch
	// writes nothing.
	mustCommit(t, leader, create("pods", "c", "1"))
	mustCommit(t, leader, create("pods", "d", "1"))
	more, _ := leader.Records(follower.Revision(), 10)
	before := follower.Revision()
	if _, err := follower.Apply(context.Background(), more[1:]); !errors.Is(err, ErrGap) {
		t.Fatalf("a gap: %v", err)
	}
	bad := []Record{more[0], {Rev: more[1].Rev, Data: []byte{1, 2, 3}}}
	if _, err := follower.Apply(context.Background(), bad); err == nil || follower.Revision() != before {
		t.Fatalf("a corrupt record: %v, revision %d", err, follower.Revision())
	}
	if kv, err := follower.Get("pods", "c"); err == nil {
		t.Fatalf("a refused batch wrote %+v", kv)
	}
	if _, err := follower.Apply(context.Background(), more); err != nil {
		t.Fatal(err)
	}
	sameContents(t, leader, follower, "pods", "nodes")

	// The follower's own commits continue from the copied revisions.
	if rev := mustCommit(t, follower, create("pods", "e", "1")); rev != leader.Revision()+1 {
		t.Fatalf("follower committed at %d", rev)
	}
}

func TestStore_recordsRefuseReservedBuckets(t *testing.T) {
	s := newTestStore(t, nil)
	rec := encodeRecord([]change{{Type: Put, Bucket: changelogBucket, Key: "x", Value: stamp(2, 2, []byte("v"))}})
	if _, err := s.Apply(context.Background(), []Record{{Rev: s.Revision() + 1, Data: rec}}); err == nil {
		t.Fatal("a record wrote into the changelog bucket")
	}
}

func TestStore_recordsAfterCompaction(t *testing.T) {
	leader := newTestStore(t, func(c *Config) { c.ChangelogRetention = 2 })
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		mustCommit(t, leader, create("pods", k, "1"))
	}
	if _, err := leader.Records(1, 10); !errors.Is(err, ErrCompacted) {
		t.Fatalf("records below the compaction: %v", err)
	}

	// A follower too far behind installs a snapshot, then follows.
	var snap bytes.Buffer
	if _, err := leader.SnapshotTo(&snap); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "follower.db")
	rev, err := InstallSnapshot(path, &snap)
	if err != nil || rev != leader.Revision() {
		t.Fatalf("install: %d, %v", rev, err)
	}
	f, err := Open(DefaultConfig(path))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mustCommit(t, leader, create("pods", "f", "1"))
	recs, err := leader.Records(f.Revision(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Apply(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	sameContents(t, leader, f, "pods")

	if _, err := InstallSnapshot(filepath.Join(t.TempDir(), "x.db"), bytes.NewReader([]byte("not bolt"))); err == nil {
		t.Fatal("garbage installed as a snapshot")
	}
}
