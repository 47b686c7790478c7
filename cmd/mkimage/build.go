package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Image references the tarballs carry.
const (
	busyboxRef = "localhost/busybox:v1"
	demoRef    = "localhost/demo:v1"
	refAnnot   = "org.opencontainers.image.ref.name"
	demoPkg    = "github.com/keel-edge/keel/cmd/demo"
	pathEnv    = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// busyboxPaths are where Debian's busybox-static puts the binary.
var busyboxPaths = []string{"/bin/busybox", "/usr/bin/busybox"}

// options say what to build from and where to write it.
type options struct {
	out, busybox, demoBin, goCmd string
	// epoch is every timestamp in the images.
	epoch time.Time
}

// written is one image tarball made.
type written struct{ path, ref, digest string }

// build writes busybox.tar and demo.tar into o.out.
func build(o options) ([]written, error) {
	if o.busybox == "" {
		for _, p := range busyboxPaths {
			if _, err := os.Stat(p); err == nil {
				o.busybox = p
				break
			}
		}
		if o.busybox == "" {
			return nil, errors.New("no busybox binary: install Debian's busybox-static or pass -busybox")
		}
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "mkimage-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	if o.demoBin == "" {
		o.demoBin = filepath.Join(work, "demo")
		if err := buildDemo(o.goCmd, o.demoBin); err != nil {
			return nil, err
		}
	}
	bbLayer, err := busyboxLayer(o.busybox, o.epoch)
	if err != nil {
		return nil, err
	}
	demoBin, err := os.ReadFile(o.demoBin)
	if err != nil {
		return nil, fmt.Errorf("read demo binary: %w", err)
	}
	demoLayer, err := layerOf(o.epoch, []tarEntry{{name: "bin/demo", mode: 0o755, body: demoBin}})
	if err != nil {
		return nil, err
	}
	bb, err := makeImage(o.epoch, []v1.Layer{bbLayer}, []string{"busybox " + o.busybox}, func(c *v1.Config) {
		c.Cmd = []string{"sh"}
	})
	if err != nil {
		return nil, err
	}
	demo, err := makeImage(o.epoch, []v1.Layer{bbLayer, demoLayer}, []string{"busybox " + o.busybox, "demo server"}, func(c *v1.Config) {
		c.Entrypoint = []string{"/bin/demo"}
		c.ExposedPorts = map[string]struct{}{"8080/tcp": {}}
	})
	if err != nil {
		return nil, err
	}
	var out []written
	for _, img := range []struct {
		file, ref string
		img       v1.Image
	}{{"busybox.tar", busyboxRef, bb}, {"demo.tar", demoRef, demo}} {
		p := filepath.Join(o.out, img.file)
		if err := writeLayoutTar(img.img, img.ref, p, o.epoch); err != nil {
			return out, fmt.Errorf("write %s: %w", p, err)
		}
		dg, err := img.img.Digest()
		if err != nil {
			return out, err
		}
		out = append(out, written{p, img.ref, dg.String()})
	}
	return out, nil
}

// buildDemo compiles the demo server static and reproducibly.
func buildDemo(goCmd, out string) error {
	cmd := exec.Command(goCmd, "build", "-trimpath", "-ldflags", "-s -w -buildid=", "-o", out, demoPkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s: %w\n%s", demoPkg, err, b)
	}
	return nil
}

// busyboxLayer is /bin/busybox, a link to it per applet (from `busybox
// --list`, which includes sh), a minimal /etc/passwd and /etc/group, /tmp
// and /root.
func busyboxLayer(bin string, epoch time.Time) (v1.Layer, error) {
	body, err := os.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("read busybox: %w", err)
	}
	list, err := exec.Command(bin, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list: %w", bin, err)
	}
	entries := []tarEntry{
		{name: "bin/", mode: 0o755 | fs.ModeDir},
		{name: "bin/busybox", mode: 0o755, body: body},
		{name: "etc/", mode: 0o755 | fs.ModeDir},
		{name: "etc/passwd", mode: 0o644, body: []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")},
		{name: "etc/group", mode: 0o644, body: []byte("root:x:0:\nnogroup:x:65534:\n")},
		{name: "root/", mode: 0o700 | fs.ModeDir},
		{name: "tmp/", mode: 0o777 | fs.ModeDir | fs.ModeSticky},
	}
	applets := strings.Fields(string(list))
	sort.Strings(applets)
	for _, a := range applets {
		if a == "busybox" || strings.ContainsAny(a, "/") {
			continue
		}
		entries = append(entries, tarEntry{name: "bin/" + a, mode: 0o777 | fs.ModeSymlink, link: "busybox"})
	}
	return layerOf(epoch, entries)
}

// tarEntry is one member of a layer.
type tarEntry struct {
	name, link string
	mode       fs.FileMode
	body       []byte
}

// layerOf makes an OCI gzip layer of entries, owned by root, all dated
// epoch.
func layerOf(epoch time.Time, entries []tarEntry) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Mode: int64(e.mode.Perm()), ModTime: epoch, Format: tar.FormatPAX}
		switch {
		case e.mode.IsDir():
			hdr.Typeflag = tar.TypeDir
		case e.mode&fs.ModeSymlink != 0:
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, e.link
		default:
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(e.body))
		}
		if e.mode&fs.ModeSticky != 0 {
			hdr.Mode |= 0o1000
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithMediaType(types.OCILayer))
}

// makeImage stacks layers into a linux/amd64 OCI image dated epoch.
func makeImage(epoch time.Time, layers []v1.Layer, createdBy []string, configure func(*v1.Config)) (v1.Image, error) {
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	var adds []mutate.Addendum
	for i, l := range layers {
		adds = append(adds, mutate.Addendum{Layer: l, MediaType: types.OCILayer,
			History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: createdBy[i]}})
	}
	img, err := mutate.Append(base, adds...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Env = []string{pathEnv}
	configure(&cf.Config)
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	return mutate.CreatedAt(img, v1.Time{Time: epoch})
}

// writeLayoutTar writes img as an OCI layout naming it ref, packed as a
// tar with fixed metadata, to path (atomically).
func writeLayoutTar(img v1.Image, ref, path string, epoch time.Time) error {
	dir, err := os.MkdirTemp("", "mkimage-layout-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{refAnnot: ref})); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tarTree(tmp, dir, epoch); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// tarTree packs dir's directories and files in name order, owned by root
// and dated epoch.
func tarTree(w io.Writer, dir string, epoch time.Time) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: filepath.ToSlash(rel), ModTime: epoch, Mode: 0o644, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if d.IsDir() {
			hdr.Name, hdr.Mode, hdr.Typeflag = hdr.Name+"/", 0o755, tar.TypeDir
			return tw.WriteHeader(hdr)
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		hdr.Size = fi.Size()
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
