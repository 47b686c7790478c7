package openapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/openapi3"
	"k8s.io/client-go/rest"
	"k8s.io/kube-openapi/pkg/util/proto"
	protovalidation "k8s.io/kube-openapi/pkg/util/proto/validation"
	kubectlopenapi "k8s.io/kubectl/pkg/util/openapi"
	"sigs.k8s.io/yaml"
)

var (
	podGVK        = corev1.SchemeGroupVersion.WithKind("Pod")
	serviceGVK    = corev1.SchemeGroupVersion.WithKind("Service")
	namespaceGVK  = corev1.SchemeGroupVersion.WithKind("Namespace")
	deploymentGVK = appsv1.SchemeGroupVersion.WithKind("Deployment")
)

// clients are the client-go and kubectl pieces kubectl itself uses, pointed
// at a test server.
type clients struct {
	discovery *discovery.DiscoveryClient
	dynamic   dynamic.Interface
}

func newClients(t *testing.T) clients {
	t.Helper()
	_, srv := testServer(t)
	cfg := &rest.Config{Host: srv.URL}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatalf("discovery client: %v", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("dynamic client: %v", err)
	}
	return clients{discovery: dc, dynamic: dyn}
}

// v2Resources parses /openapi/v2, fetched as protobuf, the way kubectl does.
func (c clients) v2Resources(t *testing.T) (*openapi_v2.Document, kubectlopenapi.Resources) {
	t.Helper()
	doc, err := c.discovery.OpenAPISchema()
	if err != nil {
		t.Fatalf("OpenAPISchema: %v", err)
	}
	if _, err := proto.NewOpenAPIData(doc); err != nil {
		t.Fatalf("proto.NewOpenAPIData: %v", err)
	}
	res, err := kubectlopenapi.NewOpenAPIData(doc)
	if err != nil {
		t.Fatalf("kubectl NewOpenAPIData: %v", err)
	}
	return doc, res
}

func TestQueryParamVerifier_fieldValidation(t *testing.T) {
	c := newClients(t)
	v2 := resource.NewQueryParamVerifier(c.dynamic, c.discovery, resource.QueryParamFieldValidation)
	v3 := resource.NewQueryParamVerifierV3(c.dynamic, c.discovery.OpenAPIV3(), resource.QueryParamFieldValidation)
	tests := []struct {
		name        string
		verifier    resource.Verifier
		gvk         schema.GroupVersionKind
		unsupported bool
	}{
		{"v2 pod", v2, podGVK, false},
		{"v2 service", v2, serviceGVK, false},
		{"v2 namespace", v2, namespaceGVK, false},
		{"v2 deployment", v2, deploymentGVK, false},
		{"v2 scale", v2, schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}, false},
		{"v2 list", v2, schema.GroupVersionKind{Version: "v1", Kind: "List"}, true},
		{"v3 pod", v3, podGVK, false},
		{"v3 service", v3, serviceGVK, false},
		{"v3 namespace", v3, namespaceGVK, false},
		{"v3 deployment", v3, deploymentGVK, false},
		{"v3 unserved group", v3, schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.verifier.HasSupport(tt.gvk)
			if tt.unsupported {
				if !resource.IsParamUnsupportedError(err) {
					t.Fatalf("HasSupport(%v) = %v, want unsupported", tt.gvk, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("HasSupport(%v) = %v, want supported", tt.gvk, err)
			}
		})
	}
}

func TestOpenAPI3Root_groupVersions(t *testing.T) {
	c := newClients(t)
	root := openapi3.NewRoot(c.discovery.OpenAPIV3())
	gvs, err := root.GroupVersions()
	if err != nil {
		t.Fatalf("GroupVersions: %v", err)
	}
	if got := len(gvs); got != 2 || gvs[0] != appsv1.SchemeGroupVersion || gvs[1] != corev1.SchemeGroupVersion {
		t.Fatalf("GroupVersions = %v, want [apps/v1 v1]", gvs)
	}
	tests := []struct {
		gv        schema.GroupVersion
		path      string
		schemas   []string
		noSchemas []string
	}{
		{corev1.SchemeGroupVersion, "/api/v1/namespaces/{namespace}/pods/{name}/status",
			[]string{"io.k8s.api.core.v1.Pod", "io.k8s.api.core.v1.ServiceList", "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent"},
			[]string{"io.k8s.api.apps.v1.Deployment", "io.k8s.api.autoscaling.v1.Scale"}},
		{appsv1.SchemeGroupVersion, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale",
			[]string{"io.k8s.api.apps.v1.Deployment", "io.k8s.api.autoscaling.v1.Scale", "io.k8s.api.core.v1.PodSpec", "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"},
			[]string{"io.k8s.api.core.v1.Service"}},
	}
	for _, tt := range tests {
		t.Run(tt.gv.String(), func(t *testing.T) {
			doc, err := root.GVSpec(tt.gv)
			if err != nil {
				t.Fatalf("GVSpec(%v): %v", tt.gv, err)
			}
			if doc.Paths == nil || doc.Paths.Paths[tt.path] == nil {
				t.Fatalf("GVSpec(%v) has no path %s", tt.gv, tt.path)
			}
			for _, name := range tt.schemas {
				if doc.Components.Schemas[name] == nil {
					t.Errorf("GVSpec(%v) lacks schema %s", tt.gv, name)
				}
			}
			for _, name := range tt.noSchemas {
				if doc.Components.Schemas[name] != nil {
					t.Errorf("GVSpec(%v) has schema %s of another group version", tt.gv, name)
				}
			}
		})
	}
}

