package coordinator

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestCoordinator_claimsGetTheDefaultClass(t *testing.T) {
	r := startCoordinator(t, t.TempDir(), func(c *Config) { c.Controllers = false })
	ctx := context.Background()
	sc, err := r.cs.StorageV1().StorageClasses().Get(ctx, localPathClassName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sc.Provisioner != "keel.dev/local-path" || *sc.VolumeBindingMode != storagev1.VolumeBindingWaitForFirstConsumer ||
		*sc.ReclaimPolicy != corev1.PersistentVolumeReclaimDelete || sc.Annotations["storageclass.kubernetes.io/is-default-class"] != "true" {
		t.Fatalf("bootstrap storage class: %+v", sc)
	}
	claim := func(name string, class *string) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				StorageClassName: class,
				Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			}}
	}
	pvcs := r.cs.CoreV1().PersistentVolumeClaims("default")
	for _, tc := range []struct {
		name  string
		class *string
		want  *string
	}{
		{"unset", nil, ptr.To(localPathClassName)},
		{"empty", ptr.To(""), ptr.To("")},
		{"named", ptr.To("fast"), ptr.To("fast")},
	} {
		got, err := pvcs.Create(ctx, claim(tc.name, tc.class), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !ptr.Equal(got.Spec.StorageClassName, tc.want) || got.Status.Phase != corev1.ClaimPending {
			t.Errorf("%s: class %v phase %s, want %v Pending", tc.name, ptr.Deref(got.Spec.StorageClassName, "<nil>"), got.Status.Phase, *tc.want)
		}
	}
	// Without a default class, claims stay without one.
	sc.Annotations = nil
	if _, err := r.cs.StorageV1().StorageClasses().Update(ctx, sc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := pvcs.Create(ctx, claim("none", nil), metav1.CreateOptions{})
	if err != nil || got.Spec.StorageClassName != nil {
		t.Fatalf("claim without a default class: %v %v", err, got.Spec.StorageClassName)
	}
}
