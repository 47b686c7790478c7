package store

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestStore_snapshotOpensAsStore(t *testing.T) {
	s := newTestStore(t, func(c *Config) {
		c.Transformers = map[string]Transformer{"secrets": xorTransformer{}}
	})
	mustCommit(t, s, create("pods", "a", "x"), create("secrets", "s", "hidden"))
	mustCommit(t, s, Op{Kind: Update, Bucket: "pods", Key: "a", Value: val("y")})

	path := filepath.Join(t.TempDir(), "snap", "copy.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := s.SnapshotTo(f)
	if err != nil {
		t.Fatalf("SnapshotTo: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// Writes after the snapshot are not in it.
	mustCommit(t, s, create("pods", "later", "x"))
	if rev != 3 {
		t.Fatalf("snapshot at %d, want 3", rev)
	}

	cfg := DefaultConfig(path)
	cfg.Transformers = s.cfg.Transformers
	c, err := Open(cfg)
	if err != nil {
		t.Fatalf("open snapshot: %v", err)
	}
	defer c.Close()
	if c.Revision() != rev {
		t.Fatalf("copy at %d, want %d", c.Revision(), rev)
	}
	for _, bucket := range []string{"pods", "secrets"} {
		want, _, err := s.List(bucket, "")
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := c.List(bucket, "")
		if err != nil {
			t.Fatal(err)
		}
		if bucket == "pods" {
			want = want[:1] // without "later"
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s in the copy: %+v, want %+v", bucket, got, want)
		}
	}
	w, err := c.Watch(context.Background(), "", "", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for _, wantRev := range []int64{2, 2, 3} {
		if ev := next(t, w); ev.Rev != wantRev {
			t.Fatalf("copy's changelog replays %d, want %d", ev.Rev, wantRev)
		}
	}
}
