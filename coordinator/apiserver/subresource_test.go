package apiserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestServer_statusSubresource(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	deps := s.cs.AppsV1().Deployments("default")
	d, err := deps.Create(ctx, deployment("web", 2), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Generation != 1 {
		t.Fatalf("generation on create = %d, want 1", d.Generation)
	}

	// A status write keeps the spec.
	d.Status.Replicas, d.Status.ReadyReplicas = 2, 1
	*d.Spec.Replicas = 9
	d, err = deps.UpdateStatus(ctx, d, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 2 || d.Status.ReadyReplicas != 1 || d.Generation != 1 {
		t.Fatalf("status update: spec.replicas %d (want 2), ready %d (want 1), generation %d (want 1)", *d.Spec.Replicas, d.Status.ReadyReplicas, d.Generation)
	}

	// A main write keeps the status and bumps the generation on a spec change.
	d.Status.ReadyReplicas = 0
	*d.Spec.Replicas = 3
	d, err = deps.Update(ctx, d, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status.ReadyReplicas != 1 || d.Generation != 2 {
		t.Fatalf("main update: ready %d (want 1 kept), generation %d (want 2)", d.Status.ReadyReplicas, d.Generation)
	}
	// A metadata-only change does not bump the generation.
	d.Labels = map[string]string{"x": "y"}
	if d, err = deps.Update(ctx, d, metav1.UpdateOptions{}); err != nil || d.Generation != 2 {
		t.Fatalf("label change: generation %d (want 2), %v", d.Generation, err)
	}

	// Status patch.
	d, err = deps.Patch(ctx, "web", types.MergePatchType, []byte(`{"status":{"availableReplicas":1},"spec":{"replicas":7}}`), metav1.PatchOptions{}, "status")
	if err != nil {
		t.Fatal(err)
	}
	if d.Status.AvailableReplicas != 1 || *d.Spec.Replicas != 3 {
		t.Fatalf("status patch: available %d, spec.replicas %d", d.Status.AvailableReplicas, *d.Spec.Replicas)
	}
}

func TestServer_scaleSubresource(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	deps := s.cs.AppsV1().Deployments("default")
	if _, err := deps.Create(ctx, deployment("web", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sc, err := deps.GetScale(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sc.Spec.Replicas != 2 || sc.Status.Selector != "app=web" {
		t.Fatalf("scale: %+v", sc)
	}
	sc.Spec.Replicas = 4
	if sc, err = deps.UpdateScale(ctx, "web", sc, metav1.UpdateOptions{}); err != nil || sc.Spec.Replicas != 4 {
		t.Fatalf("update scale: %v %+v", err, sc)
	}
	stale := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", ResourceVersion: "1"}, Spec: autoscalingv1.ScaleSpec{Replicas: 1}}
	if _, err := deps.UpdateScale(ctx, "web", stale, metav1.UpdateOptions{}); err == nil || !strings.Contains(err.Error(), "modified") {
		t.Fatalf("stale scale update: want conflict, got %v", err)
	}
	code, body, _ := s.do("PATCH", "/apis/apps/v1/namespaces/default/deployments/web/scale", "application/merge-patch+json", `{"spec":{"replicas":6}}`)
	if code != http.StatusOK {
		t.Fatalf("scale patch: %d %s", code, body)
	}
	d, _ := deps.Get(ctx, "web", metav1.GetOptions{})
	if *d.Spec.Replicas != 6 || d.Generation != 3 {
		t.Fatalf("after scaling: replicas %d generation %d", *d.Spec.Replicas, d.Generation)
	}
	code, _, _ = s.do("PATCH", "/apis/apps/v1/namespaces/default/deployments/web/scale", "application/merge-patch+json", `{"spec":{"replicas":-1}}`)
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("negative scale: %d, want 422", code)
	}
	if code, _, _ = s.do("GET", "/api/v1/namespaces/default/configmaps/x/scale", "", ""); code != http.StatusNotFound {
		t.Fatalf("scale of a configmap: %d, want 404", code)
	}
}

func TestServer_patchTypes(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	deps := s.cs.AppsV1().Deployments("default")
	if _, err := deps.Create(ctx, deployment("web", 1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	patch := func(pt types.PatchType, body string) *appsv1.Deployment {
		t.Helper()
		d, err := deps.Patch(ctx, "web", pt, []byte(body), metav1.PatchOptions{})
		if err != nil {
			t.Fatalf("%s %s: %v", pt, body, err)
		}
		return d
	}
	// Strategic merge: containers merge by name, the other container stays.
	d := patch(types.StrategicMergePatchType, `{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"localhost/demo:v2"}]}}}}`)
	if c := d.Spec.Template.Spec.Containers; len(c) != 2 || c[0].Image != "localhost/demo:v2" || c[1].Name != "side" {
		t.Fatalf("strategic merge: %+v", c)
	}
	// Merge patch: lists are replaced.
	d = patch(types.MergePatchType, `{"metadata":{"labels":{"team":"a"}}}`)
	if d.Labels["team"] != "a" {
		t.Fatalf("merge patch labels: %v", d.Labels)
	}
	// JSON patch.
	d = patch(types.JSONPatchType, `[{"op":"replace","path":"/spec/replicas","value":3},{"op":"remove","path":"/metadata/labels/team"}]`)
	if *d.Spec.Replicas != 3 || d.Labels["team"] != "" {
		t.Fatalf("json patch: replicas %d labels %v", *d.Spec.Replicas, d.Labels)
	}
	// A JSON patch test op that fails is 422; a patch making the object
	// invalid is 422; a patch carrying a stale resourceVersion is 409.
	for _, tt := range []struct {
		pt   string
		body string
		code int
	}{
		{"application/json-patch+json", `[{"op":"test","path":"/spec/replicas","value":99}]`, 422},
		{"application/merge-patch+json", `{"spec":{"replicas":-5}}`, 422},
		{"application/merge-patch+json", `{"metadata":{"resourceVersion":"1"},"spec":{"replicas":2}}`, 409},
		{"application/json-patch+json", `not json`, 400},
		{"application/strategic-merge-patch+json", `[1]`, 400},
		{"text/plain", `{}`, 415},
	} {
		code, body, _ := s.do("PATCH", "/apis/apps/v1/namespaces/default/deployments/web", tt.pt, tt.body)
		if code != tt.code {
			t.Errorf("%s %s: %d %s, want %d", tt.pt, tt.body, code, body, tt.code)
		}
	}
	if d, _ := deps.Get(ctx, "web", metav1.GetOptions{}); *d.Spec.Replicas != 3 {
		t.Fatalf("a failed patch changed the object: replicas %d", *d.Spec.Replicas)
	}
}

func TestServer_table(t *testing.T) {
	s := newTestServer(t)
	if _, err := s.cs.CoreV1().ConfigMaps("default").Create(context.Background(), configMap("t", map[string]string{"a": "b"}, map[string]string{"k": "v"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	accept := "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
	for _, path := range []string{"/api/v1/namespaces/default/configmaps", "/api/v1/namespaces/default/configmaps/t"} {
		code, body, _ := s.do("GET", path, "", "", "Accept", accept)
		if code != 200 {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		var tbl metav1.Table
		if err := json.Unmarshal([]byte(body), &tbl); err != nil {
			t.Fatal(err)
		}
		if tbl.Kind != "Table" || tbl.ColumnDefinitions[0].Name != "Name" || len(tbl.Rows) != 1 || tbl.Rows[0].Cells[0] != "t" {
			t.Fatalf("%s: table %s", path, body)
		}
		var meta metav1.PartialObjectMetadata
		if err := json.Unmarshal(tbl.Rows[0].Object.Raw, &meta); err != nil || meta.Labels["a"] != "b" {
			t.Fatalf("%s: row object %s", path, tbl.Rows[0].Object.Raw)
		}
	}
}

func TestServer_namespaceDeletion(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	s.mustNamespace("team")
	if _, err := s.cs.CoreV1().ConfigMaps("team").Create(ctx, configMap("c", nil, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.cs.CoreV1().Namespaces().Delete(ctx, "team", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ns, err := s.cs.CoreV1().Namespaces().Get(ctx, "team", metav1.GetOptions{})
	if err == nil && ns.Status.Phase != corev1.NamespaceTerminating {
		t.Fatalf("deleting namespace phase %q", ns.Status.Phase)
	}
	if _, err := s.cs.CoreV1().ConfigMaps("team").Create(ctx, configMap("d", nil, nil), metav1.CreateOptions{}); err == nil {
		t.Fatal("created an object in a terminating namespace")
	}
	w, err := s.cs.CoreV1().Namespaces().Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=team", ResourceVersion: "0"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		if ev.Type == "DELETED" {
			break
		}
	}
	if l, _ := s.cs.CoreV1().ConfigMaps("team").List(ctx, metav1.ListOptions{}); len(l.Items) != 0 {
		t.Fatalf("namespace content left: %d", len(l.Items))
	}
}
