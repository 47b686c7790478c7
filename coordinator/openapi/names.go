package openapi

import (
	"reflect"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// definitionName is the name Kubernetes gives the schema of a named Go type:
// the import path with its host reversed, dots for slashes, then the type
// name. k8s.io/api/core/v1.Pod is io.k8s.api.core.v1.Pod.
func definitionName(t reflect.Type) string {
	parts := strings.Split(t.PkgPath(), "/")
	host := strings.Split(parts[0], ".")
	slices.Reverse(host)
	name := append(host, parts[1:]...)
	return strings.Join(append(name, t.Name()), ".")
}

// groupWord is the group as it appears in Kubernetes operation IDs: "Core"
// for the core group, "Apps" for apps, "RbacAuthorization" for
// rbac.authorization.k8s.io.
func groupWord(group string) string {
	if group == "" {
		return "Core"
	}
	group = strings.TrimSuffix(group, ".k8s.io")
	var b strings.Builder
	for _, part := range strings.FieldsFunc(group, func(r rune) bool { return r == '.' || r == '-' }) {
		b.WriteString(upperFirst(part))
	}
	return b.String()
}

// operationPrefix is the group and version part of an operation ID:
// "CoreV1", "AppsV1", "BatchV1beta1".
func operationPrefix(gv schema.GroupVersion) string {
	return groupWord(gv.Group) + upperFirst(gv.Version)
}

// tag is the operation tag Kubernetes uses for a group version: "core_v1",
// "apps_v1", "rbacAuthorization_v1".
func tag(gv schema.GroupVersion) string {
	w := groupWord(gv.Group)
	return strings.ToLower(w[:1]) + w[1:] + "_" + gv.Version
}

// apiPath is the group version's path below the server root, without a
// leading slash: "api/v1" or "apis/apps/v1". It keys the /openapi/v3 index.
func apiPath(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "api/" + gv.Version
	}
	return "apis/" + gv.Group + "/" + gv.Version
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
