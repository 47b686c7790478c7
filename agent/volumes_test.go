package agent

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func readVolume(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	data := filepath.Join(dir, "..data")
	err := filepath.WalkDir(data+"/", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(data, p)
		// Read through the user-visible path, not the hidden one.
		b, err := os.ReadFile(filepath.Join(dir, rel))
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWriteAtomic_swapsDataLink(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vol")
	steps := []map[string]fileData{
		{"a": {Data: []byte("1"), Mode: 0o644}, "sub/b": {Data: []byte("2"), Mode: 0o600}},
		{"a": {Data: []byte("1"), Mode: 0o644}, "sub/b": {Data: []byte("2"), Mode: 0o600}},
		{"a": {Data: []byte("one"), Mode: 0o644}, "c": {Data: []byte("3"), Mode: 0o400}},
		{},
	}
	var prevTarget string
	for i, files := range steps {
		if err := writeAtomic(dir, files, nil); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{}
		for p, f := range files {
			want[p] = string(f.Data)
		}
		if got := readVolume(t, dir); !reflect.DeepEqual(got, want) {
			t.Fatalf("step %d: %v, want %v", i, got, want)
		}
		target, err := os.Readlink(filepath.Join(dir, "..data"))
		if err != nil {
			t.Fatalf("step %d: ..data: %v", i, err)
		}
		if (i == 1) != (target == prevTarget) {
			t.Fatalf("step %d: ..data -> %s (was %s); only unchanged content keeps it", i, target, prevTarget)
		}
		prevTarget = target
		for p, f := range files {
			fi, err := os.Stat(filepath.Join(dir, p))
			if err != nil || fi.Mode().Perm() != f.Mode {
				t.Fatalf("step %d: %s mode %v %v", i, p, fi.Mode(), err)
			}
		}
		if link, err := os.Readlink(filepath.Join(dir, "a")); len(files) > 0 && (err != nil || link != "..data/a") {
			t.Fatalf("step %d: a -> %q %v", i, link, err)
		}
		hidden := 0
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "..") && e.Name() != "..data" {
				hidden++
			}
		}
		if hidden != 1 {
			t.Fatalf("step %d: %d hidden data dirs left", i, hidden)
		}
	}
}

func TestRenderVolume_sources(t *testing.T) {
	yes := true
	m := func(v int32) *int32 { return &v }
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", Labels: map[string]string{"b": "2", "a": "1"}}}
	pod.Spec.Containers = []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Mi")}}}}
	objs := mapObjects{
		cms:     map[string]*corev1.ConfigMap{"ns/cfg": {Data: map[string]string{"k1": "v1", "k2": "v2"}, BinaryData: map[string][]byte{"bin": {0, 1}}}},
		secrets: map[string]*corev1.Secret{"ns/sec": {Data: map[string][]byte{"pw": []byte("s3")}}},
	}
	tests := []struct {
		name string
		src  corev1.VolumeSource
		want map[string]fileData
		err  string
	}{
		{"configmap all keys", corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}},
			map[string]fileData{"k1": {[]byte("v1"), 0o644}, "k2": {[]byte("v2"), 0o644}, "bin": {[]byte{0, 1}, 0o644}}, ""},
		{"configmap items with mode", corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"},
			Items: []corev1.KeyToPath{{Key: "k1", Path: "dir/one", Mode: m(0o600)}}, DefaultMode: m(0o440)}},
			map[string]fileData{"dir/one": {[]byte("v1"), 0o600}}, ""},
		{"missing key", corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"},
			Items: []corev1.KeyToPath{{Key: "zz", Path: "z"}}}}, nil, "non-existent key zz"},
		{"climbing path", corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"},
			Items: []corev1.KeyToPath{{Key: "k1", Path: "../x"}}}}, nil, "may not contain"},
		{"optional missing configmap", corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Optional: &yes}},
			map[string]fileData{}, ""},
		{"missing secret", corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "gone"}}, nil, `secret "gone" not found`},
		{"secret", corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "sec", DefaultMode: m(0o400)}},
			map[string]fileData{"pw": {[]byte("s3"), 0o400}}, ""},
		{"downward api", corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
			{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
			{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}},
			{Path: "mem", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "c", Resource: "limits.memory"}},
		}}}, map[string]fileData{"labels": {[]byte("a=\"1\"\nb=\"2\""), 0o644}, "name": {[]byte("web"), 0o644}, "mem": {[]byte("2097152"), 0o644}}, ""},
		{"projected", corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Items: []corev1.KeyToPath{{Key: "k2", Path: "k2"}}}},
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}}},
		}}}, map[string]fileData{"k2": {[]byte("v2"), 0o644}, "pw": {[]byte("s3"), 0o644}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := renderVolume(corev1.Volume{Name: "v", VolumeSource: tt.src}, pod, podFacts{}, objs)
			if !ok {
				t.Fatal("not rendered")
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("%v %v, want %v", got, err, tt.want)
			}
		})
	}
}

