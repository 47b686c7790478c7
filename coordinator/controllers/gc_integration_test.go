package controllers_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func TestGC_orphanKeepsPods(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	if _, err := c.cs.AppsV1().Deployments("default").Create(ctx, webDeployment("web", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "2 available", rolledOut(c.cs, "web", 2))
	rss, _ := c.cs.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{})
	if len(rss.Items) != 1 {
		t.Fatalf("%d replicasets", len(rss.Items))
	}
	rs := rss.Items[0]
	// Orphan the ReplicaSet from its Deployment, then its pods from it.
	kubectl(t, c, "delete", "deployment", "web", "--cascade=orphan")
	waitFor(t, "the deployment gone, its replicaset orphaned", func(ctx context.Context) (bool, error) {
		_, err := c.cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
		got, gerr := c.cs.AppsV1().ReplicaSets("default").Get(ctx, rs.Name, metav1.GetOptions{})
		return apierrors.IsNotFound(err) && gerr == nil && len(got.OwnerReferences) == 0, nil
	})
	kubectl(t, c, "delete", "rs", rs.Name, "--cascade=orphan")
	waitFor(t, "the replicaset gone, its pods orphaned", func(ctx context.Context) (bool, error) {
		_, err := c.cs.AppsV1().ReplicaSets("default").Get(ctx, rs.Name, metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			return false, nil
		}
		pods := podsOf(t, c.cs, "web")
		for _, p := range pods {
			if len(p.OwnerReferences) != 0 {
				return false, nil
			}
		}
		return len(pods) == 2, nil
	})
}

func TestGC_foregroundDeletesDependentsFirst(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	if _, err := c.cs.AppsV1().Deployments("default").Create(ctx, webDeployment("web", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "2 available", rolledOut(c.cs, "web", 2))
	// A finalizer of someone else's holds one pod: the deployment must wait.
	pods := podsOf(t, c.cs, "web")
	held := pods[0]
	held.Finalizers = []string{"example.com/hold"}
	if _, err := c.cs.CoreV1().Pods("default").Update(ctx, &held, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := c.cs.AppsV1().Deployments("default").Delete(ctx, "web",
		metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the held pod being deleted", func(ctx context.Context) (bool, error) {
		p, err := c.cs.CoreV1().Pods("default").Get(ctx, held.Name, metav1.GetOptions{})
		return err == nil && p.DeletionTimestamp != nil, err
	})
	d, err := c.cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil || d.DeletionTimestamp == nil || d.Finalizers[0] != metav1.FinalizerDeleteDependents {
		t.Fatalf("deployment while a dependent remains: %v %+v", err, d.ObjectMeta)
	}
	p, _ := c.cs.CoreV1().Pods("default").Get(ctx, held.Name, metav1.GetOptions{})
	p.Finalizers = nil
	if _, err := c.cs.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "everything gone", func(ctx context.Context) (bool, error) {
		_, err := c.cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
		rss, _ := c.cs.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{})
		return apierrors.IsNotFound(err) && len(rss.Items) == 0 && len(podsOf(t, c.cs, "web")) == 0, nil
	})
}

func TestGC_danglingAndSharedOwners(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	cms := c.cs.CoreV1().ConfigMaps("default")
	a, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner-a"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner-b"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	owner := func(cm *corev1.ConfigMap) metav1.OwnerReference {
		return metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: cm.Name, UID: cm.UID}
	}
	shared := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "shared", OwnerReferences: []metav1.OwnerReference{owner(a), owner(b)}}}
	if _, err := cms.Create(ctx, shared, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A dependent whose owner never existed goes at once.
	ghost := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "ghost", OwnerReferences: []metav1.OwnerReference{
		{APIVersion: "v1", Kind: "ConfigMap", Name: "owner-a", UID: types.UID("not-owner-a")}}}}
	if _, err := cms.Create(ctx, ghost, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the dependent of a missing owner gone", func(ctx context.Context) (bool, error) {
		_, err := cms.Get(ctx, "ghost", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err := cms.Delete(ctx, "owner-a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reference to the deleted owner removed", func(ctx context.Context) (bool, error) {
		got, err := cms.Get(ctx, "shared", metav1.GetOptions{})
		return err == nil && len(got.OwnerReferences) == 1 && got.OwnerReferences[0].UID == b.UID, err
	})
	if err := cms.Delete(ctx, "owner-b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the dependent of both gone", func(ctx context.Context) (bool, error) {
		_, err := cms.Get(ctx, "shared", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
}
