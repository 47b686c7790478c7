package images

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// mountForTest mounts img for id and unmounts it when the test ends,
// whatever happened.
func mountForTest(t *testing.T, s *Store, ref, id string) string {
	t.Helper()
	img, err := s.Get(ref)
	if err != nil {
		t.Fatal(err)
	}
	root, err := s.Mount(context.Background(), img, id)
	t.Cleanup(func() {
		if err := s.Unmount(context.Background(), id); err != nil {
			unix.Unmount(root, unix.MNT_DETACH)
			t.Errorf("cleanup: %v", err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func ls(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestMount_overlayAppliesWhiteoutsAndKeepsWritesInUpper(t *testing.T) {
	requirePrivileges(t)
	s := newStore(t)
	base := layer(t, dir("etc"), file("etc/keep", "keep"), file("etc/gone", "gone"),
		dir("data"), file("data/old1", "1"), file("data/old2", "2"), dir("bin"), file("bin/app", "v1"))
	top := layer(t, file("etc/.wh.gone", ""), dir("data"), file("data/.wh..wh..opq", ""),
		file("data/new", "new"), file("etc/added", "added"), file("bin/app", "v2"))
	importNamed(t, s, "localhost/app:v1", image(t, base, top))
	root := mountForTest(t, s, "localhost/app:v1", "c1")

	if got := ls(t, filepath.Join(root, "etc")); !slices.Equal(got, []string{"added", "keep"}) {
		t.Errorf("etc = %v, want [added keep] (etc/gone whited out)", got)
	}
	if got := ls(t, filepath.Join(root, "data")); !slices.Equal(got, []string{"new"}) {
		t.Errorf("data = %v, want [new] (opaque directory)", got)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "bin/app")); string(b) != "v2" {
		t.Errorf("bin/app = %q, want the top layer's", b)
	}

	if err := os.WriteFile(filepath.Join(root, "etc/keep"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "written"), []byte("w"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(root, "etc/added")); err != nil {
		t.Fatal(err)
	}
	upper := filepath.Join(s.containerDir(), "c1", "upper")
	if b, _ := os.ReadFile(filepath.Join(upper, "etc/keep")); string(b) != "changed" {
		t.Errorf("upper etc/keep = %q", b)
	}
	if _, err := os.Stat(filepath.Join(upper, "written")); err != nil {
		t.Errorf("new file not in the upper dir: %v", err)
	}
	baseDiff, _ := base.DiffID()
	if b, _ := os.ReadFile(filepath.Join(s.snapshotDir(), baseDiff.Hex, "etc/keep")); string(b) != "keep" {
		t.Errorf("lower layer changed: etc/keep = %q", b)
	}
	topDiff, _ := top.DiffID()
	if _, err := os.Stat(filepath.Join(s.snapshotDir(), topDiff.Hex, "etc/added")); err != nil {
		t.Errorf("deleting in the container touched the lower layer: %v", err)
	}

	// A second root filesystem of the same image shares the snapshots and
	// sees none of the first one's writes.
	other := mountForTest(t, s, "localhost/app:v1", "c2")
	if b, _ := os.ReadFile(filepath.Join(other, "etc/keep")); string(b) != "keep" {
		t.Errorf("second container sees etc/keep = %q", b)
	}
	if got := ls(t, s.snapshotDir()); len(got) != 2 {
		t.Errorf("snapshots = %v, want one per layer", got)
	}

	// Mounting again returns the same root.
	img, _ := s.Get("localhost/app:v1")
	again, err := s.Mount(context.Background(), img, "c1")
	if err != nil || again != root {
		t.Errorf("second Mount = %q, %v; want %q", again, err, root)
	}
	if err := s.Remove("localhost/app:v1"); !errors.Is(err, ErrInUse) {
		t.Errorf("Remove while mounted: %v", err)
	}

	if err := s.Unmount(context.Background(), "c1"); err != nil {
		t.Fatal(err)
	}
	if on, _ := mountinfo.Mounted(root); on {
		t.Error("still mounted after Unmount")
	}
	if _, err := os.Stat(filepath.Join(s.containerDir(), "c1")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("container dir left after Unmount: %v", err)
	}
	if err := s.Unmount(context.Background(), "c1"); err != nil {
		t.Errorf("second Unmount: %v", err)
	}
}

func TestMount_manyLayersExceedingAPage(t *testing.T) {
	requirePrivileges(t)
	s := newStore(t)
	const n = 80
	var layers []v1.Layer
	for i := range n {
		layers = append(layers, layer(t, file(fmt.Sprintf("layers/%02d", i), "x"), file("top", fmt.Sprint(i))))
	}
	importNamed(t, s, "localhost/tall:v1", image(t, layers...))
	if opts := n * (len(s.snapshotDir()) + 66); opts < unix.Getpagesize() {
		t.Fatalf("test needs lowerdir options over a page, has %d bytes", opts)
	}
	root := mountForTest(t, s, "localhost/tall:v1", "tall")
	if got := ls(t, filepath.Join(root, "layers")); len(got) != n {
		t.Errorf("layers/ has %d entries, want %d", len(got), n)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "top")); string(b) != fmt.Sprint(n-1) {
		t.Errorf("top = %q, want the last layer's", b)
	}
}

func TestMount_refusesBadContainerIDs(t *testing.T) {
	s := newStore(t)
	for _, id := range []string{"", "..", "a/b", "../x", strings.Repeat("a", 129)} {
		if _, err := s.Mount(context.Background(), Image{}, id); err == nil {
			t.Errorf("Mount accepted container id %q", id)
		}
		if err := s.Unmount(context.Background(), id); err == nil {
			t.Errorf("Unmount accepted container id %q", id)
		}
	}
}

func TestMount_unknownImage(t *testing.T) {
	s := newStore(t)
	_, err := s.Mount(context.Background(), Image{Ref: "localhost/x:v1", Digest: dg1}, "c1")
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Mount of an unknown image: %v", err)
	}
}

func TestMount_refusesLayerNotMatchingItsDiffID(t *testing.T) {
	requirePrivileges(t)
	s := newStore(t)
	l := layer(t, file("a", "original"))
	importNamed(t, s, "localhost/bad:v1", image(t, l))
	// Replace the stored blob with another layer under the same name: the
	// store trusts its blobs' names only as far as the diffID check.
	other := tarBytes(t, file("a", "tampered"))
	dg, _ := l.Digest()
	if err := os.WriteFile(s.blobPath(dg), other, 0o600); err != nil {
		t.Fatal(err)
	}
	img, err := s.Get("localhost/bad:v1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Mount(context.Background(), img, "bad")
	t.Cleanup(func() { s.Unmount(context.Background(), "bad") })
	if !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("Mount of a tampered layer: %v, want ErrDigestMismatch", err)
	}
	if got := ls(t, s.snapshotDir()); len(got) != 0 {
		t.Errorf("snapshots after a refused layer: %v", got)
	}
}

func TestMount_concurrentMountsUnpackOnce(t *testing.T) {
	requirePrivileges(t)
	s := newStore(t)
	importNamed(t, s, "localhost/app:v1", image(t, layer(t, file("a", "1")), layer(t, file("b", "2"))))
	img, err := s.Get("localhost/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	const n = 6
	errs := make(chan error, n)
	for i := range n {
		id := fmt.Sprintf("c%d", i)
		t.Cleanup(func() { s.Unmount(context.Background(), id) })
		go func() {
			_, err := s.Mount(context.Background(), img, id)
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if got := ls(t, s.snapshotDir()); len(got) != 2 {
		t.Errorf("snapshots = %v, want 2", got)
	}
	if got := ls(t, s.containerDir()); len(got) != n {
		t.Errorf("containers = %v, want %d", got, n)
	}
}
