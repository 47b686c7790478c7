package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/keel-edge/keel/runc/images"
)

// importDir imports every *.tar (OCI layout or docker save) in dir into
// the store, as air-gapped sites preload images. A missing dir is fine; a
// bad file is logged and skipped, never fatal.
func importDir(ctx context.Context, store *images.Store, dir string, log *slog.Logger) error {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read image import directory: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".tar") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join(dir, name)
		f, err := os.Open(path)
		if err != nil {
			log.Warn("import image", "file", path, "err", err)
			continue
		}
		imgs, err := store.Import(ctx, f)
		f.Close()
		if err != nil {
			log.Warn("import image", "file", path, "err", err)
			continue
		}
		for _, img := range imgs {
			log.Info("image imported", "file", path, "image", img.Ref, "digest", img.Digest)
		}
	}
	return nil
}
