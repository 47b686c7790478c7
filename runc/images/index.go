package images

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// indexVersion is the reference index's format version.
const indexVersion = 1

// maxIndexBytes bounds the reference index a store will read.
const maxIndexBytes = 16 << 20

// indexFile is the on-disk reference index: canonical reference -> manifest
// digest. It is rewritten whole (temp file, fsync, rename, fsync dir).
type indexFile struct {
	Version int               `json:"version"`
	Refs    map[string]string `json:"refs"`
}

// parseIndex reads an index file's bytes. Every reference must be in its
// canonical form (as name.Reference.Name prints it) and every digest a
// well-formed sha256 digest.
func parseIndex(b []byte) (map[string]string, error) {
	if len(b) > maxIndexBytes {
		return nil, fmt.Errorf("reference index is %d bytes, over the %d limit", len(b), maxIndexBytes)
	}
	var f indexFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decode reference index: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decode reference index: trailing data")
	}
	if f.Version != indexVersion {
		return nil, fmt.Errorf("reference index version %d: want %d", f.Version, indexVersion)
	}
	refs := make(map[string]string, len(f.Refs))
	for ref, dg := range f.Refs {
		r, err := name.ParseReference(ref)
		if err != nil {
			return nil, fmt.Errorf("reference index entry %q: %w", ref, err)
		}
		if r.Name() != ref {
			return nil, fmt.Errorf("reference index entry %q: not canonical (want %q)", ref, r.Name())
		}
		h, err := v1.NewHash(dg)
		if err != nil || h.Algorithm != "sha256" || h.String() != dg {
			return nil, fmt.Errorf("reference index entry %q: bad digest %q", ref, dg)
		}
		refs[ref] = dg
	}
	return refs, nil
}

// encodeIndex is parseIndex's inverse.
func encodeIndex(refs map[string]string) ([]byte, error) {
	if refs == nil {
		refs = map[string]string{}
	}
	b, err := json.MarshalIndent(indexFile{Version: indexVersion, Refs: refs}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode reference index: %w", err)
	}
	return append(b, '\n'), nil
}

// loadIndex reads the index at path; a missing file is an empty index.
func loadIndex(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read reference index: %w", err)
	}
	refs, err := parseIndex(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return refs, nil
}

// saveIndex replaces the index at path with refs, crash-safely.
func saveIndex(path string, refs map[string]string) error {
	b, err := encodeIndex(refs)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, b)
}

// writeFileAtomic replaces path with data: a reader sees the old or the new
// content, never a mix, even across a crash.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}

// syncDir makes a rename or create in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
