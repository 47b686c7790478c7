package runc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// errEscapes reports a path that leaves the container's root filesystem.
var errEscapes = errors.New("resolves outside the root filesystem")

// maxSymlinks bounds symlink expansion, as the kernel does.
const maxSymlinks = 40

// resolveInRoot resolves p, an absolute path as seen inside the container,
// against root without ever leaving it: a ".." above the root or a symlink
// whose relative target climbs out is refused rather than clamped, so a workingDir
// that names something outside the image is reported instead of silently
// becoming "/". Components that do not exist yet are accepted (the
// runtime creates the directory). It returns the host path.
func resolveInRoot(root, p string) (string, error) {
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("must be an absolute path")
	}
	if strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("contains a NUL byte")
	}
	var done []string // resolved components below root
	todo := splitPath(p)
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) == 0 {
				return "", errEscapes
			}
			done = done[:len(done)-1]
			continue
		}
		cur := filepath.Join(append([]string{root}, append(done, c)...)...)
		fi, err := os.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			done = append(done, c)
			continue
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if len(todo) > 0 && !fi.IsDir() {
				return "", fmt.Errorf("%s is not a directory", "/"+strings.Join(append(done, c), "/"))
			}
			done = append(done, c)
			continue
		}
		links++
		if links > maxSymlinks {
			return "", fmt.Errorf("too many levels of symbolic links")
		}
		target, err := os.Readlink(cur)
		if err != nil {
			return "", err
		}
		if filepath.IsAbs(target) {
			done = nil // inside the container "/" is the root filesystem
		}
		todo = append(splitPath(target), todo...)
	}
	return filepath.Join(append([]string{root}, done...)...), nil
}

func splitPath(p string) []string { return strings.Split(p, "/") }
