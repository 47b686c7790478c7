package images

import (
	"io"

	"archive/tar"
	"bytes"
	"context"
	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// recordedWhiteouts notes deletions instead of writing them, so the
// unpacker is tested without root.
type recordedWhiteouts struct{ whiteouts, opaques []string }

func (r *recordedWhiteouts) whiteout(dir *os.File, name string) error {
	r.whiteouts = append(r.whiteouts, filepath.Join(dir.Name(), name))
	return nil
}

func (r *recordedWhiteouts) opaque(dir *os.File) error {
	r.opaques = append(r.opaques, dir.Name())
	return nil
}

func TestUnpack_entries(t *testing.T) {
	dst := t.TempDir()
	rec := &recordedWhiteouts{}
	b := tarBytes(t,
		dir("etc/"), file("etc/hosts", "127.0.0.1 localhost\n"),
		file("/abs/name", "leading slash is the layer root"),
		symlink("bin", "usr/bin"), dir("usr/bin"), file("usr/bin/tool", "tool"),
		symlink("etc/resolv.conf", "/run/resolv.conf"),
		hardlink("etc/hosts.bak", "etc/hosts"),
		file("old/.wh.gone", ""), file("cache/.wh..wh..opq", ""),
		file("etc/hosts", "replaced\n"),
	)
	if err := unpack(context.Background(), bytes.NewReader(b), dst, unpackOptions{whiteouts: rec}); err != nil {
		t.Fatal(err)
	}
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(dst, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read("etc/hosts"); got != "replaced\n" {
		t.Errorf("etc/hosts = %q: a later entry replaces an earlier one", got)
	}
	if got := read("etc/hosts.bak"); got != "127.0.0.1 localhost\n" {
		t.Errorf("hard link = %q", got)
	}
	if got := read("abs/name"); !strings.HasPrefix(got, "leading") {
		t.Errorf("abs/name = %q", got)
	}
	if got, _ := os.Readlink(filepath.Join(dst, "etc/resolv.conf")); got != "/run/resolv.conf" {
		t.Errorf("absolute symlink kept as %q", got)
	}
	if got := read("bin/tool"); got != "tool" {
		t.Errorf("bin/tool through relative symlink = %q", got)
	}
	if !slices.Equal(rec.whiteouts, []string{filepath.Join(dst, "old/gone")}) || !slices.Equal(rec.opaques, []string{filepath.Join(dst, "cache")}) {
		t.Errorf("whiteouts %v opaques %v", rec.whiteouts, rec.opaques)
	}
	if fi, err := os.Stat(filepath.Join(dst, "etc/hosts")); err != nil || fi.Mode().Perm() != 0o644 || fi.ModTime().Unix() != 1700000000 {
		t.Errorf("etc/hosts mode/time = %v %v", fi.Mode(), fi.ModTime())
	}
}

// escapes are layers that try to write outside the snapshot directory.
var escapes = map[string][]entry{
	"dot-dot name":                     {file("../../outside/pwned", "x")},
	"dot-dot inside name":              {file("a/../../outside/pwned", "x")},
	"hard link out":                    {hardlink("link", "../outside/secret")},
	"absolute symlink then write":      {symlink("evil", "/"), file("evil/outside/pwned", "x")},
	"relative symlink then write":      {symlink("evil", "../../.."), file("evil/outside/pwned", "x")},
	"symlinked dir then whiteout":      {symlink("evil", ".."), file("evil/outside/.wh.secret", "")},
	"symlinked dir then opaque":        {symlink("evil", ".."), file("evil/outside/.wh..wh..opq", "")},
	"symlink then hard link through":   {symlink("evil", "../outside"), hardlink("stolen", "evil/secret")},
	"symlink replaced then written to": {symlink("x", "/outside"), file("x/pwned", "x")},
}

// checkContained fails if anything under base but outside base/snap
// changed: base/outside holds one file, "secret", that must stay as is.
func checkContained(t testing.TB, base string) {
	t.Helper()
	var found []string
	filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !strings.HasPrefix(p, filepath.Join(base, "snap")) && p != base {
			found = append(found, strings.TrimPrefix(p, base))
		}
		return nil
	})
	if !slices.Equal(found, []string{"/outside", "/outside/secret"}) {
		t.Fatalf("unpack touched files outside the snapshot: %v", found)
	}
	if b, _ := os.ReadFile(filepath.Join(base, "outside", "secret")); string(b) != "secret" {
		t.Fatalf("outside/secret changed to %q", b)
	}
}

// sandbox makes base/snap (the snapshot) and base/outside/secret.
func sandbox(t testing.TB) (base, snap string) {
	base = t.TempDir()
	snap = filepath.Join(base, "snap")
	for _, d := range []string{snap, filepath.Join(base, "outside")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(base, "outside", "secret"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	return base, snap
}

func TestUnpack_neverEscapes(t *testing.T) {
	for name, entries := range escapes {
		t.Run(name, func(t *testing.T) {
			base, snap := sandbox(t)
			err := unpack(context.Background(), bytes.NewReader(tarBytes(t, entries...)), snap, unpackOptions{whiteouts: &recordedWhiteouts{}})
			checkContained(t, base)
			if err == nil {
				// Refusing is fine; so is writing the content inside the
				// snapshot. Either way nothing left it.
				t.Logf("accepted, contained")
			}
		})
	}
}

func TestUnpack_refusesUnsupportedEntries(t *testing.T) {
	_, snap := sandbox(t)
	b := tarBytes(t, entry{name: "x", typ: 'Z'})
	if err := unpack(context.Background(), bytes.NewReader(b), snap, unpackOptions{whiteouts: &recordedWhiteouts{}}); err == nil {
		t.Fatal("unpack accepted an unknown entry type")
	}
}

func FuzzUnpack(f *testing.F) {
	for _, entries := range escapes {
		f.Add(tarBytes(f, entries...))
	}
	f.Add(tarBytes(f, dir("etc"), file("etc/a", "b"), hardlink("c", "etc/a"), file("d/.wh.e", ""), file("d/.wh..wh..opq", "")))
	f.Add(tarBytes(f, entry{name: "fifo", typ: tar.TypeFifo, mode: 0o600}))
	f.Fuzz(func(t *testing.T, b []byte) {
		base, snap := sandbox(t)
		_ = unpack(context.Background(), bytes.NewReader(b), snap, unpackOptions{whiteouts: &recordedWhiteouts{}, maxFileBytes: 1 << 20})
		checkContained(t, base)
	})
}

func TestDecompress_formats(t *testing.T) {
	plain := tarBytes(t, file("a", "hello"))
	for _, comp := range []compression.Compression{compression.None, compression.GZip, compression.ZStd} {
		t.Run(string(comp), func(t *testing.T) {
			l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(plain)), nil },
				tarball.WithCompression(comp))
			if err != nil {
				t.Fatal(err)
			}
			var rc io.ReadCloser
			if comp == compression.None {
				rc, err = l.Uncompressed()
			} else {
				rc, err = l.Compressed()
			}
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			d, err := decompress(rc)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if got, err := io.ReadAll(d); err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("decompressed %d bytes, %v; want the %d-byte tar", len(got), err, len(plain))
			}
		})
	}
}
