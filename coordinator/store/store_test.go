package store

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestStore_getAndList(t *testing.T) {
	s := newTestStore(t, nil)
	mustCommit(t, s,
		create("pods", "ns1/b", "b"),
		create("pods", "ns1/a", "a"),
		create("pods", "ns2/c", "c"),
		create("pods", "ns10/d", "d"),
		create("services", "ns1/s", "s"),
	)
	mustCommit(t, s, Op{Kind: Update, Bucket: "pods", Key: "ns1/b", Value: val("b2")})

	tests := []struct {
		bucket, prefix string
		want           []string // key=value
	}{
		{"pods", "", []string{"ns1/a=a", "ns1/b=b2", "ns10/d=d", "ns2/c=c"}},
		{"pods", "ns1/", []string{"ns1/a=a", "ns1/b=b2"}},
		{"pods", "ns1", []string{"ns1/a=a", "ns1/b=b2", "ns10/d=d"}},
		{"pods", "ns3/", nil},
		{"services", "", []string{"ns1/s=s"}},
		{"nodes", "", nil},
		{changelogBucket, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.bucket+"/"+tt.prefix, func(t *testing.T) {
			kvs, rev, err := s.List(tt.bucket, tt.prefix)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if rev != 3 {
				t.Fatalf("snapshot revision %d, want 3", rev)
			}
			var got []string
			for _, kv := range kvs {
				got = append(got, kv.Key+"="+string(kv.Value))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}

	kv, err := s.Get("pods", "ns1/b")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if want := (KV{Key: "ns1/b", Value: []byte("b2"), ModRevision: 3, CreateRevision: 2}); !reflect.DeepEqual(kv, want) {
		t.Fatalf("Get = %+v, want %+v", kv, want)
	}
	for _, bk := range [][2]string{{"pods", "ns1/zz"}, {"nodes", "x"}, {metaBucket, "revision"}} {
		if _, err := s.Get(bk[0], bk[1]); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get %s/%s: %v, want ErrNotFound", bk[0], bk[1], err)
		}
	}
}

func TestStore_valuesAreCopies(t *testing.T) {
	s := newTestStore(t, nil)
	mustCommit(t, s, create("pods", "a", "abc"))
	kv, err := s.Get("pods", "a")
	if err != nil {
		t.Fatal(err)
	}
	kv.Value[0] = 'X'
	again, err := s.Get("pods", "a")
	if err != nil || string(again.Value) != "abc" {
		t.Fatalf("stored value changed through a returned slice: %q, %v", again.Value, err)
	}
}

func TestStore_reopenKeepsState(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig(filepath.Join(dir, "s.db"))
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustCommit(t, s, create("pods", "a", "x"))
	mustCommit(t, s, Op{Kind: Update, Bucket: "pods", Key: "a", Value: val("y")})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Revision() != 3 || s.Compacted() != 1 {
		t.Fatalf("reopened at %d compacted %d, want 3 and 1", s.Revision(), s.Compacted())
	}
	kv, err := s.Get("pods", "a")
	if err != nil || string(kv.Value) != "y" || kv.ModRevision != 3 || kv.CreateRevision != 2 {
		t.Fatalf("pods/a = %+v, %v", kv, err)
	}
	if rev := mustCommit(t, s, create("pods", "b", "x")); rev != 4 {
		t.Fatalf("first commit after reopen at %d, want 4", rev)
	}
}

func TestStore_fileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	s, err := Open(DefaultConfig(filepath.Join(dir, "s.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for path, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, filepath.Join(dir, "s.db"): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Fatalf("%s has mode %v, want %v", path, fi.Mode(), want)
		}
	}
}

func TestStore_openRefusesOtherFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a bbolt file ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(DefaultConfig(path)); err == nil {
		s.Close()
		t.Fatal("Open accepted a file that is not a store")
	}
}

func TestConfig_validate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string // "" for valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"no path", func(c *Config) { c.Path = "" }, "path"},
		{"zero batch", func(c *Config) { c.MaxBatch = 0 }, "maxBatch"},
		{"zero retention", func(c *Config) { c.ChangelogRetention = 0 }, "changelogRetention"},
		{"zero watch buffer", func(c *Config) { c.WatchBuffer = 0 }, "watchBuffer"},
		{"transformer", func(c *Config) { c.Transformers = map[string]Transformer{"secrets": xorTransformer{}} }, ""},
		{"nil transformer", func(c *Config) { c.Transformers = map[string]Transformer{"secrets": nil} }, "nil transformer"},
		{"transformer on reserved bucket", func(c *Config) { c.Transformers = map[string]Transformer{metaBucket: xorTransformer{}} }, "reserved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig("/x/s.db")
			tt.edit(&cfg)
			err := cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate: %v, want mention of %q", err, tt.wantErr)
			}
			if _, err := Open(cfg); err == nil {
				t.Fatal("Open accepted an invalid config")
			}
		})
	}
}
