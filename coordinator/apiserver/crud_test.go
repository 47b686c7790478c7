package apiserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func configMap(name string, labels map[string]string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Data: data}
}

func deployment(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{
					{Name: "web", Image: "localhost/demo:v1", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}},
					{Name: "side", Image: "localhost/busybox:v1"},
				}},
			},
		},
	}
}

func TestServer_crudLifecycle(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	cms := s.cs.CoreV1().ConfigMaps("default")

	created, err := cms.Create(ctx, configMap("a", map[string]string{"tier": "web"}, map[string]string{"k": "v"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.UID == "" || created.ResourceVersion == "" || created.CreationTimestamp.IsZero() {
		t.Fatalf("server-owned fields not set: %+v", created.ObjectMeta)
	}
	if created.Generation != 0 {
		t.Fatalf("configmaps do not track generation, got %d", created.Generation)
	}
	if _, err := cms.Create(ctx, configMap("b", map[string]string{"tier": "db"}, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Create(ctx, configMap("a", nil, nil), metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("second create: want AlreadyExists, got %v", err)
	}

	list, err := cms.List(ctx, metav1.ListOptions{LabelSelector: "tier=web"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != "a" || list.ResourceVersion == "" {
		t.Fatalf("label selector: got %d items, rv %q", len(list.Items), list.ResourceVersion)
	}
	list, err = cms.List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=b"})
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != "b" {
		t.Fatalf("field selector: %v %v", err, list)
	}
	if _, err := cms.List(ctx, metav1.ListOptions{FieldSelector: "spec.nothing=x"}); !apierrors.IsBadRequest(err) {
		t.Fatalf("unsupported field selector: want BadRequest, got %v", err)
	}

	stale := created.DeepCopy()
	created.Data["k"] = "v2"
	updated, err := cms.Update(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if updated.ResourceVersion == created.ResourceVersion {
		t.Fatal("update did not change resourceVersion")
	}
	stale.Data["k"] = "lost"
	if _, err := cms.Update(ctx, stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("stale update: want Conflict, got %v", err)
	}
	again, err := cms.Update(ctx, updated, metav1.UpdateOptions{})
	if err != nil || again.ResourceVersion != updated.ResourceVersion {
		t.Fatalf("no-op update must not write: %v, rv %s -> %s", err, updated.ResourceVersion, again.ResourceVersion)
	}

	if err := cms.Delete(ctx, "a", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: ptr.To(types.UID("wrong"))}}); !apierrors.IsConflict(err) {
		t.Fatalf("delete with wrong uid precondition: want Conflict, got %v", err)
	}
	if err := cms.Delete(ctx, "a", metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Get(ctx, "a", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("get after delete: want NotFound, got %v", err)
	}
	if err := cms.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "tier=db"}); err != nil {
		t.Fatal(err)
	}
	if list, _ := cms.List(ctx, metav1.ListOptions{}); len(list.Items) != 0 {
		t.Fatalf("deletecollection left %d items", len(list.Items))
	}
}

func TestServer_generateName(t *testing.T) {
	s := newTestServer(t)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "gen-"}}
	out, err := s.cs.CoreV1().ConfigMaps("default").Create(context.Background(), cm, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.Name, "gen-") || len(out.Name) != len("gen-")+5 {
		t.Fatalf("generated name %q", out.Name)
	}
}

func TestServer_errors(t *testing.T) {
	s := newTestServer(t)
	tests := []struct {
		name, method, path, ctype, body string
		code                            int
		contains                        string
	}{
		{"malformed json", "POST", "/api/v1/namespaces/default/configmaps", "application/json", `{"metadata":`, 400, `ConfigMap in version "v1" cannot be handled as a ConfigMap`},
		{"malformed yaml", "POST", "/api/v1/namespaces/default/configmaps", "application/yaml", "a: [", 400, "YAML"},
		{"unknown kind", "GET", "/api/v1/namespaces/default/widgets", "", "", 404, "could not find"},
		{"unknown group", "GET", "/apis/example.com/v1/things", "", "", 404, ""},
		{"missing namespace", "POST", "/api/v1/namespaces/nope/configmaps", "application/json", `{"metadata":{"name":"x"}}`, 404, `namespaces "nope" not found`},
		{"invalid pod", "POST", "/api/v1/namespaces/default/pods", "application/json", `{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c"}]}}`, 422, "spec.containers[0].image"},
		{"invalid name", "POST", "/api/v1/namespaces/default/configmaps", "application/json", `{"metadata":{"name":"Bad_Name"}}`, 422, "metadata.name"},
		{"strict unknown field", "POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Strict", "application/json", `{"metadata":{"name":"x"},"bogus":1}`, 400, `unknown field "bogus"`},
		{"kind mismatch", "POST", "/api/v1/namespaces/default/configmaps", "application/json", `{"kind":"Secret","apiVersion":"v1","metadata":{"name":"x"}}`, 400, "does not match"},
		{"not found", "GET", "/api/v1/namespaces/default/configmaps/none", "", "", 404, `configmaps "none" not found`},
		{"protected namespace", "DELETE", "/api/v1/namespaces/default", "", "", 403, "may not be deleted"},
		{"server-side apply", "PATCH", "/api/v1/namespaces/default/configmaps/x", "application/apply-patch+yaml", "a: b", 415, "server-side apply"},
		{"protobuf only", "GET", "/api/v1/namespaces", "", "", 406, "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.code == 406 {
				hdr = []string{"Accept", "application/vnd.kubernetes.protobuf"}
			}
			code, body, _ := s.do(tt.method, tt.path, tt.ctype, tt.body, hdr...)
			var st metav1.Status
			if err := json.Unmarshal([]byte(body), &st); err != nil || st.Kind != "Status" || int(st.Code) != tt.code {
				t.Fatalf("body is not a Status with code %d: %s", tt.code, body)
			}
			if code != tt.code || !strings.Contains(st.Message, tt.contains) {
				t.Fatalf("got %d %q, want %d containing %q", code, st.Message, tt.code, tt.contains)
			}
		})
	}
	t.Run("invalid has causes", func(t *testing.T) {
		_, body, _ := s.do("POST", "/api/v1/namespaces/default/pods", "application/json", `{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c"}]}}`)
		var st metav1.Status
		json.Unmarshal([]byte(body), &st)
		if st.Details == nil || len(st.Details.Causes) == 0 || st.Details.Causes[0].Field == "" {
			t.Fatalf("422 without field causes: %s", body)
		}
	})
	t.Run("warn unknown field", func(t *testing.T) {
		code, _, h := s.do("POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Warn", "application/json", `{"metadata":{"name":"w"},"bogus":1}`)
		if code != http.StatusCreated || !strings.Contains(h.Get("Warning"), "bogus") {
			t.Fatalf("got %d, warning %q", code, h.Get("Warning"))
		}
	})
}

func TestServer_unauthenticated(t *testing.T) {
	s := newTestServer(t)
	for _, path := range []string{"/api", "/api/v1/namespaces", "/version", "/openapi/v2", "/keel/v1/status"} {
		req, _ := http.NewRequest("GET", s.ts.URL+path, nil)
		resp, err := s.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s without credentials: %d, want 401", path, resp.StatusCode)
		}
		req.Header.Set("Authorization", "Bearer wrong")
		resp, _ = s.ts.Client().Do(req)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s with a wrong token: %d, want 401", path, resp.StatusCode)
		}
	}
}

func TestServer_resourceVersionSplicedBeforeUserData(t *testing.T) {
	s := newTestServer(t)
	cm := configMap("nul", map[string]string{"a": "b"}, map[string]string{"k": "\x00rv\x00"})
	cm.Annotations = map[string]string{"x": "\x00rv\x00"}
	out, err := s.cs.CoreV1().ConfigMaps("default").Create(context.Background(), cm, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.cs.CoreV1().ConfigMaps("default").Get(context.Background(), "nul", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Data["k"] != "\x00rv\x00" || got.Annotations["x"] != "\x00rv\x00" || got.ResourceVersion != out.ResourceVersion || got.ResourceVersion == "" {
		t.Fatalf("data %q annotation %q rv %q/%q", got.Data["k"], got.Annotations["x"], got.ResourceVersion, out.ResourceVersion)
	}
}
