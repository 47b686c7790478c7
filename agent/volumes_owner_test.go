package agent

import (
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// testFSGroup is a group the test may give files to: any group as root,
// else the process's own.
func testFSGroup() int64 {
	if os.Geteuid() == 0 {
		return 2000
	}
	return int64(os.Getegid())
}

func statOwner(t *testing.T, p string) (int64, os.FileMode) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	g, _ := groupOf(fi)
	return g, fi.Mode() & (os.ModePerm | os.ModeSetgid)
}

func fsGroupPod(gid int64, policy *corev1.PodFSGroupChangePolicy) *corev1.Pod {
	secretMode := int32(0o400)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "u1"}}
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: &gid, FSGroupChangePolicy: policy}
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"},
			Items: []corev1.KeyToPath{{Key: "k", Path: "sub/k"}}}}},
		{Name: "key", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "key", DefaultMode: &secretMode}}},
		{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
			{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}}},
	}
	return pod
}

func fsGroupObjects() mapObjects {
	return mapObjects{
		cms:     map[string]*corev1.ConfigMap{"ns/cfg": {Data: map[string]string{"k": "v"}}},
		secrets: map[string]*corev1.Secret{"ns/key": {Data: map[string][]byte{"tls.key": []byte("s")}}},
	}
}

func TestVolumes_fsGroupOwnership(t *testing.T) {
	gid := testFSGroup()
	root := t.TempDir()
	v := volumes{Root: root}
	paths, err := v.setup(fsGroupPod(gid, nil), podFacts{}, fsGroupObjects())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path string
		mode os.FileMode
	}{
		{paths["scratch"], 0o777 | os.ModeSetgid},
		{paths["cfg"], 0o755 | os.ModeSetgid},
		{filepath.Join(paths["cfg"], "sub"), 0o755 | os.ModeSetgid},
		{filepath.Join(paths["cfg"], "sub/k"), 0o644},
		{filepath.Join(paths["key"], "..data"), 0o755 | os.ModeSetgid},
		{filepath.Join(paths["key"], "tls.key"), 0o440},
		{filepath.Join(paths["info"], "name"), 0o644},
	} {
		g, m := statOwner(t, tt.path)
		if g != gid || m != tt.mode {
			t.Errorf("%s: group %d mode %v, want %d %v", tt.path, g, m, gid, tt.mode)
		}
	}

	// A file the container wrote without group write gets it back on the
	// next setup under the default policy (Always).
	f := filepath.Join(paths["scratch"], "data")
	if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := v.setup(fsGroupPod(gid, nil), podFacts{}, fsGroupObjects()); err != nil {
		t.Fatal(err)
	}
	if g, m := statOwner(t, f); g != gid || m != 0o660 {
		t.Fatalf("file under Always: group %d mode %v, want %d 0660", g, m, gid)
	}
}

func TestVolumes_fsGroupOnRootMismatch(t *testing.T) {
	gid := testFSGroup()
	onRoot := corev1.FSGroupChangeOnRootMismatch
	root := t.TempDir()
	v := volumes{Root: root}
	pod := fsGroupPod(gid, &onRoot)
	paths, err := v.setup(pod, podFacts{}, fsGroupObjects())
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(paths["scratch"], "data")
	if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := v.setup(pod, podFacts{}, fsGroupObjects()); err != nil {
		t.Fatal(err)
	}
	if _, m := statOwner(t, f); m != 0o600 {
		t.Fatalf("matching root: file mode %v changed, want 0600 kept", m)
	}
	// A root that lost its setgid bit is walked again.
	if err := os.Chmod(paths["scratch"], 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := v.setup(pod, podFacts{}, fsGroupObjects()); err != nil {
		t.Fatal(err)
	}
	if _, m := statOwner(t, f); m != 0o660 {
		t.Fatalf("mismatched root: file mode %v, want 0660", m)
	}
}

func TestVolumes_fsGroupRefreshKeepsUnchangedContent(t *testing.T) {
	gid := testFSGroup()
	v := volumes{Root: t.TempDir()}
	pod := fsGroupPod(gid, nil)
	paths, err := v.setup(pod, podFacts{}, fsGroupObjects())
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.Readlink(filepath.Join(paths["key"], "..data"))
	if err := v.refresh(pod, podFacts{}, fsGroupObjects()); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Readlink(filepath.Join(paths["key"], "..data"))
	if before == "" || before != after {
		t.Fatalf("unchanged secret rewritten: ..data %q -> %q", before, after)
	}
}

func TestOwnedFiles_modes(t *testing.T) {
	files := map[string]fileData{"a": {Mode: 0o400}, "b": {Mode: 0o644}, "c": {Mode: 0o600}}
	if got := ownedFiles(files, nil); got["a"].Mode != 0o400 {
		t.Fatalf("without fsGroup: %v", got["a"].Mode)
	}
	got := ownedFiles(files, &fsOwner{GID: 1})
	for p, want := range map[string]os.FileMode{"a": 0o440, "b": 0o644, "c": 0o640} {
		if got[p].Mode != want {
			t.Errorf("%s: %v, want %v", p, got[p].Mode, want)
		}
	}
}
