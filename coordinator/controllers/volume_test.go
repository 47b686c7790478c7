package controllers_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func newClaim(name string, class *string, size string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: class,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}},
		}}
}

func TestControllers_localPathProvisionsOnTheConsumersNode(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	createNode(t, c.cs, "edge-1", map[string]string{corev1.LabelHostname: "edge-1"})
	pvcs := c.cs.CoreV1().PersistentVolumeClaims("default")
	pvc, err := pvcs.Create(ctx, newClaim("data", nil, "2Gi"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a WaitForFirstConsumer event", func(ctx context.Context) (bool, error) {
		evs, err := c.cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=data"})
		return err == nil && len(evs.Items) > 0 && evs.Items[0].Reason == "WaitForFirstConsumer", err
	})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "default"},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Image: "busybox", VolumeMounts: []corev1.VolumeMount{{Name: "d", MountPath: "/d"}}}},
			Volumes:    []corev1.Volume{{Name: "d", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}},
		}}
	if _, err := c.cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "app"}, Target: corev1.ObjectReference{Kind: "Node", Name: "edge-1"}}
	if err := c.cs.CoreV1().Pods("default").Bind(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pvName := "pvc-" + string(pvc.UID)
	waitFor(t, "claim and volume bound", func(ctx context.Context) (bool, error) {
		got, err := pvcs.Get(ctx, "data", metav1.GetOptions{})
		if err != nil || got.Status.Phase != corev1.ClaimBound {
			return false, err
		}
		pv, err := c.cs.CoreV1().PersistentVolumes().Get(ctx, pvName, metav1.GetOptions{})
		return err == nil && pv.Status.Phase == corev1.VolumeBound, nil
	})
	pv, _ := c.cs.CoreV1().PersistentVolumes().Get(ctx, pvName, metav1.GetOptions{})
	if pv.Spec.Local == nil || pv.Spec.Local.Path != "/var/lib/keel/volumes/"+pvName || pv.Spec.ClaimRef.Name != "data" ||
		pv.Spec.NodeAffinity.Required.NodeSelectorTerms[0].MatchExpressions[0].Values[0] != "edge-1" {
		t.Fatalf("volume %+v", pv.Spec)
	}
	got, _ := pvcs.Get(ctx, "data", metav1.GetOptions{})
	if got.Spec.VolumeName != pvName || got.Annotations["pv.kubernetes.io/bind-completed"] != "yes" ||
		got.Annotations["volume.kubernetes.io/selected-node"] != "edge-1" || got.Status.Capacity.Storage().String() != "2Gi" {
		t.Fatalf("claim %+v %+v", got.ObjectMeta.Annotations, got.Status)
	}
	out := kubectl(t, c, "get", "pvc", "data")
	if !strings.Contains(out, "Bound") || !strings.Contains(out, pvName) || !strings.Contains(out, "local-path") {
		t.Fatalf("kubectl get pvc:\n%s", out)
	}
	// Reclaim policy Delete: the volume goes with its claim.
	if err := c.cs.CoreV1().Pods("default").Delete(ctx, "app", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	if err := pvcs.Delete(ctx, "data", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "volume deleted", func(ctx context.Context) (bool, error) {
		l, err := c.cs.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
		return err == nil && len(l.Items) == 0, err
	})
}

func TestControllers_preCreatedVolumeBinds(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "manual-1"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("5Gi")},
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName:       "manual",
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv/manual-1"}},
		}}
	if _, err := c.cs.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "volume available", func(ctx context.Context) (bool, error) {
		got, err := c.cs.CoreV1().PersistentVolumes().Get(ctx, "manual-1", metav1.GetOptions{})
		return err == nil && got.Status.Phase == corev1.VolumeAvailable, err
	})
	if _, err := c.cs.CoreV1().PersistentVolumeClaims("default").Create(ctx, newClaim("big", ptr.To("manual"), "10Gi"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.cs.CoreV1().PersistentVolumeClaims("default").Create(ctx, newClaim("small", ptr.To("manual"), "1Gi"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "small bound to manual-1", func(ctx context.Context) (bool, error) {
		got, err := c.cs.CoreV1().PersistentVolumeClaims("default").Get(ctx, "small", metav1.GetOptions{})
		return err == nil && got.Status.Phase == corev1.ClaimBound && got.Spec.VolumeName == "manual-1", err
	})
	big, _ := c.cs.CoreV1().PersistentVolumeClaims("default").Get(ctx, "big", metav1.GetOptions{})
	if big.Status.Phase != corev1.ClaimPending {
		t.Fatalf("a 10Gi claim bound a 5Gi volume: %+v", big.Status)
	}
	// Retain: deleting the claim releases the volume and keeps it.
	if err := c.cs.CoreV1().PersistentVolumeClaims("default").Delete(ctx, "small", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "volume released", func(ctx context.Context) (bool, error) {
		got, err := c.cs.CoreV1().PersistentVolumes().Get(ctx, "manual-1", metav1.GetOptions{})
		return err == nil && got.Status.Phase == corev1.VolumeReleased, err
	})
}
