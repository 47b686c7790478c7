package controllers_test

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestControllers_deploymentBecomesAvailable(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	if _, err := c.cs.AppsV1().Deployments("default").Create(ctx, webDeployment("web", 3), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "3 available", rolledOut(c.cs, "web", 3))
	d, _ := c.cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
	if d.Annotations["deployment.kubernetes.io/revision"] != "1" {
		t.Fatalf("deployment revision %q", d.Annotations["deployment.kubernetes.io/revision"])
	}
	var avail, prog *appsv1.DeploymentCondition
	for i := range d.Status.Conditions {
		switch d.Status.Conditions[i].Type {
		case appsv1.DeploymentAvailable:
			avail = &d.Status.Conditions[i]
		case appsv1.DeploymentProgressing:
			prog = &d.Status.Conditions[i]
		}
	}
	waitFor(t, "NewReplicaSetAvailable", func(ctx context.Context) (bool, error) {
		d, err := c.cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
		for _, c := range d.Status.Conditions {
			if c.Type == appsv1.DeploymentProgressing {
				prog = &c
			}
		}
		return err == nil && prog != nil && prog.Reason == "NewReplicaSetAvailable", err
	})
	if avail == nil || avail.Status != corev1.ConditionTrue {
		t.Fatalf("available condition %+v", avail)
	}
	rss, _ := c.cs.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{})
	if len(rss.Items) != 1 {
		t.Fatalf("%d replicasets", len(rss.Items))
	}
	rs := rss.Items[0]
	hash := rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
	if hash == "" || rs.Name != "web-"+hash || rs.Spec.Selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] != hash ||
		!metav1.IsControlledBy(&rs, d) || rs.Annotations["deployment.kubernetes.io/revision"] != "1" {
		t.Fatalf("replicaset %s labels %v selector %v annotations %v", rs.Name, rs.Labels, rs.Spec.Selector, rs.Annotations)
	}
	pods := podsOf(t, c.cs, "web")
	if len(pods) != 3 {
		t.Fatalf("%d pods", len(pods))
	}
	for _, p := range pods {
		if !metav1.IsControlledBy(&p, &rs) || len(p.Name) != len(rs.Name)+6 || p.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash {
			t.Fatalf("pod %s owners %v labels %v", p.Name, p.OwnerReferences, p.Labels)
		}
	}
}

func TestControllers_rollingUpdateKeepsThreeReady(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	deps := c.cs.AppsV1().Deployments("default")
	if _, err := deps.Create(ctx, webDeployment("web", 3), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "first rollout", rolledOut(c.cs, "web", 3))
	w := watchReady(t, c.cs, "web")
	w.arm()
	d, _ := deps.Get(ctx, "web", metav1.GetOptions{})
	d.Spec.Template.Spec.Containers[0].Image = "nginx:1.26"
	if _, err := deps.Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	out := kubectl(t, c, "rollout", "status", "deployment/web", "--timeout=60s")
	if want := `deployment "web" successfully rolled out`; !strings.Contains(out, want) {
		t.Fatalf("rollout status: %q", out)
	}
	for _, p := range podsOf(t, c.cs, "web") {
		if p.Spec.Containers[0].Image != "nginx:1.26" {
			t.Fatalf("pod %s still runs %s", p.Name, p.Spec.Containers[0].Image)
		}
	}
	if n := w.fewest(); n < 3 {
		t.Fatalf("ready pods fell to %d during a rollout with maxUnavailable 0", n)
	}
	d, _ = deps.Get(ctx, "web", metav1.GetOptions{})
	if d.Annotations["deployment.kubernetes.io/revision"] != "2" {
		t.Fatalf("revision after the update: %q", d.Annotations["deployment.kubernetes.io/revision"])
	}
}

func TestControllers_scale(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	deps := c.cs.AppsV1().Deployments("default")
	if _, err := deps.Create(ctx, webDeployment("web", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "2 available", rolledOut(c.cs, "web", 2))
	kubectl(t, c, "scale", "deployment/web", "--replicas=5")
	waitFor(t, "5 available", rolledOut(c.cs, "web", 5))
	if n := len(podsOf(t, c.cs, "web")); n != 5 {
		t.Fatalf("%d pods after scaling to 5", n)
	}
	kubectl(t, c, "scale", "deployment/web", "--replicas=1")
	waitFor(t, "1 available", rolledOut(c.cs, "web", 1))
	waitFor(t, "1 pod", func(ctx context.Context) (bool, error) { return len(podsOf(t, c.cs, "web")) == 1, nil })
}

func TestControllers_deleteCascades(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	deps := c.cs.AppsV1().Deployments("default")
	if _, err := deps.Create(ctx, webDeployment("web", 3), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "3 available", rolledOut(c.cs, "web", 3))
	// An unrelated pod and a bare ReplicaSet's pods must survive.
	bare := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "bare", Labels: map[string]string{"app": "other"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	if _, err := c.cs.CoreV1().Pods("default").Create(ctx, bare, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubectl(t, c, "delete", "deployment", "web")
	waitFor(t, "replicasets and pods gone", func(ctx context.Context) (bool, error) {
		rss, err := c.cs.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		return len(rss.Items) == 0 && len(podsOf(t, c.cs, "web")) == 0, nil
	})
	if _, err := c.cs.CoreV1().Pods("default").Get(ctx, "bare", metav1.GetOptions{}); err != nil {
		t.Fatalf("unrelated pod: %v", err)
	}
}

func TestControllers_replicaSetAdoptsAndReleases(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	pods := c.cs.CoreV1().Pods("default")
	orphan := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "orphan", Labels: map[string]string{"app": "db"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "postgres"}}}}
	if _, err := pods.Create(ctx, orphan, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "postgres"}}}}},
	}
	created, err := c.cs.AppsV1().ReplicaSets("default").Create(ctx, rs, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "2 ready replicas", func(ctx context.Context) (bool, error) {
		got, err := c.cs.AppsV1().ReplicaSets("default").Get(ctx, "db", metav1.GetOptions{})
		return err == nil && got.Status.ReadyReplicas == 2 && got.Status.AvailableReplicas == 2 &&
			got.Status.FullyLabeledReplicas == 2 && got.Status.ObservedGeneration == got.Generation, err
	})
	p, _ := pods.Get(ctx, "orphan", metav1.GetOptions{})
	if !metav1.IsControlledBy(p, created) {
		t.Fatalf("orphan not adopted: %v", p.OwnerReferences)
	}
	if n := len(podsOf(t, c.cs, "db")); n != 2 {
		t.Fatalf("%d pods, want the adopted one and one new", n)
	}
	// Relabelled away, the pod is released and replaced.
	p.Labels = map[string]string{"app": "elsewhere"}
	if _, err := pods.Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "release and replacement", func(ctx context.Context) (bool, error) {
		p, err := pods.Get(ctx, "orphan", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return metav1.GetControllerOf(p) == nil && len(podsOf(t, c.cs, "db")) == 2, nil
	})
	if err := c.cs.AppsV1().ReplicaSets("default").Delete(ctx, "db", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pods of the deleted replicaset gone", func(ctx context.Context) (bool, error) {
		return len(podsOf(t, c.cs, "db")) == 0, nil
	})
	if _, err := pods.Get(ctx, "orphan", metav1.GetOptions{}); apierrors.IsNotFound(err) {
		t.Fatal("the released pod was deleted with its former owner")
	}
}

