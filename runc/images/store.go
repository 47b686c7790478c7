package images

import (
	"github.com/keel-edge/keel/runtimeapi"

	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/singleflight"
)

// Image and RegistryAuth are runtimeapi's, the contract the store shares
// with the node loop.
type (
	Image        = runtimeapi.Image
	RegistryAuth = runtimeapi.RegistryAuth
)

// ErrInUse is returned by Remove for an image a mounted container uses.
var ErrInUse = errors.New("image in use")

// Config configures a Store.
type Config struct {
	// Root is the directory holding blobs, the reference index, unpacked
	// layers and container root filesystems. It must be absolute and must
	// not contain ':' or ',' (they separate overlayfs options).
	Root string
	// Platform is the platform picked from multi-platform images, as
	// "os/arch" or "os/arch/variant".
	Platform string
	// InsecureRegistries are registries (host or host:port) reached over
	// plain HTTP. Loopback and private addresses always are.
	InsecureRegistries []string
	// Transport carries registry requests; nil means go-containerregistry's
	// default transport.
	Transport http.RoundTripper
	// Now returns the current time; pulls are timed with it.
	Now func() time.Time
}

// DefaultConfig is the configuration of a store kept in root.
func DefaultConfig(root string) Config {
	return Config{Root: root, Platform: "linux/amd64", Now: time.Now}
}

// TestConfig is DefaultConfig with a clock that advances one second per
// call, so progress messages are deterministic.
func TestConfig(root string) Config {
	c := DefaultConfig(root)
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	c.Now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
	return c
}

// Validate reports what is wrong with c.
func (c Config) Validate() error {
	if c.Root == "" || !filepath.IsAbs(c.Root) {
		return fmt.Errorf("image store root %q: must be an absolute path", c.Root)
	}
	if strings.ContainsAny(c.Root, ":,") {
		return fmt.Errorf("image store root %q: must not contain ':' or ','", c.Root)
	}
	if _, err := v1.ParsePlatform(c.Platform); err != nil || c.Platform == "" {
		return fmt.Errorf("image store platform %q: want os/arch[/variant]", c.Platform)
	}
	if c.Now == nil {
		return errors.New("image store: Now is nil")
	}
	return nil
}

// layerRef is one layer of a stored image: its blob and its diffID.
type layerRef struct {
	digest, diffID v1.Hash
}

// record is what the store keeps in memory of one stored manifest.
type record struct {
	img    Image
	config v1.Hash
	layers []layerRef
}

// Store is the node's content-addressed OCI image store. It is safe for
// concurrent use.
type Store struct {
	cfg      Config
	platform v1.Platform

	// gcMu is held for writing by GC and for reading by everything that
	// writes blobs or snapshots, so GC never sees half-stored content.
	gcMu sync.RWMutex
	// mu guards refs and records and serialises index writes.
	mu      sync.Mutex
	refs    map[string]string  // canonical reference -> manifest digest
	records map[string]*record // manifest digest -> record

	unpacking singleflight.Group
}

// Open opens (creating if needed) the store described by cfg. References
// whose manifest or config cannot be read are dropped from memory (Get
// reports them absent, so they are pulled again).
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p, _ := v1.ParsePlatform(cfg.Platform)
	s := &Store{cfg: cfg, platform: *p, records: map[string]*record{}}
	for _, d := range []string{s.blobDir(), s.tmpDir(), s.snapshotDir(), s.containerDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("open image store: %w", err)
		}
	}
	if err := s.clearTmp(); err != nil {
		return nil, err
	}
	refs, err := loadIndex(s.indexPath())
	if err != nil {
		return nil, err
	}
	s.refs = refs
	for ref, dg := range refs {
		if _, ok := s.records[dg]; ok {
			continue
		}
		h, _ := v1.NewHash(dg)
		rec, err := s.loadRecord(h)
		if err != nil {
			delete(s.refs, ref)
			continue
		}
		s.records[dg] = rec
	}
	return s, nil
}

// Root is the store's directory.
func (s *Store) Root() string { return s.cfg.Root }

