package images

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Reclaimed is what a GC removed.
type Reclaimed struct {
	// Blobs and Snapshots count the removed blobs and unpacked layers.
	Blobs, Snapshots int
	// Bytes is the removed blobs' size.
	Bytes int64
}

// GC removes the blobs and unpacked layers that no reference and no
// mounted container needs, and forgets unnamed images. Pulls, imports
// and mounts wait while it runs.
func (s *Store) GC(ctx context.Context) (Reclaimed, error) {
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	var out Reclaimed
	mounts, err := s.mounts()
	if err != nil {
		return out, err
	}
	s.mu.Lock()
	live := map[string]*record{}
	for _, dg := range s.refs {
		live[dg] = s.records[dg]
	}
	var missing []string
	for _, dg := range mounts {
		if _, ok := live[dg]; ok {
			continue
		}
		if rec, ok := s.records[dg]; ok {
			live[dg] = rec
		} else {
			missing = append(missing, dg)
		}
	}
	for dg := range s.records {
		if _, ok := live[dg]; !ok {
			delete(s.records, dg)
		}
	}
	s.mu.Unlock()
	// A mounted image whose references were all removed before a restart
	// is no longer in memory: read it back from its blobs.
	for _, dg := range missing {
		h, err := v1.NewHash(dg)
		if err != nil {
			continue
		}
		if rec, err := s.loadRecord(h); err == nil {
			live[dg] = rec
		}
	}
	keepBlobs, keepSnaps := map[string]bool{}, map[string]bool{"empty": true}
	for dg, rec := range live {
		h, _ := v1.NewHash(dg)
		keepBlobs[h.Hex] = true
		keepBlobs[rec.config.Hex] = true
		for _, l := range rec.layers {
			keepBlobs[l.digest.Hex] = true
			keepSnaps[l.diffID.Hex] = true
		}
	}
	blobs, err := os.ReadDir(s.blobDir())
	if err != nil {
		return out, fmt.Errorf("gc: %w", err)
	}
	for _, e := range blobs {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if keepBlobs[e.Name()] {
			continue
		}
		if fi, err := e.Info(); err == nil {
			out.Bytes += fi.Size()
		}
		if err := os.Remove(filepath.Join(s.blobDir(), e.Name())); err != nil {
			return out, fmt.Errorf("gc: %w", err)
		}
		out.Blobs++
	}
	snaps, err := os.ReadDir(s.snapshotDir())
	if err != nil {
		return out, fmt.Errorf("gc: %w", err)
	}
	for _, e := range snaps {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if keepSnaps[e.Name()] {
			continue
		}
		if err := os.RemoveAll(filepath.Join(s.snapshotDir(), e.Name())); err != nil {
			return out, fmt.Errorf("gc: %w", err)
		}
		out.Snapshots++
	}
	if err := s.clearTmp(); err != nil {
		return out, err
	}
	return out, nil
}
