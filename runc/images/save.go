package images

import (
	"bytes"
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// storeImage writes img's layers, config and manifest (in that order, so a
// stored manifest implies its content is stored) and names it refs. It
// returns the image and the bytes written. The caller holds gcMu for
// reading.
func (s *Store) storeImage(ctx context.Context, img v1.Image, refs []string) (Image, int64, error) {
	rawManifest, err := img.RawManifest()
	if err != nil {
		return Image{}, 0, fmt.Errorf("read manifest: %w", err)
	}
	mdg, err := img.Digest()
	if err != nil {
		return Image{}, 0, fmt.Errorf("manifest digest: %w", err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(rawManifest))
	if err != nil {
		return Image{}, 0, fmt.Errorf("parse manifest %s: %w", mdg, err)
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return Image{}, 0, fmt.Errorf("read config of %s: %w", mdg, err)
	}
	var total int64
	layers, err := img.Layers()
	if err != nil {
		return Image{}, 0, fmt.Errorf("layers of %s: %w", mdg, err)
	}
	for _, l := range layers {
		dg, err := l.Digest()
		if err != nil {
			return Image{}, total, fmt.Errorf("layer digest: %w", err)
		}
		if s.hasBlob(dg) {
			continue
		}
		rc, err := l.Compressed()
		if err != nil {
			return Image{}, total, fmt.Errorf("fetch layer %s: %w", dg, err)
		}
		n, err := s.writeBlob(ctx, dg, rc)
		rc.Close()
		total += n
		if err != nil {
			return Image{}, total, err
		}
	}
	n, err := s.writeBlob(ctx, m.Config.Digest, bytes.NewReader(rawConfig))
	total += n
	if err != nil {
		return Image{}, total, fmt.Errorf("config of %s: %w", mdg, err)
	}
	n, err = s.writeBlob(ctx, mdg, bytes.NewReader(rawManifest))
	total += n
	if err != nil {
		return Image{}, total, err
	}
	rec, err := s.loadRecord(mdg)
	if err != nil {
		return Image{}, total, err
	}
	if err := s.addRefs(mdg.String(), rec, refs); err != nil {
		return Image{}, total, err
	}
	out := rec.img
	out.Ref = mdg.String()
	if len(refs) > 0 {
		out.Ref = refs[0]
	}
	return out, total, nil
}

// loadRecord reads a stored manifest and its config.
func (s *Store) loadRecord(mdg v1.Hash) (*record, error) {
	rawManifest, err := s.readBlob(mdg)
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(rawManifest))
	if err != nil {
		return nil, fmt.Errorf("parse manifest %s: %w", mdg, err)
	}
	if m.MediaType.IsIndex() {
		return nil, fmt.Errorf("manifest %s is an index, not an image", mdg)
	}
	rawConfig, err := s.readBlob(m.Config.Digest)
	if err != nil {
		return nil, fmt.Errorf("config of %s: %w", mdg, err)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(rawConfig))
	if err != nil {
		return nil, fmt.Errorf("parse config of %s: %w", mdg, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("image %s: %d layers but %d diffIDs in its config", mdg, len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	rec := &record{config: m.Config.Digest, img: Image{
		Digest:     mdg.String(),
		Entrypoint: cfg.Config.Entrypoint,
		Cmd:        cfg.Config.Cmd,
		Env:        cfg.Config.Env,
		WorkingDir: cfg.Config.WorkingDir,
		User:       cfg.Config.User,
	}}
	for i, l := range m.Layers {
		if err := checkHash(cfg.RootFS.DiffIDs[i]); err != nil {
			return nil, fmt.Errorf("image %s layer %d: %w", mdg, i, err)
		}
		rec.layers = append(rec.layers, layerRef{digest: l.Digest, diffID: cfg.RootFS.DiffIDs[i]})
	}
	return rec, nil
}
