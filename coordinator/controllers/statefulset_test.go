package controllers_test

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

func dbStatefulSet(replicas int32) *appsv1.StatefulSet {
	labels := map[string]string{"app": "db"}
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default"},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    ptr.To(replicas),
			ServiceName: "db",
			Selector:    &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "db:1",
					VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}}}},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}},
		},
	}
}

func podImages(t *testing.T, cs kubernetes.Interface, app string) map[string]string {
	out := map[string]string{}
	for _, p := range podsOf(t, cs, app) {
		if p.DeletionTimestamp == nil {
			out[p.Name] = p.Spec.Containers[0].Image
		}
	}
	return out
}

func TestControllers_statefulSetLifecycle(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	sets := c.cs.AppsV1().StatefulSets("default")
	if _, err := sets.Create(ctx, dbStatefulSet(3), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	out := kubectl(t, c, "rollout", "status", "sts/db", "--timeout=60s")
	if !strings.Contains(out, "partitioned roll out complete: 3 new pods have been updated...") &&
		!strings.Contains(out, "statefulset rolling update complete 3 pods at revision") {
		t.Fatalf("rollout status: %q", out)
	}
	for _, name := range []string{"db-0", "db-1", "db-2"} {
		p, err := c.cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Spec.Hostname != name || p.Spec.Subdomain != "db" || p.Labels[appsv1.StatefulSetPodNameLabel] != name ||
			p.Spec.Volumes[0].PersistentVolumeClaim == nil || p.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "data-"+name {
			t.Fatalf("pod %s: hostname %q subdomain %q labels %v volumes %+v", name, p.Spec.Hostname, p.Spec.Subdomain, p.Labels, p.Spec.Volumes)
		}
		pvc, err := c.cs.CoreV1().PersistentVolumeClaims("default").Get(ctx, "data-"+name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("claim of %s: %v", name, err)
		}
		if len(pvc.OwnerReferences) != 0 || ptr.Deref(pvc.Spec.StorageClassName, "") != "local-path" {
			t.Fatalf("claim %s owners %v class %v", pvc.Name, pvc.OwnerReferences, pvc.Spec.StorageClassName)
		}
	}

	waitFor(t, "SuccessfulCreate events", eventSeen(c, "StatefulSet", "db", "SuccessfulCreate", "create Pod db-2 in StatefulSet db successful"))
	kubectl(t, c, "set", "image", "sts/db", "db=db:2")
	kubectl(t, c, "rollout", "status", "sts/db", "--timeout=60s")
	for name, img := range podImages(t, c.cs, "db") {
		if img != "db:2" {
			t.Fatalf("%s runs %s after the update", name, img)
		}
	}
	s, _ := sets.Get(ctx, "db", metav1.GetOptions{})
	if s.Status.CurrentRevision != s.Status.UpdateRevision || s.Status.UpdatedReplicas != 3 || s.Status.ReadyReplicas != 3 {
		t.Fatalf("status after the update: %+v", s.Status)
	}
	hist := kubectl(t, c, "rollout", "history", "sts/db")
	if !strings.Contains(hist, "\n1 ") || !strings.Contains(hist, "\n2 ") {
		t.Fatalf("rollout history:\n%s", hist)
	}
	kubectl(t, c, "rollout", "undo", "sts/db")
	kubectl(t, c, "rollout", "status", "sts/db", "--timeout=60s")
	waitFor(t, "every pod back on db:1", func(ctx context.Context) (bool, error) {
		m := podImages(t, c.cs, "db")
		for _, img := range m {
			if img != "db:1" {
				return false, nil
			}
		}
		return len(m) == 3, nil
	})

	kubectl(t, c, "scale", "sts/db", "--replicas=1")
	waitFor(t, "one pod left", func(ctx context.Context) (bool, error) {
		m := podImages(t, c.cs, "db")
		_, ok := m["db-0"]
		return len(m) == 1 && ok, nil
	})
	kubectl(t, c, "delete", "sts", "db")
	waitFor(t, "pods gone", func(ctx context.Context) (bool, error) { return len(podsOf(t, c.cs, "db")) == 0, nil })
	pvcs, err := c.cs.CoreV1().PersistentVolumeClaims("default").List(ctx, metav1.ListOptions{})
	if err != nil || len(pvcs.Items) != 3 {
		t.Fatalf("claims after delete with Retain: %v %d", err, len(pvcs.Items))
	}
}

func TestControllers_statefulSetDeletesOwnedClaims(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	set := dbStatefulSet(2)
	set.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
	set.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
		WhenDeleted: appsv1.DeletePersistentVolumeClaimRetentionPolicyType, WhenScaled: appsv1.DeletePersistentVolumeClaimRetentionPolicyType}
	if _, err := c.cs.AppsV1().StatefulSets("default").Create(ctx, set, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	claims := func() int {
		l, err := c.cs.CoreV1().PersistentVolumeClaims("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return len(l.Items)
	}
	waitFor(t, "2 pods and claims", func(ctx context.Context) (bool, error) {
		return len(podImages(t, c.cs, "db")) == 2 && claims() == 2, nil
	})
	kubectl(t, c, "scale", "sts/db", "--replicas=1")
	waitFor(t, "claim of db-1 gone", func(ctx context.Context) (bool, error) {
		return len(podImages(t, c.cs, "db")) == 1 && claims() == 1, nil
	})
	kubectl(t, c, "delete", "sts", "db")
	waitFor(t, "claims gone", func(ctx context.Context) (bool, error) { return claims() == 0, nil })
}
