package agent

import (
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDeletedVolumeDir(t *testing.T) {
	const name = "pvc-0b7c6a4e-2f0e-4c55-9a57-3d1f6f1e9a10"
	pv := func(mutate func(*corev1.PersistentVolume)) *corev1.PersistentVolume {
		v := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{"pv.kubernetes.io/provisioned-by": localPathProvisioner}},
			Spec: corev1.PersistentVolumeSpec{
				PersistentVolumeSource: corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/var/lib/keel/volumes/" + name}},
				NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
					MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{"node-1"}}}}}}},
			},
		}
		if mutate != nil {
			mutate(v)
		}
		return v
	}
	for _, tc := range []struct {
		name string
		pv   *corev1.PersistentVolume
		want string
	}{
		{"ours", pv(nil), "/var/lib/keel/volumes/" + name},
		{"another node", pv(func(v *corev1.PersistentVolume) {
			v.Spec.NodeAffinity.Required.NodeSelectorTerms[0].MatchExpressions[0].Values = []string{"node-2"}
		}), ""},
		{"not provisioned here", pv(func(v *corev1.PersistentVolume) { v.Annotations = nil }), ""},
		{"path not named after the volume", pv(func(v *corev1.PersistentVolume) { v.Spec.Local.Path = "/var/lib/keel" }), ""},
		{"path with dots", pv(func(v *corev1.PersistentVolume) { v.Spec.Local.Path = "/x/../" + name }), ""},
		{"name not pvc-uid", pv(func(v *corev1.PersistentVolume) { v.Name = "data"; v.Spec.Local.Path = "/srv/data" }), ""},
		{"hostPath", pv(func(v *corev1.PersistentVolume) {
			v.Spec.Local = nil
			v.Spec.HostPath = &corev1.HostPathVolumeSource{Path: "/srv/" + name}
		}), ""},
		{"no affinity", pv(func(v *corev1.PersistentVolume) { v.Spec.NodeAffinity = nil }), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := deletedVolumeDir(tc.pv, "node-1")
			if got != tc.want || ok != (tc.want != "") {
				t.Fatalf("%q %v, want %q", got, ok, tc.want)
			}
		})
	}
}

func TestRemoveVolumeDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pvc-1")
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := removeVolumeDir(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("directory still there: %v", err)
	}
}