func TestV2Resources_lookup(t *testing.T) {
	c := newClients(t)
	_, res := c.v2Resources(t)
	for _, gvk := range []schema.GroupVersionKind{podGVK, serviceGVK, deploymentGVK, corev1.SchemeGroupVersion.WithKind("PodList")} {
		if res.LookupResource(gvk) == nil {
			t.Errorf("LookupResource(%v) = nil", gvk)
		}
	}
	if res.LookupResource(schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"}) != nil {
		t.Errorf("LookupResource(batch/v1 Job) found a schema for an unserved kind")
	}
	consumes := res.GetConsumes(podGVK, "PATCH")
	if !strings.Contains(strings.Join(consumes, " "), "application/strategic-merge-patch+json") {
		t.Errorf("GetConsumes(Pod, PATCH) = %v, want strategic merge patch among them", consumes)
	}
}

// validateManifest is what kubectl's client-side schema validation
// (k8s.io/kubectl/pkg/validation, NewSchemaValidation) does with one
// object: look its kind up in the v2 resources and validate the model.
// That package is not imported here because it needs a module
// (github.com/exponent-io/jsonpath) that go.sum does not list.
func validateManifest(res kubectlopenapi.Resources, manifest string) error {
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(manifest), &obj); err != nil {
		return err
	}
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return err
	}
	model := res.LookupResource(gv.WithKind(kind))
	if model == nil {
		return fmt.Errorf("no schema for %s %s", apiVersion, kind)
	}
	return errors.Join(protovalidation.ValidateModel(obj, model, kind)...)
}

func TestSchemaValidation_manifests(t *testing.T) {
	c := newClients(t)
	_, res := c.v2Resources(t)
	tests := []struct {
		name    string
		yaml    string
		wantErr string
	}{
		{"valid pod", `
apiVersion: v1
kind: Pod
metadata: {name: x, labels: {app: web}, creationTimestamp: "2024-01-02T03:04:05Z"}
spec:
  containers:
  - name: web
    image: nginx
    ports: [{containerPort: 80, protocol: TCP}]
    resources: {limits: {cpu: 500m, memory: 1Gi}, requests: {cpu: 1}}
    readinessProbe: {httpGet: {port: http, path: /}}
    livenessProbe: {tcpSocket: {port: 80}}
  volumes: [{name: data, emptyDir: {sizeLimit: 1Gi}}]
`, ""},
		{"valid deployment", `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 25%, maxUnavailable: 1}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
`, ""},
		{"valid configmap with binary data", `
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data: {a: b}
binaryData: {k: aGVsbG8=}
`, ""},
		{"unknown field", `
apiVersion: v1
kind: Pod
metadata: {name: x}
spec:
  containers: [{name: web, image: nginx, imagePullPolicyy: Always}]
`, `unknown field "imagePullPolicyy"`},
		{"missing required field", `
apiVersion: v1
kind: Pod
metadata: {name: x}
spec:
  containers: [{image: nginx}]
`, `missing required field "name"`},
		{"wrong type", `
apiVersion: v1
kind: Service
metadata: {name: s}
spec: {ports: [{port: "eighty"}]}
`, `invalid type for io.k8s.api.core.v1.ServicePort.port`},
		{"deployment without selector", `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template: {spec: {containers: [{name: web, image: nginx}]}}
`, `missing required field "selector"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateManifest(res, tt.yaml)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("validate = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("validate = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestPatchMeta_containersMergeByName(t *testing.T) {
	c := newClients(t)
	_, res := c.v2Resources(t)
	v3, err := openapi3.NewRoot(c.discovery.OpenAPIV3()).GVSpec(corev1.SchemeGroupVersion)
	if err != nil {
		t.Fatalf("GVSpec: %v", err)
	}
	lookups := map[string]strategicpatch.LookupPatchMeta{
		"v2": strategicpatch.NewPatchMetaFromOpenAPI(res.LookupResource(podGVK)),
		"v3": strategicpatch.PatchMetaFromOpenAPIV3{Schema: v3.Components.Schemas["io.k8s.api.core.v1.Pod"], SchemaList: v3.Components.Schemas},
	}
	for name, pod := range lookups {
		t.Run(name, func(t *testing.T) {
			spec, _, err := pod.LookupPatchMetadataForStruct("spec")
			if err != nil {
				t.Fatalf("spec: %v", err)
			}
			_, meta, err := spec.LookupPatchMetadataForSlice("containers")
			if err != nil {
				t.Fatalf("containers: %v", err)
			}
			if got := meta.GetPatchMergeKey(); got != "name" {
				t.Errorf("containers merge key = %q, want name", got)
			}
			if got := meta.GetPatchStrategies(); len(got) != 1 || got[0] != "merge" {
				t.Errorf("containers strategies = %v, want [merge]", got)
			}

			// A three-way patch that changes one container's image names
			// the container instead of replacing the list.
			original := `{"spec":{"containers":[{"name":"a","image":"one"},{"name":"b","image":"two"}]}}`
			modified := `{"spec":{"containers":[{"name":"a","image":"one"},{"name":"b","image":"three"}]}}`
			patch, err := strategicpatch.CreateThreeWayMergePatch([]byte(original), []byte(modified), []byte(original), pod, false)
			if err != nil {
				t.Fatalf("CreateThreeWayMergePatch: %v", err)
			}
			var got any
			if err := json.Unmarshal(patch, &got); err != nil {
				t.Fatalf("patch %s: %v", patch, err)
			}
			// Re-encoding sorts the keys.
			want := `{"spec":{"$setElementOrder/containers":[{"name":"a"},{"name":"b"}],"containers":[{"image":"three","name":"b"}]}}`
			if gotJSON, _ := json.Marshal(got); string(gotJSON) != want {
				t.Errorf("patch = %s, want %s: the changed container only, keyed by name", gotJSON, want)
			}
		})
	}
}
