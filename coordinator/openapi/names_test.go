package openapi

import (
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestDefinitionName_kubernetesStyle(t *testing.T) {
	tests := []struct {
		typ  reflect.Type
		want string
	}{
		{reflect.TypeFor[corev1.Pod](), "io.k8s.api.core.v1.Pod"},
		{reflect.TypeFor[appsv1.Deployment](), "io.k8s.api.apps.v1.Deployment"},
		{reflect.TypeFor[metav1.ObjectMeta](), "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
		{reflect.TypeFor[item](), "com.github.keel-edge.keel.coordinator.openapi.item"},
	}
	for _, tt := range tests {
		if got := definitionName(tt.typ); got != tt.want {
			t.Errorf("definitionName(%v) = %q, want %q", tt.typ, got, tt.want)
		}
	}
}

func TestOperationNames_kubernetesStyle(t *testing.T) {
	tests := []struct {
		gv                  schema.GroupVersion
		prefix, tag, apiDir string
	}{
		{schema.GroupVersion{Version: "v1"}, "CoreV1", "core_v1", "api/v1"},
		{schema.GroupVersion{Group: "apps", Version: "v1"}, "AppsV1", "apps_v1", "apis/apps/v1"},
		{schema.GroupVersion{Group: "batch", Version: "v1beta1"}, "BatchV1beta1", "batch_v1beta1", "apis/batch/v1beta1"},
		{schema.GroupVersion{Group: "rbac.authorization.k8s.io", Version: "v1"}, "RbacAuthorizationV1", "rbacAuthorization_v1", "apis/rbac.authorization.k8s.io/v1"},
		{schema.GroupVersion{Group: "keel.example.com", Version: "v1alpha1"}, "KeelExampleComV1alpha1", "keelExampleCom_v1alpha1", "apis/keel.example.com/v1alpha1"},
	}
	for _, tt := range tests {
		if got := operationPrefix(tt.gv); got != tt.prefix {
			t.Errorf("operationPrefix(%v) = %q, want %q", tt.gv, got, tt.prefix)
		}
		if got := tag(tt.gv); got != tt.tag {
			t.Errorf("tag(%v) = %q, want %q", tt.gv, got, tt.tag)
		}
		if got := apiPath(tt.gv); got != tt.apiDir {
			t.Errorf("apiPath(%v) = %q, want %q", tt.gv, got, tt.apiDir)
		}
	}
}
