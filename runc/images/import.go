package images

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Annotations an OCI layout's index names its images with.
const (
	annotationRefName    = "org.opencontainers.image.ref.name"
	annotationImageName  = "io.containerd.image.name"
	dockerArchiveMeta    = "manifest.json"
	ociLayoutMarker      = "oci-layout"
	ociLayoutIndex       = "index.json"
	maxImportMemberBytes = 1 << 40
)

// Import stores the images of an OCI-layout tarball or a `docker save`
// tarball read from r, under the references they carry: an OCI layout's
// org.opencontainers.image.ref.name (or io.containerd.image.name)
// annotation when it is a full reference, a docker archive's RepoTags.
// An image without a name is stored by digest only (its Ref is the digest)
// and is reclaimed by the next GC unless a reference is added.
func (s *Store) Import(ctx context.Context, r io.Reader) ([]Image, error) {
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	work, err := os.MkdirTemp(s.tmpDir(), "import-*")
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	defer os.RemoveAll(work)
	archive := filepath.Join(work, "archive.tar")
	f, err := os.Create(archive)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	_, err = io.Copy(f, ctxReader{ctx, r})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("import: read archive: %w", err)
	}
	members, err := tarMembers(archive)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	switch {
	case members[dockerArchiveMeta]:
		return s.importDocker(ctx, archive)
	case members[ociLayoutMarker] && members[ociLayoutIndex]:
		dir := filepath.Join(work, "layout")
		if err := extractLayout(ctx, archive, dir); err != nil {
			return nil, fmt.Errorf("import: %w", err)
		}
		return s.importLayout(ctx, dir)
	}
	return nil, errors.New("import: neither an OCI layout (oci-layout, index.json) nor a docker archive (manifest.json)")
}

// tarMembers lists the cleaned names of a tar file's members.
func tarMembers(archive string) (map[string]bool, error) {
	f, err := os.Open(archive)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read archive: %w", err)
		}
		out[strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")] = true
	}
}

// importDocker stores every image of a docker archive under its tags.
func (s *Store) importDocker(ctx context.Context, archive string) ([]Image, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(archive) }
	mf, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, fmt.Errorf("import docker archive: %w", err)
	}
	var out []Image
	for i, d := range mf {
		var refs []string
		var first *name.Tag
		for _, t := range d.RepoTags {
			tag, err := name.NewTag(t)
			if err != nil {
				return out, fmt.Errorf("import docker archive: image %d tag %q: %w", i, t, err)
			}
			if first == nil {
				first = &tag
			}
			refs = append(refs, tag.Name())
		}
		if first == nil && len(mf) > 1 {
			return out, fmt.Errorf("import docker archive: image %d has no tag, and an untagged image is only readable from a single-image archive", i)
		}
		img, err := tarball.Image(opener, first)
		if err != nil {
			return out, fmt.Errorf("import docker archive: image %d: %w", i, err)
		}
		stored, _, err := s.storeImage(ctx, img, refs)
		if err != nil {
			return out, fmt.Errorf("import docker archive: image %d: %w", i, err)
		}
		out = append(out, stored)
	}
	return out, nil
}

// importLayout stores every image an OCI layout's index lists, picking
// the configured platform from nested indexes.
func (s *Store) importLayout(ctx context.Context, dir string) ([]Image, error) {
	ii, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("import OCI layout: %w", err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("import OCI layout: %w", err)
	}
	var out []Image
	for _, d := range im.Manifests {
		var refs []string
		if ref, ok := layoutRefName(d.Annotations); ok {
			refs = append(refs, ref)
		}
		var img v1.Image
		switch {
		case d.MediaType.IsImage():
			img, err = ii.Image(d.Digest)
		case d.MediaType.IsIndex():
			img, err = s.pickPlatform(ii, d.Digest)
		default:
			continue
		}
		if err != nil {
			return out, fmt.Errorf("import OCI layout: %s: %w", d.Digest, err)
		}
		stored, _, err := s.storeImage(ctx, img, refs)
		if err != nil {
			return out, fmt.Errorf("import OCI layout: %s: %w", d.Digest, err)
		}
		out = append(out, stored)
	}
	return out, nil
}

// pickPlatform finds the configured platform's image in a nested index.
func (s *Store) pickPlatform(ii v1.ImageIndex, h v1.Hash) (v1.Image, error) {
	child, err := ii.ImageIndex(h)
	if err != nil {
		return nil, err
	}
	imgs, err := partial.FindImages(child, match.Platforms(s.platform))
	if err != nil {
		return nil, err
	}
	if len(imgs) == 0 {
		return nil, fmt.Errorf("no image for platform %s in index", s.cfg.Platform)
	}
	return imgs[0], nil
}

// layoutRefName is the full reference an OCI index entry is annotated
// with. A bare tag ("v1", as some tools write ref.name) names no
// repository and is ignored.
func layoutRefName(ann map[string]string) (string, bool) {
	for _, key := range []string{annotationImageName, annotationRefName} {
		v := ann[key]
		if v == "" || !strings.ContainsAny(v, "/:@") {
			continue
		}
		r, err := name.ParseReference(v)
		if err != nil {
			continue
		}
		return r.Name(), true
	}
	return "", false
}

// extractLayout unpacks an OCI layout tarball's directories and regular
// files into dir, refusing anything that would land outside it.
func extractLayout(ctx context.Context, archive, dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read OCI layout: %w", err)
		}
		name, err := entryName(hdr.Name)
		if err != nil {
			return err
		}
		if name == "" {
			continue
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o700); err != nil {
				return fmt.Errorf("extract %s: %w", name, err)
			}
		case tar.TypeReg:
			if hdr.Size > maxImportMemberBytes {
				return fmt.Errorf("extract %s: %d bytes is too large", name, hdr.Size)
			}
			if err := root.MkdirAll(path.Dir(name), 0o700); err != nil {
				return fmt.Errorf("extract %s: %w", name, err)
			}
			out, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				return fmt.Errorf("extract %s: %w", name, err)
			}
			_, err = io.Copy(out, ctxReader{ctx, tr})
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("extract %s: %w", name, err)
			}
		}
	}
}
