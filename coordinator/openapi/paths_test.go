package openapi

import (
	"slices"
	"testing"

	"k8s.io/kube-openapi/pkg/validation/spec"
)

func TestKindPaths_layout(t *testing.T) {
	docs, err := buildDocuments(testRegistry(t))
	if err != nil {
		t.Fatalf("buildDocuments: %v", err)
	}
	paths := docs.v2.Paths.Paths
	type want struct {
		method, id, action, kind string
	}
	tests := []struct {
		path string
		ops  []want
	}{
		{"/api/v1/namespaces/{namespace}/pods", []want{
			{"GET", "listCoreV1NamespacedPod", "list", "Pod"},
			{"POST", "createCoreV1NamespacedPod", "post", "Pod"},
			{"DELETE", "deleteCoreV1CollectionNamespacedPod", "deletecollection", "Pod"},
		}},
		{"/api/v1/namespaces/{namespace}/pods/{name}", []want{
			{"GET", "readCoreV1NamespacedPod", "get", "Pod"},
			{"PUT", "replaceCoreV1NamespacedPod", "put", "Pod"},
			{"PATCH", "patchCoreV1NamespacedPod", "patch", "Pod"},
			{"DELETE", "deleteCoreV1NamespacedPod", "delete", "Pod"},
		}},
		{"/api/v1/namespaces/{namespace}/pods/{name}/status", []want{
			{"GET", "readCoreV1NamespacedPodStatus", "get", "Pod"},
			{"PATCH", "patchCoreV1NamespacedPodStatus", "patch", "Pod"},
		}},
		{"/api/v1/pods", []want{{"GET", "listCoreV1PodForAllNamespaces", "list", "Pod"}}},
		{"/api/v1/watch/namespaces/{namespace}/pods", []want{{"GET", "watchCoreV1NamespacedPodList", "watchlist", "Pod"}}},
		{"/api/v1/watch/namespaces/{namespace}/pods/{name}", []want{{"GET", "watchCoreV1NamespacedPod", "watch", "Pod"}}},
		{"/api/v1/watch/pods", []want{{"GET", "watchCoreV1PodListForAllNamespaces", "watchlist", "Pod"}}},
		{"/api/v1/namespaces", []want{{"GET", "listCoreV1Namespace", "list", "Namespace"}}},
		{"/api/v1/namespaces/{name}/status", []want{{"PUT", "replaceCoreV1NamespaceStatus", "put", "Namespace"}}},
		{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", []want{
			{"GET", "readAppsV1NamespacedDeploymentScale", "get", "Scale"},
			{"PATCH", "patchAppsV1NamespacedDeploymentScale", "patch", "Scale"},
		}},
		{"/apis/apps/v1/deployments", []want{{"GET", "listAppsV1DeploymentForAllNamespaces", "list", "Deployment"}}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			item, ok := paths[tt.path]
			if !ok {
				t.Fatalf("no path %s", tt.path)
			}
			for _, w := range tt.ops {
				op := operation(item, w.method)
				if op == nil {
					t.Fatalf("%s %s: no operation", w.method, tt.path)
				}
				if op.ID != w.id || op.Extensions[extAction] != w.action {
					t.Errorf("%s %s = %s (%v), want %s (%s)", w.method, tt.path, op.ID, op.Extensions[extAction], w.id, w.action)
				}
				if gvk, _ := op.Extensions[extGVK].(map[string]string); gvk["kind"] != w.kind {
					t.Errorf("%s %s kind = %v, want %s", w.method, tt.path, gvk, w.kind)
				}
				// Writes take all three; reads and deletes take no field
				// options (deletes do take dryRun).
				writes := w.method == "POST" || w.method == "PUT" || w.method == "PATCH"
				for _, p := range []string{"fieldValidation", "fieldManager", "dryRun"} {
					has := slices.ContainsFunc(op.Parameters, func(q spec.Parameter) bool { return q.In == "query" && q.Name == p })
					if writes && !has || !writes && has && p != "dryRun" {
						t.Errorf("%s %s: has query parameter %s = %v", w.method, tt.path, p, has)
					}
				}
				if w.method == "PATCH" && !slices.Equal(op.Consumes, consumesPatch) {
					t.Errorf("PATCH %s consumes %v", tt.path, op.Consumes)
				}
			}
		})
	}
	for _, absent := range []string{
		"/api/v1/namespaces/{namespace}/configmaps/{name}/status", // no status subresource
		"/api/v1/namespaces/{namespace}/pods/{name}/scale",        // no scale subresource
		"/api/v1/namespaces/{namespace}/namespaces",               // cluster-scoped
		"/apis/apps/v1/namespaces/{namespace}/pods",               // other group
	} {
		if _, ok := paths[absent]; ok {
			t.Errorf("path %s should not be served", absent)
		}
	}
}

func operation(item spec.PathItem, method string) *spec.Operation {
	switch method {
	case "GET":
		return item.Get
	case "POST":
		return item.Post
	case "PUT":
		return item.Put
	case "PATCH":
		return item.Patch
	case "DELETE":
		return item.Delete
	}
	return nil
}

func TestBuildDocuments_kindExtensions(t *testing.T) {
	docs, err := buildDocuments(testRegistry(t))
	if err != nil {
		t.Fatalf("buildDocuments: %v", err)
	}
	tests := []struct {
		def  string
		want []map[string]string
	}{
		{"io.k8s.api.core.v1.Pod", []map[string]string{{"group": "", "version": "v1", "kind": "Pod"}}},
		{"io.k8s.api.apps.v1.DeploymentList", []map[string]string{{"group": "apps", "version": "v1", "kind": "DeploymentList"}}},
		{"io.k8s.api.autoscaling.v1.Scale", []map[string]string{{"group": "autoscaling", "version": "v1", "kind": "Scale"}}},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.Status", []map[string]string{{"group": "", "version": "v1", "kind": "Status"}}},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions", []map[string]string{
			{"group": "", "version": "v1", "kind": "DeleteOptions"}, {"group": "apps", "version": "v1", "kind": "DeleteOptions"},
		}},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent", []map[string]string{
			{"group": "", "version": "v1", "kind": "WatchEvent"}, {"group": "apps", "version": "v1", "kind": "WatchEvent"},
		}},
		{"io.k8s.api.core.v1.PodSpec", nil},
	}
	for _, tt := range tests {
		t.Run(tt.def, func(t *testing.T) {
			sch, ok := docs.v2.Definitions[tt.def]
			if !ok {
				t.Fatalf("no definition %s", tt.def)
			}
			got, _ := sch.Extensions[extGVK].([]map[string]string)
			if !slices.EqualFunc(got, tt.want, func(a, b map[string]string) bool {
				return a["group"] == b["group"] && a["version"] == b["version"] && a["kind"] == b["kind"]
			}) {
				t.Errorf("%s = %v, want %v", extGVK, got, tt.want)
			}
			v3 := docs.v3[docs.gvs[0]].Components.Schemas[tt.def]
			if v3 != nil && len(tt.want) > 0 && v3.Extensions[extGVK] == nil {
				t.Errorf("v3 %s lacks %s", tt.def, extGVK)
			}
		})
	}
}
