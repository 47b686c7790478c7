package agent

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/kubectl/pkg/util/fieldpath"
	kresource "k8s.io/kubectl/pkg/util/resource"
)

// fileData is one file of a rendered volume.
type fileData struct {
	Data []byte
	Mode os.FileMode
}

// renderVolume is the files a configMap, secret, downwardAPI or projected
// volume holds, by relative path. It returns nil, false for other types.
func renderVolume(v corev1.Volume, pod *corev1.Pod, facts podFacts, objs Objects) (map[string]fileData, bool, error) {
	out := map[string]fileData{}
	var err error
	switch src := v.VolumeSource; {
	case src.ConfigMap != nil:
		err = renderConfigMap(out, pod, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.Optional, mode(src.ConfigMap.DefaultMode), objs)
	case src.Secret != nil:
		err = renderSecret(out, pod, src.Secret.SecretName, src.Secret.Items, src.Secret.Optional, mode(src.Secret.DefaultMode), objs)
	case src.DownwardAPI != nil:
		err = renderDownward(out, pod, src.DownwardAPI.Items, mode(src.DownwardAPI.DefaultMode), facts)
	case src.Projected != nil:
		def := mode(src.Projected.DefaultMode)
		for _, p := range src.Projected.Sources {
			switch {
			case p.ConfigMap != nil:
				err = renderConfigMap(out, pod, p.ConfigMap.Name, p.ConfigMap.Items, p.ConfigMap.Optional, def, objs)
			case p.Secret != nil:
				err = renderSecret(out, pod, p.Secret.Name, p.Secret.Items, p.Secret.Optional, def, objs)
			case p.DownwardAPI != nil:
				err = renderDownward(out, pod, p.DownwardAPI.Items, def, facts)
			default:
				err = configErrorf("volume %s: only configMap, secret and downwardAPI projections are supported", v.Name)
			}
			if err != nil {
				break
			}
		}
	default:
		return nil, false, nil
	}
	if err != nil {
		return nil, true, err
	}
	return out, true, nil
}

func mode(m *int32) os.FileMode {
	if m == nil {
		return 0o644
	}
	return os.FileMode(*m) & 0o777
}

func itemMode(m *int32, def os.FileMode) os.FileMode {
	if m == nil {
		return def
	}
	return os.FileMode(*m) & 0o777
}

// addKeys puts data's keys (or only items, under their paths) into out.
func addKeys(out map[string]fileData, data map[string][]byte, items []corev1.KeyToPath, optional bool, def os.FileMode, what string) error {
	if len(items) == 0 {
		for k, v := range data {
			out[k] = fileData{Data: v, Mode: def}
		}
		return nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return configErrorf("references non-existent key %s in %s", it.Key, what)
		}
		if err := checkRelPath(it.Path); err != nil {
			return err
		}
		out[it.Path] = fileData{Data: v, Mode: itemMode(it.Mode, def)}
	}
	return nil
}

func renderConfigMap(out map[string]fileData, pod *corev1.Pod, name string, items []corev1.KeyToPath, opt *bool, def os.FileMode, objs Objects) error {
	cm, err := objs.ConfigMap(pod.Namespace, name)
	if err != nil {
		if isOptional(opt) {
			return nil
		}
		return configErrorf("configmap %q not found", name)
	}
	data := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return addKeys(out, data, items, isOptional(opt), def, "configmap "+name)
}

func renderSecret(out map[string]fileData, pod *corev1.Pod, name string, items []corev1.KeyToPath, opt *bool, def os.FileMode, objs Objects) error {
	s, err := objs.Secret(pod.Namespace, name)
	if err != nil {
		if isOptional(opt) {
			return nil
		}
		return configErrorf("secret %q not found", name)
	}
	return addKeys(out, s.Data, items, isOptional(opt), def, "secret "+name)
}

func renderDownward(out map[string]fileData, pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, def os.FileMode, facts podFacts) error {
	for _, it := range items {
		if err := checkRelPath(it.Path); err != nil {
			return err
		}
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			v, err = podField(pod, it.FieldRef.FieldPath, facts)
			if p := it.FieldRef.FieldPath; p == "metadata.labels" || p == "metadata.annotations" {
				v, err = fieldpath.ExtractFieldPathAsString(pod, p)
			}
		case it.ResourceFieldRef != nil:
			c := findContainer(pod, it.ResourceFieldRef.ContainerName)
			if c == nil {
				return configErrorf("downwardAPI %s: no container %q", it.Path, it.ResourceFieldRef.ContainerName)
			}
			v, err = envValueFromResource(c, it.ResourceFieldRef, facts)
		}
		if err != nil {
			return err
		}
		out[it.Path] = fileData{Data: []byte(v), Mode: itemMode(it.Mode, def)}
	}
	return nil
}

