package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ErrDigestMismatch is returned when content does not hash to the digest
// it was announced under.
var ErrDigestMismatch = errors.New("digest mismatch")

// maxMetaBytes bounds the manifests and configs the store reads into memory.
const maxMetaBytes = 32 << 20

// blobPath is where the blob with digest h lives.
func (s *Store) blobPath(h v1.Hash) string { return filepath.Join(s.blobDir(), h.Hex) }

// hasBlob reports whether the blob h is stored.
func (s *Store) hasBlob(h v1.Hash) bool {
	_, err := os.Stat(s.blobPath(h))
	return err == nil
}

// checkHash refuses digests the store cannot verify.
func checkHash(h v1.Hash) error {
	if h.Algorithm != "sha256" || len(h.Hex) != 64 {
		return fmt.Errorf("digest %q: only sha256 is supported", h)
	}
	if _, err := hex.DecodeString(h.Hex); err != nil {
		return fmt.Errorf("digest %q: %w", h, err)
	}
	return nil
}

// writeBlob stores r's content as blob h, verifying that it hashes to h;
// content that does not is refused with ErrDigestMismatch and nothing is
// kept. It returns the bytes written (0 if the blob was already stored).
func (s *Store) writeBlob(ctx context.Context, h v1.Hash, r io.Reader) (int64, error) {
	if err := checkHash(h); err != nil {
		return 0, err
	}
	if s.hasBlob(h) {
		return 0, nil
	}
	f, err := os.CreateTemp(s.tmpDir(), "blob-*")
	if err != nil {
		return 0, fmt.Errorf("store blob %s: %w", h, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	sum := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, sum), ctxReader{ctx, r})
	if err != nil {
		f.Close()
		return 0, fmt.Errorf("store blob %s: %w", h, err)
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != h.Hex {
		f.Close()
		return 0, fmt.Errorf("store blob %s: content hashes to sha256:%s: %w", h, got, ErrDigestMismatch)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return 0, fmt.Errorf("store blob %s: %w", h, err)
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("store blob %s: %w", h, err)
	}
	if err := os.Rename(tmp, s.blobPath(h)); err != nil {
		return 0, fmt.Errorf("store blob %s: %w", h, err)
	}
	if err := syncDir(s.blobDir()); err != nil {
		return 0, err
	}
	return n, nil
}

// readBlob reads a small blob (manifest or config) whole and verifies it.
func (s *Store) readBlob(h v1.Hash) ([]byte, error) {
	if err := checkHash(h); err != nil {
		return nil, err
	}
	f, err := os.Open(s.blobPath(h))
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", h, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMetaBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", h, err)
	}
	if len(b) > maxMetaBytes {
		return nil, fmt.Errorf("read blob %s: larger than %d bytes", h, maxMetaBytes)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != h.Hex {
		return nil, fmt.Errorf("read blob %s: content hashes to sha256:%s: %w", h, got, ErrDigestMismatch)
	}
	return b, nil
}

// ctxReader fails reads once its context is done, so long copies honour
// cancellation.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