func TestControllers_kubectlRestartAndUndo(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	deps := c.cs.AppsV1().Deployments("default")
	if _, err := deps.Create(ctx, webDeployment("web", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubectl(t, c, "rollout", "status", "deployment/web", "--timeout=60s")
	kubectl(t, c, "set", "image", "deployment/web", "web=nginx:1.26")
	kubectl(t, c, "rollout", "status", "deployment/web", "--timeout=60s")
	kubectl(t, c, "rollout", "restart", "deployment/web")
	out := kubectl(t, c, "rollout", "status", "deployment/web", "--timeout=60s")
	if !strings.Contains(out, `deployment "web" successfully rolled out`) {
		t.Fatalf("rollout status after restart: %q", out)
	}
	d, _ := deps.Get(ctx, "web", metav1.GetOptions{})
	if d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == "" || d.Annotations["deployment.kubernetes.io/revision"] != "3" {
		t.Fatalf("after restart: template annotations %v, revision %q", d.Spec.Template.Annotations, d.Annotations["deployment.kubernetes.io/revision"])
	}
	hist := kubectl(t, c, "rollout", "history", "deployment/web")
	for _, rev := range []string{"1", "2", "3"} {
		if !strings.Contains(hist, "\n"+rev+" ") {
			t.Fatalf("rollout history lacks revision %s:\n%s", rev, hist)
		}
	}
	kubectl(t, c, "rollout", "undo", "deployment/web", "--to-revision=1")
	out = kubectl(t, c, "rollout", "status", "deployment/web", "--timeout=60s")
	if !strings.Contains(out, "successfully rolled out") {
		t.Fatalf("rollout status after undo: %q", out)
	}
	d, _ = deps.Get(ctx, "web", metav1.GetOptions{})
	if img := d.Spec.Template.Spec.Containers[0].Image; img != "nginx:1.25" || d.Annotations["deployment.kubernetes.io/revision"] != "4" {
		t.Fatalf("after undo: image %s revision %q", img, d.Annotations["deployment.kubernetes.io/revision"])
	}
	rss, _ := c.cs.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{})
	if len(rss.Items) != 3 {
		t.Fatalf("%d replicasets after undo, want the 3 templates (revision 1 reused as 4)", len(rss.Items))
	}
	for _, p := range podsOf(t, c.cs, "web") {
		if p.Spec.Containers[0].Image != "nginx:1.25" {
			t.Fatalf("pod %s runs %s after undo", p.Name, p.Spec.Containers[0].Image)
		}
	}

	// A paused deployment takes template changes without rolling them
	// out; resuming rolls them out.
	kubectl(t, c, "rollout", "pause", "deployment/web")
	kubectl(t, c, "set", "image", "deployment/web", "web=nginx:1.27")
	waitFor(t, "the paused condition", func(ctx context.Context) (bool, error) {
		d, err := deps.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, cond := range d.Status.Conditions {
			if cond.Type == "Progressing" && cond.Reason == "DeploymentPaused" {
				return true, nil
			}
		}
		return false, nil
	})
	if rss, _ := c.cs.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{}); len(rss.Items) != 3 {
		t.Fatalf("a paused deployment made a new replicaset: %d", len(rss.Items))
	}
	kubectl(t, c, "rollout", "resume", "deployment/web")
	if out := kubectl(t, c, "rollout", "status", "deployment/web", "--timeout=60s"); !strings.Contains(out, "successfully rolled out") {
		t.Fatalf("rollout status after resume: %q", out)
	}
	for _, p := range podsOf(t, c.cs, "web") {
		if p.Spec.Containers[0].Image != "nginx:1.27" {
			t.Fatalf("pod %s runs %s after resume", p.Name, p.Spec.Containers[0].Image)
		}
	}
}