func envValueFromResource(c *corev1.Container, ref *corev1.ResourceFieldSelector, facts podFacts) (string, error) {
	withLimits := c.DeepCopy()
	for r, q := range facts.Allocatable {
		if _, ok := withLimits.Resources.Limits[r]; !ok {
			if withLimits.Resources.Limits == nil {
				withLimits.Resources.Limits = corev1.ResourceList{}
			}
			withLimits.Resources.Limits[r] = q
		}
	}
	v, err := kresource.ExtractContainerResourceValue(ref, withLimits)
	if err != nil {
		return "", configErrorf("resourceFieldRef: %v", err)
	}
	return v, nil
}

// checkRelPath refuses absolute paths and paths that climb out.
func checkRelPath(p string) error {
	if p == "" || path.IsAbs(p) || strings.HasPrefix(p, "..") || strings.Contains(p, "/../") || strings.HasSuffix(p, "/..") || p != path.Clean(p) {
		return configErrorf("path %q must be relative and may not contain '..'", p)
	}
	return nil
}

// writeAtomic makes dir hold exactly files, switching all of them at once
// the way Kubernetes does: the files live in a fresh hidden directory,
// "..data" is a symlink to it swapped by rename, and each top-level name
// is a symlink through "..data". Unchanged content is left alone. With
// owner, everything is group-owned by its GID (read-only bits, setgid
// directories) before the switch.
func writeAtomic(dir string, files map[string]fileData, owner *fsOwner) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("volume dir %s: %w", dir, err)
	}
	dataLink := filepath.Join(dir, "..data")
	old, _ := os.Readlink(dataLink)
	if old != "" && sameFiles(filepath.Join(dir, old), files, owner) {
		return nil
	}
	ts, err := os.MkdirTemp(dir, "..")
	if err != nil {
		return fmt.Errorf("volume dir %s: %w", dir, err)
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		f := files[p]
		full := filepath.Join(ts, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return fmt.Errorf("volume file %s: %w", p, err)
		}
		if err := os.WriteFile(full, f.Data, f.Mode); err != nil {
			return fmt.Errorf("volume file %s: %w", p, err)
		}
		if err := os.Chmod(full, f.Mode); err != nil {
			return fmt.Errorf("volume file %s: %w", p, err)
		}
	}
	if err := os.Chmod(ts, 0o755); err != nil {
		return fmt.Errorf("volume dir %s: %w", ts, err)
	}
	if owner != nil {
		always := &fsOwner{GID: owner.GID}
		if err := applyFSGroup(ts, always, true); err != nil {
			return fmt.Errorf("volume dir %s: %w", dir, err)
		}
	}
	tmp := filepath.Join(dir, "..data_tmp")
	os.Remove(tmp)
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		return fmt.Errorf("volume dir %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dataLink); err != nil {
		return fmt.Errorf("volume dir %s: %w", dir, err)
	}
	top := map[string]bool{}
	for _, p := range paths {
		first, _, _ := strings.Cut(p, "/")
		top[first] = true
		link := filepath.Join(dir, first)
		if target, err := os.Readlink(link); err == nil && target == filepath.Join("..data", first) {
			continue
		}
		os.Remove(link)
		if err := os.Symlink(filepath.Join("..data", first), link); err != nil {
			return fmt.Errorf("volume link %s: %w", first, err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("volume dir %s: %w", dir, err)
	}
	if owner != nil {
		if err := ownTop(dir, entries, owner.GID); err != nil {
			return fmt.Errorf("volume dir %s: %w", dir, err)
		}
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == "..data" || name == filepath.Base(ts):
		case strings.HasPrefix(name, ".."):
			os.RemoveAll(filepath.Join(dir, name))
		case !top[name]:
			os.Remove(filepath.Join(dir, name))
		}
	}
	return nil
}

// ownTop gives a volume's root and its top-level links to gid.
func ownTop(dir string, entries []os.DirEntry, gid int64) error {
	root, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if err := ownEntry(dir, fs.FileInfoToDirEntry(root), gid, true); err != nil {
		return err
	}
	for _, e := range entries {
		if e.Type()&fs.ModeSymlink != 0 {
			if err := os.Lchown(filepath.Join(dir, e.Name()), -1, int(gid)); err != nil {
				return fmt.Errorf("fsGroup %d: %w", gid, err)
			}
		}
	}
	return nil
}

// sameFiles reports whether dir holds exactly files (group-owned by
// owner's GID when set).
func sameFiles(dir string, files map[string]fileData, owner *fsOwner) bool {
	n := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		f, ok := files[filepath.ToSlash(rel)]
		info, ierr := d.Info()
		if !ok || ierr != nil || info.Mode().Perm() != f.Mode {
			return os.ErrNotExist
		}
		if g, known := groupOf(info); owner != nil && (!known || g != owner.GID) {
			return os.ErrNotExist
		}
		data, rerr := os.ReadFile(p)
		if rerr != nil || !bytes.Equal(data, f.Data) {
			return os.ErrNotExist
		}
		n++
		return nil
	})
	return err == nil && n == len(files)
}
