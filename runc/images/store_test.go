package images

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// importNamed stores img under ref through an OCI layout import.
func importNamed(t *testing.T, s *Store, ref string, img v1.Image) {
	t.Helper()
	if _, err := s.Import(context.Background(), bytes.NewReader(ociLayoutTar(t, map[string]v1.Image{ref: img}))); err != nil {
		t.Fatal(err)
	}
}

func TestStore_references(t *testing.T) {
	s := newStore(t)
	img := image(t, layer(t, file("a", "b")))
	importNamed(t, s, "busybox:1.36", img)
	dg := digest(t, img)
	tests := []struct {
		ref, wantRef string
		wantErr      error
	}{
		{ref: "busybox:1.36", wantRef: "index.docker.io/library/busybox:1.36"},
		{ref: "docker.io/library/busybox:1.36", wantRef: "index.docker.io/library/busybox:1.36"},
		{ref: "index.docker.io/library/busybox:1.36", wantRef: "index.docker.io/library/busybox:1.36"},
		{ref: dg, wantRef: dg},
		{ref: "elsewhere.test/any/name@" + dg, wantRef: "elsewhere.test/any/name@" + dg},
		{ref: "busybox", wantErr: os.ErrNotExist},
		{ref: "busybox@" + dg1, wantErr: os.ErrNotExist},
		{ref: dg1, wantErr: os.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			got, err := s.Get(tt.ref)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Get = %+v, %v; want %v", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got.Ref != tt.wantRef || got.Digest != dg {
				t.Fatalf("Get = %+v, %v; want ref %s digest %s", got, err, tt.wantRef, dg)
			}
		})
	}
}

func TestStore_reopenKeepsReferences(t *testing.T) {
	root := t.TempDir()
	s, err := Open(TestConfig(root))
	if err != nil {
		t.Fatal(err)
	}
	a, b := image(t, layer(t, file("a", "1"))), image(t, layer(t, file("b", "2")))
	importNamed(t, s, "localhost/a:v1", a)
	importNamed(t, s, "localhost/b:v1", b)
	// b's manifest is lost: b is dropped on open, a survives.
	h, _ := b.Digest()
	if err := os.Remove(s.blobPath(h)); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(TestConfig(root))
	if err != nil {
		t.Fatal(err)
	}
	if l := s2.List(); len(l) != 1 || l[0].Ref != "localhost/a:v1" || l[0].Digest != digest(t, a) {
		t.Fatalf("List after reopen = %+v", l)
	}
	if _, err := s2.Get("localhost/b:v1"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Get of an image whose manifest is gone: %v", err)
	}
}

func TestOpen_refusesCorruptIndex(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "refs.json"), []byte(`{"version":1,"refs":{"x":"y"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(TestConfig(root)); err == nil {
		t.Fatal("Open accepted a corrupt reference index")
	}
}

func TestConfig_Validate(t *testing.T) {
	tests := map[string]func(*Config){
		"relative root": func(c *Config) { c.Root = "images" },
		"root with ':'": func(c *Config) { c.Root = "/var/lib/a:b" },
		"bad platform":  func(c *Config) { c.Platform = "" },
		"missing clock": func(c *Config) { c.Now = nil },
	}
	if err := DefaultConfig("/var/lib/keel/images").Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			c := DefaultConfig("/var/lib/keel/images")
			mutate(&c)
			if err := c.Validate(); err == nil {
				t.Fatal("Validate accepted it")
			}
		})
	}
}

// fakeMount records containerID as using dg, as Mount does, without
// mounting anything.
func fakeMount(t *testing.T, s *Store, id, dg string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(s.containerDir(), id), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.containerDir(), id, imageFile), []byte(dg), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestRemove_refusesWhileMounted(t *testing.T) {
	s := newStore(t)
	img := image(t, layer(t, file("a", "1")))
	importNamed(t, s, "localhost/a:v1", img)
	importNamed(t, s, "localhost/a:latest", img)
	fakeMount(t, s, "c1", digest(t, img))
	if err := s.Remove("localhost/a:latest"); err != nil {
		t.Fatalf("removing one of two names of a mounted image: %v", err)
	}
	err := s.Remove("localhost/a:v1")
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("Remove of the last name of a mounted image: %v, want ErrInUse", err)
	}
	if want := "remove image localhost/a:v1: image in use by container c1 (unmount it first)"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if err := s.Unmount(context.Background(), "c1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("localhost/a:v1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("localhost/a:v1"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("second Remove: %v", err)
	}
	if len(s.List()) != 0 {
		t.Errorf("List = %v", s.List())
	}
}

func TestGC_keepsWhatReferencesAndMountsNeed(t *testing.T) {
	s := newStore(t)
	shared := layer(t, file("shared", "s"))
	kept := image(t, shared, layer(t, file("kept", "k")))
	mounted := image(t, layer(t, file("mounted", "m")))
	dropped := image(t, shared, layer(t, file("dropped", "d")))
	importNamed(t, s, "localhost/kept:v1", kept)
	importNamed(t, s, "localhost/mounted:v1", mounted)
	importNamed(t, s, "localhost/dropped:v1", dropped)
	fakeMount(t, s, "c1", digest(t, mounted))
	for _, l := range []v1.Layer{shared} {
		d, _ := l.DiffID()
		if err := os.Mkdir(filepath.Join(s.snapshotDir(), d.Hex), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(s.snapshotDir(), "0000000000000000000000000000000000000000000000000000000000000000"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("localhost/mounted:v1"); !errors.Is(err, ErrInUse) {
		t.Fatal(err)
	}
	if err := s.Remove("localhost/dropped:v1"); err != nil {
		t.Fatal(err)
	}
	got, err := s.GC(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// dropped's own layer, config and manifest go; the shared layer stays.
	if got.Blobs != 3 || got.Snapshots != 1 {
		t.Errorf("GC = %+v, want 3 blobs and 1 snapshot", got)
	}
	for _, img := range []v1.Image{kept, mounted} {
		h, _ := img.Digest()
		if _, err := s.loadRecord(h); err != nil {
			t.Errorf("image %s damaged by GC: %v", h, err)
		}
	}
	again, err := s.GC(context.Background())
	if err != nil || again != (Reclaimed{}) {
		t.Errorf("second GC = %+v, %v; want nothing to do", again, err)
	}
}
