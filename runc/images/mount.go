package images

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// imageFile names, in a container's directory, the manifest digest its
// root filesystem was made from.
const imageFile = "image"

// containerIDPattern is what Mount accepts as a container id: one path
// element.
var containerIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// Mount stacks img's layers (unpacking each diffID once) read-only with
// overlayfs under a writable layer of its own for containerID and returns
// the merged root filesystem's path. Mounting an already mounted
// container returns its path; after a reboot it mounts the container's
// existing writable layer again. It needs root.
func (s *Store) Mount(ctx context.Context, img Image, containerID string) (string, error) {
	if !containerIDPattern.MatchString(containerID) {
		return "", fmt.Errorf("mount: container id %q: want 1-128 of [A-Za-z0-9_.-]", containerID)
	}
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	s.mu.Lock()
	rec, ok := s.records[img.Digest]
	s.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("mount %s: image %s (%s): %w", containerID, img.Ref, img.Digest, os.ErrNotExist)
	}
	lowers := make([]string, 0, len(rec.layers)+1)
	for i := len(rec.layers) - 1; i >= 0; i-- {
		dir, err := s.snapshot(ctx, rec.layers[i])
		if err != nil {
			return "", fmt.Errorf("mount %s: %w", containerID, err)
		}
		lowers = append(lowers, dir)
	}
	if len(lowers) == 0 {
		dir, err := s.emptySnapshot()
		if err != nil {
			return "", fmt.Errorf("mount %s: %w", containerID, err)
		}
		lowers = append(lowers, dir)
	}
	cdir := filepath.Join(s.containerDir(), containerID)
	upper, work, merged := filepath.Join(cdir, "upper"), filepath.Join(cdir, "work"), filepath.Join(cdir, "merged")
	if prev, err := os.ReadFile(filepath.Join(cdir, imageFile)); err == nil {
		if string(prev) != img.Digest {
			return "", fmt.Errorf("mount %s: container already has a root filesystem of image %s", containerID, prev)
		}
	} else {
		for _, d := range []string{upper, work, merged} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return "", fmt.Errorf("mount %s: %w", containerID, err)
			}
		}
		if err := writeFileAtomic(filepath.Join(cdir, imageFile), []byte(img.Digest)); err != nil {
			return "", fmt.Errorf("mount %s: %w", containerID, err)
		}
	}
	if on, err := mountinfo.Mounted(merged); err == nil && on {
		return merged, nil
	}
	if err := mountOverlay(lowers, upper, work, merged); err != nil {
		return "", fmt.Errorf("mount %s: %w", containerID, err)
	}
	return merged, nil
}

// Unmount unmounts containerID's root filesystem and removes its writable
// layer. Unmounting an unknown container is not an error.
func (s *Store) Unmount(ctx context.Context, containerID string) error {
	if !containerIDPattern.MatchString(containerID) {
		return fmt.Errorf("unmount: container id %q: want 1-128 of [A-Za-z0-9_.-]", containerID)
	}
	cdir := filepath.Join(s.containerDir(), containerID)
	merged := filepath.Join(cdir, "merged")
	if on, err := mountinfo.Mounted(merged); err == nil && on {
		if err := unix.Unmount(merged, 0); err != nil {
			return fmt.Errorf("unmount %s: %w", merged, err)
		}
	}
	if err := os.RemoveAll(cdir); err != nil {
		return fmt.Errorf("unmount %s: remove writable layer: %w", containerID, err)
	}
	return nil
}

// mounts maps each container with a root filesystem to its image digest.
func (s *Store) mounts() (map[string]string, error) {
	ents, err := os.ReadDir(s.containerDir())
	if err != nil {
		return nil, fmt.Errorf("list container root filesystems: %w", err)
	}
	out := map[string]string{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(s.containerDir(), e.Name(), imageFile))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list container root filesystems: %w", err)
		}
		out[e.Name()] = string(b)
	}
	return out, nil
}