func (s *Store) blobDir() string      { return filepath.Join(s.cfg.Root, "blobs", "sha256") }
func (s *Store) tmpDir() string       { return filepath.Join(s.cfg.Root, "tmp") }
func (s *Store) snapshotDir() string  { return filepath.Join(s.cfg.Root, "snapshots") }
func (s *Store) containerDir() string { return filepath.Join(s.cfg.Root, "containers") }
func (s *Store) indexPath() string    { return filepath.Join(s.cfg.Root, "refs.json") }

// clearTmp removes what an interrupted write left behind.
func (s *Store) clearTmp() error {
	ents, err := os.ReadDir(s.tmpDir())
	if err != nil {
		return fmt.Errorf("read %s: %w", s.tmpDir(), err)
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(s.tmpDir(), e.Name())); err != nil {
			return fmt.Errorf("clear temporary files: %w", err)
		}
	}
	return nil
}

// parseRef parses ref, reaching configured insecure registries over HTTP.
func (s *Store) parseRef(ref string) (name.Reference, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("parse image reference %q: %w", ref, err)
	}
	for _, reg := range s.cfg.InsecureRegistries {
		if r.Context().RegistryStr() == reg {
			return name.ParseReference(ref, name.Insecure)
		}
	}
	return r, nil
}

// Get finds a stored image by reference, by "repo@sha256:..." when that
// manifest is stored under any name, or by a bare manifest digest. It
// returns an error wrapping os.ErrNotExist if the image is absent.
func (s *Store) Get(ref string) (Image, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h, err := v1.NewHash(ref); err == nil {
		if rec, ok := s.records[h.String()]; ok {
			img := rec.img
			img.Ref = h.String()
			return img, nil
		}
		return Image{}, fmt.Errorf("image %s: %w", ref, os.ErrNotExist)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return Image{}, fmt.Errorf("parse image reference %q: %w", ref, err)
	}
	key := r.Name()
	dg, ok := s.refs[key]
	if !ok {
		if d, isDigest := r.(name.Digest); isDigest {
			dg = d.DigestStr()
		}
	}
	if rec, ok := s.records[dg]; ok {
		img := rec.img
		img.Ref = key
		return img, nil
	}
	return Image{}, fmt.Errorf("image %s: %w", ref, os.ErrNotExist)
}

// List returns every stored reference's image, sorted by reference.
func (s *Store) List() []Image {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Image, 0, len(s.refs))
	for ref, dg := range s.refs {
		img := s.records[dg].img
		img.Ref = ref
		out = append(out, img)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref < out[j].Ref })
	return out
}

// Remove forgets a reference. It refuses (ErrInUse) when this is the last
// reference to an image a mounted container uses. Blobs and snapshots are
// reclaimed by GC.
func (s *Store) Remove(ref string) error {
	r, err := name.ParseReference(ref)
	if err != nil {
		return fmt.Errorf("parse image reference %q: %w", ref, err)
	}
	key := r.Name()
	mounts, err := s.mounts()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	dg, ok := s.refs[key]
	if !ok {
		return fmt.Errorf("remove image %s: %w", ref, os.ErrNotExist)
	}
	others := 0
	for k, d := range s.refs {
		if d == dg && k != key {
			others++
		}
	}
	if others == 0 {
		for id, m := range mounts {
			if m == dg {
				return fmt.Errorf("remove image %s: %w by container %s (unmount it first)", ref, ErrInUse, id)
			}
		}
	}
	next := make(map[string]string, len(s.refs))
	for k, d := range s.refs {
		if k != key {
			next[k] = d
		}
	}
	if err := saveIndex(s.indexPath(), next); err != nil {
		return fmt.Errorf("remove image %s: %w", ref, err)
	}
	s.refs = next
	if others == 0 {
		delete(s.records, dg)
	}
	return nil
}

// addRefs records refs as names of rec (stored under digest dg).
func (s *Store) addRefs(dg string, rec *record, refs []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[dg] = rec
	if len(refs) == 0 {
		return nil
	}
	next := make(map[string]string, len(s.refs)+len(refs))
	for k, d := range s.refs {
		next[k] = d
	}
	for _, r := range refs {
		next[r] = dg
	}
	if err := saveIndex(s.indexPath(), next); err != nil {
		return err
	}
	s.refs = next
	return nil
}
