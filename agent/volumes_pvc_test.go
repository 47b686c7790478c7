package agent

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// claimMap serves claims ("ns/name") and volumes besides mapObjects.
type claimMap struct {
	mapObjects
	claims  map[string]*corev1.PersistentVolumeClaim
	volumes map[string]*corev1.PersistentVolume
}

func (m claimMap) PersistentVolumeClaim(ns, name string) (*corev1.PersistentVolumeClaim, error) {
	if c, ok := m.claims[ns+"/"+name]; ok {
		return c, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "persistentvolumeclaims"}, name)
}

func (m claimMap) PersistentVolume(name string) (*corev1.PersistentVolume, error) {
	if v, ok := m.volumes[name]; ok {
		return v, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "persistentvolumes"}, name)
}

func TestVolumesSetup_persistentVolumeClaims(t *testing.T) {
	root := t.TempDir()
	provisioned := filepath.Join(root, "volumes", "pvc-1")
	existing := t.TempDir()
	bound := func(name, volume string) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
			Spec: corev1.PersistentVolumeClaimSpec{VolumeName: volume}, Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound}}
	}
	local := func(name, path, claim string, provisioner string) *corev1.PersistentVolume {
		pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: path}},
				ClaimRef: &corev1.ObjectReference{Namespace: "default", Name: claim, UID: types.UID("uid-" + claim)}}}
		if provisioner != "" {
			pv.Annotations = map[string]string{"pv.kubernetes.io/provisioned-by": provisioner}
		}
		return pv
	}
	objs := claimMap{
		claims: map[string]*corev1.PersistentVolumeClaim{
			"default/data":    bound("data", "pvc-1"),
			"default/manual":  bound("manual", "man"),
			"default/missing": bound("missing", "nowhere"),
			"default/pending": {ObjectMeta: metav1.ObjectMeta{Name: "pending", Namespace: "default"}, Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}},
			"default/stolen":  bound("stolen", "pvc-1"),
			"default/nodir":   bound("nodir", "nodir"),
		},
		volumes: map[string]*corev1.PersistentVolume{
			"pvc-1": local("pvc-1", provisioned, "data", localPathProvisioner),
			"man":   local("man", existing, "manual", ""),
			"nodir": local("nodir", filepath.Join(root, "absent"), "nodir", ""),
		},
	}
	pod := func(claim string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "pod-uid"},
			Spec: corev1.PodSpec{Volumes: []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}}}}
	}
	v := volumes{Root: filepath.Join(root, "pods")}
	for _, tc := range []struct {
		claim, want, wantErr string
	}{
		{"data", provisioned, ""},
		{"manual", existing, ""},
		{"pending", "", `persistentvolumeclaim "pending" is not bound yet`},
		{"gone", "", `persistentvolumeclaim "gone" not found`},
		{"missing", "", `persistentvolume "nowhere" of claim "missing"`},
		{"stolen", "", `persistentvolume "pvc-1" is not bound to claim "stolen"`},
		{"nodir", "", "does not exist on this node"},
	} {
		t.Run(tc.claim, func(t *testing.T) {
			paths, err := v.setup(pod(tc.claim), podFacts{}, objs)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if paths["v"] != tc.want {
				t.Fatalf("path %s, want %s", paths["v"], tc.want)
			}
		})
	}
	info, err := os.Stat(provisioned)
	if err != nil || info.Mode().Perm() != 0o777 {
		t.Fatalf("provisioned directory: %v %v", info, err)
	}
	// Objects that cannot look claims up give a configuration error.
	_, err = v.setup(pod("data"), podFacts{}, mapObjects{})
	var ce *configError
	if !errors.As(err, &ce) {
		t.Fatalf("without claim lookups: %v", err)
	}
}