// mountOverlay mounts an overlay at merged. lowers are top layer first.
// The classic mount(2) carries its options in one page, which caps an
// image at a few dozen layers with long paths; past that it adds the
// layers one by one with fsconfig's "lowerdir+" (Linux 6.8 and later).
func mountOverlay(lowers []string, upper, work, merged string) error {
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(lowers, ":"), upper, work)
	if len(opts) < unix.Getpagesize() {
		if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
			return fmt.Errorf("mount overlay at %s: %w", merged, err)
		}
		return nil
	}
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("mount overlay of %d layers at %s: options exceed a page and fsopen failed: %w", len(lowers), merged, err)
	}
	defer unix.Close(fd)
	for _, l := range lowers {
		if err := unix.FsconfigSetString(fd, "lowerdir+", l); err != nil {
			return fmt.Errorf("mount overlay of %d layers at %s: options exceed a page and this kernel lacks lowerdir+ (Linux 6.8): %w", len(lowers), merged, err)
		}
	}
	for k, v := range map[string]string{"upperdir": upper, "workdir": work} {
		if err := unix.FsconfigSetString(fd, k, v); err != nil {
			return fmt.Errorf("mount overlay at %s: %s: %w", merged, k, err)
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return fmt.Errorf("mount overlay at %s: create: %w", merged, err)
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("mount overlay at %s: %w", merged, err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, merged, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("mount overlay at %s: %w", merged, err)
	}
	return nil
}

// snapshot returns the directory layer l is unpacked in, unpacking it
// first if needed; concurrent callers for one diffID share the work.
func (s *Store) snapshot(ctx context.Context, l layerRef) (string, error) {
	dir := filepath.Join(s.snapshotDir(), l.diffID.Hex)
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	_, err, _ := s.unpacking.Do(l.diffID.Hex, func() (any, error) {
		if _, err := os.Stat(dir); err == nil {
			return nil, nil
		}
		return nil, s.unpackLayer(ctx, l, dir)
	})
	if err != nil {
		return "", err
	}
	return dir, nil
}

// unpackLayer unpacks blob l.digest into dir, checking that its
// uncompressed content hashes to l.diffID. The layer is unpacked in a
// temporary directory renamed into place once complete.
func (s *Store) unpackLayer(ctx context.Context, l layerRef, dir string) error {
	f, err := os.Open(s.blobPath(l.digest))
	if err != nil {
		return fmt.Errorf("layer %s: %w", l.digest, err)
	}
	defer f.Close()
	rc, err := decompress(f)
	if err != nil {
		return fmt.Errorf("layer %s: %w", l.digest, err)
	}
	defer rc.Close()
	tmp, err := os.MkdirTemp(s.tmpDir(), "unpack-*")
	if err != nil {
		return fmt.Errorf("layer %s: %w", l.digest, err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("layer %s: %w", l.digest, err)
	}
	sum := sha256.New()
	tee := io.TeeReader(rc, sum)
	opt := unpackOptions{whiteouts: overlayWhiteouts{}, chown: true}
	if err := unpack(ctx, tee, tmp, opt); err != nil {
		return fmt.Errorf("layer %s: %w", l.digest, err)
	}
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return fmt.Errorf("layer %s: %w", l.digest, err)
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != l.diffID.Hex {
		return fmt.Errorf("layer %s: uncompressed content hashes to sha256:%s, config says %s: %w", l.digest, got, l.diffID, ErrDigestMismatch)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("layer %s: %w", l.digest, err)
	}
	return syncDir(s.snapshotDir())
}

// emptySnapshot is the lower layer of an image without layers.
func (s *Store) emptySnapshot() (string, error) {
	dir := filepath.Join(s.snapshotDir(), "empty")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return dir, nil
}

// decompress reads a layer blob, gzip, zstd or plain tar, as a tar stream.
func decompress(f io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReader(f)
	head, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return gzip.NewReader(br)
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		d, err := zstd.NewReader(br)
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}
