package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// volumes makes a pod's volumes on the host, under Root/<pod UID>/volumes.
type volumes struct {
	// Root is the pods directory.
	Root string
	// MountTmpfs mounts a tmpfs of size bytes (0: default) on dir, for
	// emptyDir with medium Memory; Unmount undoes it.
	MountTmpfs func(dir string, size int64) error
	Unmount    func(dir string) error
}

func (v volumes) podDir(uid string) string { return filepath.Join(v.Root, uid) }

// volumeDir is where a volume of the pod lives, by plugin like the
// kubelet's kubernetes.io~<plugin> layout.
func (v volumes) volumeDir(uid, plugin, name string) string {
	return filepath.Join(v.Root, uid, "volumes", "kubernetes.io~"+plugin, name)
}

// setup makes (or refreshes) every volume of the pod and returns each
// volume's host path by name. With a pod fsGroup, emptyDir and the
// API-sourced volumes are group-owned by it (emptyDir walked again per
// fsGroupChangePolicy at each setup); hostPath volumes are left alone.
func (v volumes) setup(pod *corev1.Pod, facts podFacts, objs Objects) (map[string]string, error) {
	uid := string(pod.UID)
	owner := podFSOwner(pod)
	out := map[string]string{}
	for _, vol := range pod.Spec.Volumes {
		dir, rendered, err := v.render(pod, vol, owner, facts, objs)
		if err != nil {
			return nil, err
		}
		if rendered {
			out[vol.Name] = dir
			continue
		}
		switch src := vol.VolumeSource; {
		case src.EmptyDir != nil:
			dir := v.volumeDir(uid, "empty-dir", vol.Name)
			if err := v.emptyDir(dir, src.EmptyDir); err != nil {
				return nil, fmt.Errorf("volume %s: %w", vol.Name, err)
			}
			if err := applyFSGroup(dir, owner, false); err != nil {
				return nil, fmt.Errorf("volume %s: %w", vol.Name, err)
			}
			out[vol.Name] = dir
		case src.HostPath != nil:
			if err := checkHostPath(src.HostPath); err != nil {
				return nil, configErrorf("volume %s: %v", vol.Name, err)
			}
			out[vol.Name] = src.HostPath.Path
		case src.PersistentVolumeClaim != nil:
			dir, err := claimDir(pod, src.PersistentVolumeClaim, objs)
			if err != nil {
				return nil, fmt.Errorf("volume %s: %w", vol.Name, err)
			}
			out[vol.Name] = dir
		default:
			return nil, configErrorf("volume %s: this node supports emptyDir, hostPath, configMap, secret, downwardAPI and projected volumes", vol.Name)
		}
	}
	return out, nil
}

// refresh rewrites the pod's configMap, secret, downwardAPI and projected
// volumes from their current sources.
func (v volumes) refresh(pod *corev1.Pod, facts podFacts, objs Objects) error {
	owner := podFSOwner(pod)
	for _, vol := range pod.Spec.Volumes {
		if _, _, err := v.render(pod, vol, owner, facts, objs); err != nil {
			return err
		}
	}
	return nil
}

// render writes a configMap, secret, downwardAPI or projected volume and
// returns its directory; other volume types report false.
func (v volumes) render(pod *corev1.Pod, vol corev1.Volume, owner *fsOwner, facts podFacts, objs Objects) (string, bool, error) {
	files, rendered, err := renderVolume(vol, pod, facts, objs)
	if err != nil {
		return "", rendered, fmt.Errorf("volume %s: %w", vol.Name, err)
	}
	if !rendered {
		return "", false, nil
	}
	dir := v.volumeDir(string(pod.UID), volumePlugin(vol), vol.Name)
	if err := writeAtomic(dir, ownedFiles(files, owner), owner); err != nil {
		return "", true, fmt.Errorf("volume %s: %w", vol.Name, err)
	}
	return dir, true, nil
}

func volumePlugin(v corev1.Volume) string {
	switch {
	case v.ConfigMap != nil:
		return "configmap"
	case v.Secret != nil:
		return "secret"
	case v.DownwardAPI != nil:
		return "downward-api"
	}
	return "projected"
}

func (v volumes) emptyDir(dir string, src *corev1.EmptyDirVolumeSource) error {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return err
		}
		if err := os.Chmod(dir, 0o777); err != nil {
			return err
		}
	}
	if src.Medium != corev1.StorageMediumMemory {
		return nil
	}
	if isMountPoint(dir) {
		return nil
	}
	if v.MountTmpfs == nil {
		return errors.New("emptyDir with medium Memory needs tmpfs, which this node cannot mount")
	}
	var size int64
	if src.SizeLimit != nil {
		size = src.SizeLimit.Value()
	}
	return v.MountTmpfs(dir, size)
}