func TestCheckHostPath_types(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, nil, 0o644)
	typ := func(t corev1.HostPathType) *corev1.HostPathType { return &t }
	tests := []struct {
		name string
		path string
		t    *corev1.HostPathType
		ok   bool
	}{
		{"unset accepts anything", filepath.Join(dir, "nothing"), nil, true},
		{"directory", dir, typ(corev1.HostPathDirectory), true},
		{"file is not a directory", file, typ(corev1.HostPathDirectory), false},
		{"missing directory", filepath.Join(dir, "x"), typ(corev1.HostPathDirectory), false},
		{"directory or create", filepath.Join(dir, "new/sub"), typ(corev1.HostPathDirectoryOrCreate), true},
		{"file or create", filepath.Join(dir, "new2/f"), typ(corev1.HostPathFileOrCreate), true},
		{"file", file, typ(corev1.HostPathFile), true},
		{"socket", file, typ(corev1.HostPathSocket), false},
		{"char device", "/dev/null", typ(corev1.HostPathCharDev), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkHostPath(&corev1.HostPathVolumeSource{Path: tt.path, Type: tt.t})
			if (err == nil) != tt.ok {
				t.Fatalf("err %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestVolumes_setupMountsAndTeardown(t *testing.T) {
	root := t.TempDir()
	var tmpfs []string
	v := volumes{Root: root, MountTmpfs: func(dir string, size int64) error {
		tmpfs = append(tmpfs, filepath.Base(dir)+":"+resource.NewQuantity(size, resource.BinarySI).String())
		return nil
	}}
	limit := resource.MustParse("64Mi")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "u1"}}
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "mem", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: &limit}}},
		{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
	}
	c := &corev1.Container{Name: "c", VolumeMounts: []corev1.VolumeMount{
		{Name: "scratch", MountPath: "/data", SubPathExpr: "$(POD)"},
		{Name: "mem", MountPath: "/mem", ReadOnly: true},
		{Name: "cfg", MountPath: "/etc/cfg"},
	}}
	objs := mapObjects{cms: map[string]*corev1.ConfigMap{"ns/cfg": {Data: map[string]string{"k": "v"}}}}
	paths, err := v.setup(pod, podFacts{}, objs)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tmpfs, []string{"mem:64Mi"}) {
		t.Fatalf("tmpfs mounts %v", tmpfs)
	}
	mounts, err := containerMounts(pod, c, paths, []string{"POD=web"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Mount{
		{Source: filepath.Join(root, "u1/volumes/kubernetes.io~empty-dir/scratch/web"), Destination: "/data", Type: "bind"},
		{Source: filepath.Join(root, "u1/volumes/kubernetes.io~empty-dir/mem"), Destination: "/mem", Type: "bind", ReadOnly: true},
		{Source: filepath.Join(root, "u1/volumes/kubernetes.io~configmap/cfg"), Destination: "/etc/cfg", Type: "bind", ReadOnly: true},
	}
	if !reflect.DeepEqual(mounts, want) {
		t.Fatalf("mounts\n got %+v\nwant %+v", mounts, want)
	}
	if _, err := os.Stat(want[0].Source); err != nil {
		t.Fatalf("subPath dir: %v", err)
	}
	bad := &corev1.Container{VolumeMounts: []corev1.VolumeMount{{Name: "scratch", MountPath: "/x", SubPath: "../../etc"}}}
	if _, err := containerMounts(pod, bad, paths, nil); err == nil {
		t.Fatal("climbing subPath accepted")
	}
	if err := v.teardown("u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "u1")); !os.IsNotExist(err) {
		t.Fatalf("pod dir left: %v", err)
	}
}
