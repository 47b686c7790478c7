package images

import (
	"archive/tar"
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// tarDir packs a directory tree as a tar stream.
func tarDir(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			_, err = tw.Write(b)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// ociLayoutTar writes images into an OCI layout, each annotated with its
// ref.name, and tars it.
func ociLayoutTar(t *testing.T, named map[string]v1.Image, extra ...func(layout.Path)) []byte {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for ref, img := range named {
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{annotationRefName: ref})); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range extra {
		f(p)
	}
	return tarDir(t, dir)
}

func TestImport_ociLayout(t *testing.T) {
	s := newStore(t)
	app := image(t, layer(t, dir("bin"), file("bin/app", "app")), layer(t, file("etc/conf", "x")))
	bare := image(t, layer(t, file("only", "digest")))
	tarball := ociLayoutTar(t, map[string]v1.Image{"localhost/app:v1": app, "v1": bare})
	got, err := s.Import(context.Background(), bytes.NewReader(tarball))
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, img := range got {
		refs = append(refs, img.Ref)
	}
	slices.Sort(refs)
	want := []string{"localhost/app:v1", digest(t, bare)}
	slices.Sort(want)
	if !slices.Equal(refs, want) {
		t.Fatalf("imported %v, want %v (a bare tag names no repository)", refs, want)
	}
	img, err := s.Get("localhost/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	if img.Digest != digest(t, app) || !slices.Equal(img.Entrypoint, []string{"/bin/app"}) ||
		!slices.Equal(img.Cmd, []string{"--serve"}) || img.WorkingDir != "/srv" || img.User != "1000:1000" ||
		!slices.Equal(img.Env, []string{"PATH=/bin"}) {
		t.Errorf("Get = %+v", img)
	}
	if l := s.List(); len(l) != 1 || l[0].Ref != "localhost/app:v1" {
		t.Errorf("List = %+v, want only the named image", l)
	}
	if ents, _ := os.ReadDir(s.tmpDir()); len(ents) != 0 {
		t.Errorf("temporary files left: %v", ents)
	}
}

func TestImport_ociLayoutNestedIndexPicksPlatform(t *testing.T) {
	s := newStore(t)
	amd := image(t, layer(t, file("arch", "amd64")))
	armCfg, _ := amd.ConfigFile()
	armCfg = armCfg.DeepCopy()
	armCfg.Architecture = "arm64"
	arm, err := mutate.ConfigFile(image(t, layer(t, file("arch", "arm64"))), armCfg)
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
	)
	b := ociLayoutTar(t, nil, func(p layout.Path) {
		if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{annotationRefName: "localhost/multi:v2"})); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := s.Import(context.Background(), bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	img, err := s.Get("localhost/multi:v2")
	if err != nil {
		t.Fatal(err)
	}
	if img.Digest != digest(t, amd) {
		t.Errorf("stored %s, want the linux/amd64 image %s", img.Digest, digest(t, amd))
	}
}

func TestImport_dockerArchive(t *testing.T) {
	s := newStore(t)
	one := image(t, layer(t, file("a", "1")))
	two := image(t, layer(t, file("b", "2")), layer(t, file("c", "3")))
	tag := func(s string) name.Tag {
		tg, err := name.NewTag(s)
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}
	var buf bytes.Buffer
	err := tarball.MultiWrite(map[name.Tag]v1.Image{
		tag("localhost/one:v1"):         one,
		tag("busybox"):                  two,
		tag("registry.test:5000/two:x"): two,
	}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]v1.Image{
		"localhost/one:v1":                       one,
		"busybox":                                two,
		"index.docker.io/library/busybox:latest": two,
		"registry.test:5000/two:x":               two,
	} {
		img, err := s.Get(ref)
		if err != nil {
			t.Fatalf("Get(%s): %v", ref, err)
		}
		if img.Digest != digest(t, want) {
			t.Errorf("Get(%s) = %s, want %s", ref, img.Digest, digest(t, want))
		}
	}
}

func TestImport_refusesOtherArchives(t *testing.T) {
	tests := map[string][]byte{
		"not a tar":             []byte("hello"),
		"tar of something else": tarBytes(t, file("README", "hi")),
		"layout escaping its dir": tarBytes(t, file("oci-layout", `{"imageLayoutVersion":"1.0.0"}`),
			file("index.json", "{}"), file("../../escape", "x")),
		"layout blob not matching its digest": tarBytes(t, file("oci-layout", `{"imageLayoutVersion":"1.0.0"}`),
			file("index.json", `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"`+dg1+`","size":2}]}`),
			file("blobs/sha256/1111111111111111111111111111111111111111111111111111111111111111", "{}")),
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			_, err := s.Import(context.Background(), bytes.NewReader(b))
			if err == nil {
				t.Fatal("Import accepted it")
			}
			if !strings.HasPrefix(err.Error(), "import") {
				t.Errorf("error %q does not say it was the import", err)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(s.Root()), "escape")); err == nil {
				t.Error("an archive member was written outside the store")
			}
			if len(s.List()) != 0 {
				t.Errorf("List = %v after a refused import", s.List())
			}
		})
	}
}