// isMountPoint reports whether dir is on another device than its parent.
func isMountPoint(dir string) bool {
	a, err1 := os.Stat(dir)
	b, err2 := os.Stat(filepath.Dir(dir))
	if err1 != nil || err2 != nil {
		return false
	}
	return !os.SameFile(a, b) && deviceOf(a) != deviceOf(b)
}

// teardown unmounts the pod's memory-backed volumes and removes its
// directory.
func (v volumes) teardown(uid string) error {
	if uid == "" || strings.ContainsAny(uid, "/.") {
		return fmt.Errorf("pod uid %q is not a directory name", uid)
	}
	empties, _ := filepath.Glob(filepath.Join(v.podDir(uid), "volumes", "kubernetes.io~empty-dir", "*"))
	for _, d := range empties {
		if isMountPoint(d) && v.Unmount != nil {
			if err := v.Unmount(d); err != nil {
				return fmt.Errorf("unmount %s: %w", d, err)
			}
		}
	}
	if err := os.RemoveAll(v.podDir(uid)); err != nil {
		return fmt.Errorf("remove pod dir: %w", err)
	}
	return nil
}

// checkHostPath applies a hostPath volume's type, creating what the
// OrCreate types ask for.
func checkHostPath(h *corev1.HostPathVolumeSource) error {
	t := corev1.HostPathUnset
	if h.Type != nil {
		t = *h.Type
	}
	info, err := os.Stat(h.Path)
	switch t {
	case corev1.HostPathUnset:
		return nil
	case corev1.HostPathDirectoryOrCreate:
		if errors.Is(err, fs.ErrNotExist) {
			return os.MkdirAll(h.Path, 0o755)
		}
		if err == nil && !info.IsDir() {
			return fmt.Errorf("hostPath %s exists and is not a directory", h.Path)
		}
		return err
	case corev1.HostPathFileOrCreate:
		if errors.Is(err, fs.ErrNotExist) {
			if err := os.MkdirAll(filepath.Dir(h.Path), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(h.Path, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			return f.Close()
		}
		if err == nil && !info.Mode().IsRegular() {
			return fmt.Errorf("hostPath %s exists and is not a file", h.Path)
		}
		return err
	}
	if err != nil {
		return fmt.Errorf("hostPath type check failed: %s does not exist", h.Path)
	}
	m := info.Mode()
	ok := map[corev1.HostPathType]bool{
		corev1.HostPathDirectory: m.IsDir(),
		corev1.HostPathFile:      m.IsRegular(),
		corev1.HostPathSocket:    m&fs.ModeSocket != 0,
		corev1.HostPathCharDev:   m&fs.ModeDevice != 0 && m&fs.ModeCharDevice != 0,
		corev1.HostPathBlockDev:  m&fs.ModeDevice != 0 && m&fs.ModeCharDevice == 0,
	}[t]
	if !ok {
		return fmt.Errorf("hostPath type check failed: %s is not a %s", h.Path, t)
	}
	return nil
}

// containerMounts binds the pod's volumes into a container, honouring
// subPath (and subPathExpr against the container's env) and readOnly.
func containerMounts(pod *corev1.Pod, c *corev1.Container, paths map[string]string, env []string) ([]Mount, error) {
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Spec.Volumes {
		vols[v.Name] = v
	}
	vals := envMap(env)
	var out []Mount
	for _, vm := range c.VolumeMounts {
		src, ok := paths[vm.Name]
		if !ok {
			return nil, configErrorf("volumeMount %s: no volume of that name", vm.Name)
		}
		sub := vm.SubPath
		if vm.SubPathExpr != "" {
			sub = expandVars(vm.SubPathExpr, func(k string) (string, bool) { v, ok := vals[k]; return v, ok })
		}
		if sub != "" {
			if err := checkRelPath(filepath.ToSlash(filepath.Clean(sub))); err != nil || strings.Contains(sub, "..") {
				return nil, configErrorf("volumeMount %s: subPath %q must be relative and may not contain '..'", vm.Name, sub)
			}
			src = filepath.Join(src, sub)
			if vols[vm.Name].EmptyDir != nil {
				if err := os.MkdirAll(src, 0o777); err != nil {
					return nil, fmt.Errorf("volumeMount %s: %w", vm.Name, err)
				}
			}
		}
		v := vols[vm.Name]
		ro := vm.ReadOnly || v.ConfigMap != nil || v.Secret != nil || v.DownwardAPI != nil || v.Projected != nil
		out = append(out, Mount{Source: src, Destination: vm.MountPath, Type: "bind", ReadOnly: ro})
	}
	return out, nil
}
