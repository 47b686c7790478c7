package agent

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
)

// The permission bits fsGroup adds: group read-write (read-only for
// configMap, secret, downwardAPI and projected volumes), and group
// search plus setgid on directories, so new files inherit the group.
const (
	groupRW   os.FileMode = 0o660
	groupRO   os.FileMode = 0o440
	groupExec os.FileMode = 0o110
)

// fsOwner is the group a pod's volumes belong to.
type fsOwner struct {
	GID int64
	// OnRootMismatch skips the walk when the volume's root already has
	// the group and bits.
	OnRootMismatch bool
}

// podFSOwner is the pod's securityContext.fsGroup, nil without one.
func podFSOwner(pod *corev1.Pod) *fsOwner {
	sc := pod.Spec.SecurityContext
	if sc == nil || sc.FSGroup == nil {
		return nil
	}
	p := sc.FSGroupChangePolicy
	return &fsOwner{GID: *sc.FSGroup, OnRootMismatch: p != nil && *p == corev1.FSGroupChangeOnRootMismatch}
}

// ownedMode is the mode fsGroup gives a file or directory of a volume.
func ownedMode(m os.FileMode, dir, readOnly bool) os.FileMode {
	mask := groupRW
	if readOnly {
		mask = groupRO
	}
	if dir {
		mask |= groupExec | os.ModeSetgid
	}
	return m | mask
}

// ownedFiles gives a rendered volume's files the read bits fsGroup adds.
func ownedFiles(files map[string]fileData, o *fsOwner) map[string]fileData {
	if o == nil {
		return files
	}
	out := make(map[string]fileData, len(files))
	for p, f := range files {
		f.Mode = ownedMode(f.Mode, false, true) & os.ModePerm
		out[p] = f
	}
	return out
}

// rootOwned reports a volume root that already has the group, the bits
// and setgid.
func rootOwned(root string, gid int64, readOnly bool) bool {
	fi, err := os.Stat(root)
	if err != nil || !fi.IsDir() {
		return false
	}
	g, ok := groupOf(fi)
	if !ok || g != gid {
		return false
	}
	want := ownedMode(0, true, readOnly)
	return fi.Mode()&want == want
}

// applyFSGroup makes everything under root group-owned by o.GID with the
// group bits (symbolic links are re-owned, not followed). With
// OnRootMismatch a root that already matches is left alone.
func applyFSGroup(root string, o *fsOwner, readOnly bool) error {
	if o == nil {
		return nil
	}
	if o.OnRootMismatch && rootOwned(root, o.GID, readOnly) {
		return nil
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return ownEntry(p, d, o.GID, readOnly)
	})
}

func ownEntry(p string, d fs.DirEntry, gid int64, readOnly bool) error {
	if err := os.Lchown(p, -1, int(gid)); err != nil {
		return fmt.Errorf("fsGroup %d: %w", gid, err)
	}
	if d.Type()&fs.ModeSymlink != 0 {
		return nil
	}
	fi, err := d.Info()
	if err != nil {
		return fmt.Errorf("fsGroup %d: %w", gid, err)
	}
	m := fi.Mode()
	want := ownedMode(m&(os.ModePerm|os.ModeSetgid|os.ModeSetuid|os.ModeSticky), fi.IsDir(), readOnly)
	if m&(os.ModePerm|os.ModeSetgid|os.ModeSetuid|os.ModeSticky) == want {
		return nil
	}
	if err := os.Chmod(p, want); err != nil {
		return fmt.Errorf("fsGroup %d: %w", gid, err)
	}
	return nil
}
