package images

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// OCI whiteout names (image-spec layer.md).
const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// whiteouter records OCI deletions in an unpacked layer.
type whiteouter interface {
	// whiteout hides name (in the directory dir) from lower layers.
	whiteout(dir *os.File, name string) error
	// opaque hides every lower layer's entries of the directory dir.
	opaque(dir *os.File) error
}

// overlayWhiteouts writes deletions the way overlayfs reads them: a 0:0
// character device, and the trusted.overlay.opaque xattr. Both need root.
type overlayWhiteouts struct{}

func (overlayWhiteouts) whiteout(dir *os.File, name string) error {
	return unix.Mknodat(int(dir.Fd()), name, unix.S_IFCHR, int(unix.Mkdev(0, 0)))
}

func (overlayWhiteouts) opaque(dir *os.File) error {
	return unix.Fsetxattr(int(dir.Fd()), "trusted.overlay.opaque", []byte("y"), 0)
}

// entryName turns a tar member name into a path relative to the layer
// root ("" for the root itself), refusing names that climb out of it.
func entryName(n string) (string, error) {
	n = strings.TrimLeft(n, "/")
	n = strings.TrimSuffix(path.Clean("./"+n), "/")
	if n == "." || n == "" {
		return "", nil
	}
	if !filepath.IsLocal(n) {
		return "", fmt.Errorf("tar entry %q escapes the layer", n)
	}
	return n, nil
}

// unpackOptions tune unpack for the privileges it runs with.
type unpackOptions struct {
	// whiteouts records deletions.
	whiteouts whiteouter
	// chown applies the entries' owners (needs root).
	chown bool
	// maxFileBytes, if not 0, refuses bigger files (a sparse entry can
	// declare terabytes of holes in a few bytes).
	maxFileBytes int64
}

// unpack writes the layer tar r into dir, which must exist and be empty.
// Every file operation goes through an os.Root on dir, so no entry name,
// hard link or symlink (absolute or relative, made by an earlier entry)
// can make it touch anything outside dir.
func unpack(ctx context.Context, r io.Reader, dir string, opt unpackOptions) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("unpack into %s: %w", dir, err)
	}
	defer root.Close()
	type dirTime struct {
		name  string
		mtime time.Time
	}
	var dirTimes []dirTime
	tr := tar.NewReader(ctxReader{ctx, r})
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read layer: %w", err)
		}
		name, err := entryName(hdr.Name)
		if err != nil {
			return err
		}
		if name == "" {
			continue
		}
		if err := unpackEntry(root, tr, hdr, name, opt); err != nil {
			return fmt.Errorf("unpack %s: %w", name, err)
		}
		if hdr.Typeflag == tar.TypeDir {
			dirTimes = append(dirTimes, dirTime{name, hdr.ModTime})
		}
	}
	for i := len(dirTimes) - 1; i >= 0; i-- {
		d := dirTimes[i]
		if err := root.Chtimes(d.name, d.mtime, d.mtime); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("unpack %s: %w", d.name, err)
		}
	}
	return nil
}

// unpackEntry writes one tar member.
func unpackEntry(root *os.Root, tr *tar.Reader, hdr *tar.Header, name string, opt unpackOptions) error {
	parent, base := path.Dir(name), path.Base(name)
	if err := root.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	if base == whiteoutOpaque {
		return withDir(root, parent, opt.whiteouts.opaque)
	}
	if strings.HasPrefix(base, whiteoutPrefix) {
		target := strings.TrimPrefix(base, whiteoutPrefix)
		if target == "" || target == "." || target == ".." {
			return fmt.Errorf("bad whiteout %q", base)
		}
		if err := root.RemoveAll(path.Join(parent, target)); err != nil {
			return err
		}
		return withDir(root, parent, func(d *os.File) error { return opt.whiteouts.whiteout(d, target) })
	}
	if fi, err := root.Lstat(name); err == nil {
		if !(fi.IsDir() && hdr.Typeflag == tar.TypeDir) {
			if err := root.RemoveAll(name); err != nil {
				return err
			}
		}
	}
	mode := hdr.FileInfo().Mode()
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := root.Mkdir(name, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	case tar.TypeReg:
		if opt.maxFileBytes > 0 && hdr.Size > opt.maxFileBytes {
			return fmt.Errorf("file of %d bytes is over the %d limit", hdr.Size, opt.maxFileBytes)
		}
		f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	case tar.TypeSymlink:
		return chown(root, name, hdr, opt, root.Symlink(hdr.Linkname, name))
	case tar.TypeLink:
		target, err := entryName(hdr.Linkname)
		if err != nil || target == "" {
			return fmt.Errorf("hard link to %q escapes the layer", hdr.Linkname)
		}
		return root.Link(target, name)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		kind := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		dev := int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
		if err := withDir(root, parent, func(d *os.File) error {
			return unix.Mknodat(int(d.Fd()), base, kind|0o600, dev)
		}); err != nil {
			return err
		}
	case tar.TypeXGlobalHeader:
		return nil
	default:
		return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
	}
	if err := chown(root, name, hdr, opt, nil); err != nil {
		return err
	}
	if err := root.Chmod(name, mode.Perm()|mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return err
	}
	if err := setXattrs(root, name, hdr); err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeDir {
		return root.Chtimes(name, hdr.ModTime, hdr.ModTime)
	}
	return nil
}

// chown applies the entry's owner when running privileged; prev is the
// error of the step before it, returned as is.
func chown(root *os.Root, name string, hdr *tar.Header, opt unpackOptions, prev error) error {
	if prev != nil || !opt.chown {
		return prev
	}
	return root.Lchown(name, hdr.Uid, hdr.Gid)
}

// setXattrs applies the entry's extended attributes (PAX SCHILY.xattr.*),
// such as file capabilities. Filesystems without xattrs skip them.
func setXattrs(root *os.Root, name string, hdr *tar.Header) error {
	var attrs [][2]string
	for k, v := range hdr.PAXRecords {
		if a, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			attrs = append(attrs, [2]string{a, v})
		}
	}
	if len(attrs) == 0 || hdr.Typeflag == tar.TypeChar || hdr.Typeflag == tar.TypeBlock || hdr.Typeflag == tar.TypeFifo {
		return nil
	}
	f, err := root.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, a := range attrs {
		err := unix.Fsetxattr(int(f.Fd()), a[0], []byte(a[1]), 0)
		if err != nil && !errors.Is(err, unix.ENOTSUP) {
			return fmt.Errorf("set xattr %s: %w", a[0], err)
		}
	}
	return nil
}

// withDir runs fn on the directory name opened inside root.
func withDir(root *os.Root, name string, fn func(*os.File) error) error {
	d, err := root.OpenFile(name, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer d.Close()
	return fn(d)
}
