package apiserver

import (
	"fmt"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// requestInfo is what a Kubernetes resource path and method ask for.
type requestInfo struct {
	GroupVersion schema.GroupVersion
	Namespace    string
	Resource     string
	Name         string
	Subresource  string
	// Verb is one of get, list, watch, create, update, patch, delete,
	// deletecollection.
	Verb string
}

// parseResourcePath reads /api/v1/... and /apis/GROUP/VERSION/... paths:
//
//	PREFIX/RESOURCE[/NAME[/SUBRESOURCE]]
//	PREFIX/namespaces/NS/RESOURCE[/NAME[/SUBRESOURCE]]
//	PREFIX/watch/... (the legacy watch form of the two above)
//
// It returns ok=false for paths that are not resource paths (discovery).
func parseResourcePath(method, path string, query func(string) string) (requestInfo, bool, error) {
	parts := splitPath(path)
	var ri requestInfo
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		ri.GroupVersion = schema.GroupVersion{Version: parts[1]}
		parts = parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		ri.GroupVersion = schema.GroupVersion{Group: parts[1], Version: parts[2]}
		parts = parts[3:]
	default:
		return ri, false, nil
	}
	legacyWatch := false
	if parts[0] == "watch" {
		legacyWatch = true
		parts = parts[1:]
	}
	// namespaces/NS/RESOURCE... is a namespaced resource; namespaces and
	// namespaces/NAME[/SUB] are the namespace resource itself.
	if len(parts) >= 3 && parts[0] == "namespaces" {
		ri.Namespace = parts[1]
		parts = parts[2:]
	}
	switch len(parts) {
	case 0:
		return ri, false, nil
	case 1:
		ri.Resource = parts[0]
	case 2:
		ri.Resource, ri.Name = parts[0], parts[1]
	case 3:
		ri.Resource, ri.Name, ri.Subresource = parts[0], parts[1], parts[2]
	default:
		return ri, true, fmt.Errorf("path %q has too many segments", path)
	}
	if ri.Resource == "" {
		return ri, false, nil
	}

	collection := ri.Name == ""
	switch method {
	case http.MethodGet, http.MethodHead:
		switch {
		case legacyWatch || isTrue(query("watch")):
			ri.Verb = "watch"
		case collection:
			ri.Verb = "list"
		default:
			ri.Verb = "get"
		}
	case http.MethodPost:
		ri.Verb = "create"
	case http.MethodPut:
		ri.Verb = "update"
	case http.MethodPatch:
		ri.Verb = "patch"
	case http.MethodDelete:
		if collection {
			ri.Verb = "deletecollection"
		} else {
			ri.Verb = "delete"
		}
	default:
		return ri, true, fmt.Errorf("method %s is not supported", method)
	}
	if legacyWatch && ri.Verb != "watch" {
		return ri, true, fmt.Errorf("watch paths take only GET")
	}
	return ri, true, nil
}

func splitPath(path string) []string {
	path = strings.Trim(path, "/")
	if path == "" {
		return nil
	}
	return strings.Split(path, "/")
}

func isTrue(s string) bool { return s == "true" || s == "1" }
