package openapi

import (
	"net/http"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/keel-edge/keel/coordinator/kinds"
)

// Media types the operations consume and produce.
var (
	consumesAny   = []string{"*/*"}
	consumesPatch = []string{"application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json"}
	producesObj   = []string{"application/json", "application/yaml"}
	producesList  = []string{"application/json", "application/yaml", "application/json;stream=watch"}
	producesWatch = []string{"application/json", "application/json;stream=watch"}
)

// Query parameters, in the groups the operations take them.
var (
	paramPretty = query("pretty", "string", "If 'true', the output is indented.")
	listParams  = []spec.Parameter{
		query("allowWatchBookmarks", "boolean", "Ask for BOOKMARK events on a watch."),
		query("continue", "string", "The continue token of the previous page of a paged list."),
		query("fieldSelector", "string", "Select objects by fields."),
		query("labelSelector", "string", "Select objects by labels."),
		query("limit", "integer", "The most objects to return in one page."),
		query("resourceVersion", "string", "The resource version the list or watch starts from."),
		query("resourceVersionMatch", "string", "How resourceVersion is matched: Exact or NotOlderThan."),
		query("sendInitialEvents", "boolean", "Begin a watch with the current objects as ADDED events."),
		query("timeoutSeconds", "integer", "End a list or watch call after this many seconds."),
		query("watch", "boolean", "Watch for changes instead of listing."),
	}
	writeParams = []spec.Parameter{
		query("dryRun", "string", "All: process the request without persisting it."),
		query("fieldManager", "string", "The name of the actor making the change."),
		query("fieldValidation", "string", "How the server treats unknown and duplicate fields: Ignore, Warn or Strict."),
	}
	paramForce   = query("force", "boolean", "Force an apply patch over conflicts.")
	deleteParams = []spec.Parameter{
		query("dryRun", "string", "All: process the request without persisting it."),
		query("gracePeriodSeconds", "integer", "Seconds before the object is deleted; zero deletes at once."),
		query("orphanDependents", "boolean", "Deprecated: use propagationPolicy."),
		query("propagationPolicy", "string", "Whether and how dependents are collected: Orphan, Background or Foreground."),
	}
)

func query(name, typ, description string) spec.Parameter {
	return spec.Parameter{
		ParamProps:        spec.ParamProps{Name: name, In: "query", Description: description},
		SimpleSchema:      spec.SimpleSchema{Type: typ},
		CommonValidations: spec.CommonValidations{UniqueItems: true},
	}
}

func pathParam(name, description string) spec.Parameter {
	return spec.Parameter{
		ParamProps:        spec.ParamProps{Name: name, In: "path", Description: description, Required: true},
		SimpleSchema:      spec.SimpleSchema{Type: "string"},
		CommonValidations: spec.CommonValidations{UniqueItems: true},
	}
}

func body(schemaName string, required bool) spec.Parameter {
	return spec.Parameter{ParamProps: spec.ParamProps{
		Name: "body", In: "body", Required: required, Schema: spec.RefSchema(definitionPrefix + schemaName),
	}}
}

func concat(groups ...[]spec.Parameter) []spec.Parameter {
	var out []spec.Parameter
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// common names the definitions every group version's operations refer to.
type common struct {
	deleteOptions, status, watchEvent, patch, scale string
}

// op describes one operation before it becomes a spec.Operation.
type op struct {
	id, action string
	gvk        schema.GroupVersionKind
	gv         schema.GroupVersion
	params     []spec.Parameter
	consumes   []string
	produces   []string
	// responses maps status codes to the definition returned.
	responses map[int]string
}

func (o op) build() *spec.Operation {
	s := &spec.Operation{OperationProps: spec.OperationProps{
		ID: o.id, Tags: []string{tag(o.gv)}, Consumes: o.consumes, Produces: o.produces, Parameters: o.params,
		Responses: &spec.Responses{ResponsesProps: spec.ResponsesProps{StatusCodeResponses: map[int]spec.Response{
			http.StatusUnauthorized: {ResponseProps: spec.ResponseProps{Description: http.StatusText(http.StatusUnauthorized)}},
		}}},
	}}
	s.AddExtension(extAction, o.action)
	s.AddExtension(extGVK, map[string]string{"group": o.gvk.Group, "version": o.gvk.Version, "kind": o.gvk.Kind})
	for code, def := range o.responses {
		s.Responses.StatusCodeResponses[code] = spec.Response{ResponseProps: spec.ResponseProps{
			Description: http.StatusText(code), Schema: spec.RefSchema(definitionPrefix + def),
		}}
	}
	return s
}

// kindPaths returns the paths of one kind, laid out as the Kubernetes API
// server lays them out. obj and list are the definition names of the kind
// and its list.
func kindPaths(k *kinds.Kind, obj, list string, c common) map[string]spec.PathItem {
	gv := k.GVK.GroupVersion()
	prefix := "/" + apiPath(gv)
	scope, scoped := "", k.GVK.Kind
	pathParams := []spec.Parameter{paramPretty}
	if k.Namespaced {
		scope, scoped = "/namespaces/{namespace}", "Namespaced"+k.GVK.Kind
		pathParams = append(pathParams, pathParam("namespace", "The object's namespace."))
	}
	namePathParams := append([]spec.Parameter{pathParam("name", "The object's name.")}, pathParams...)
	p := operationPrefix(gv)
	mk := func(id, action string, gvk schema.GroupVersionKind) op {
		return op{id: id, action: action, gvk: gvk, gv: gv, consumes: consumesAny, produces: producesObj}
	}
	item := func(params []spec.Parameter) spec.PathItem {
		return spec.PathItem{PathItemProps: spec.PathItemProps{Parameters: params}}
	}

	paths := map[string]spec.PathItem{}
	collection := prefix + scope + "/" + k.Resource
	named := collection + "/{name}"

	ci := item(pathParams)
	lst := mk("list"+p+scoped, "list", k.GVK)
	lst.params, lst.produces, lst.responses = listParams, producesList, map[int]string{200: list}
	ci.Get = lst.build()
	create := mk("create"+p+scoped, "post", k.GVK)
	create.params, create.responses = concat([]spec.Parameter{body(obj, true)}, writeParams), map[int]string{200: obj, 201: obj, 202: obj}
	ci.Post = create.build()
	dc := mk("delete"+p+"Collection"+scoped, "deletecollection", k.GVK)
	// A collection delete selects like a list but does not watch.
	dc.params, dc.responses = concat([]spec.Parameter{body(c.deleteOptions, false)}, deleteParams, listParams[1:len(listParams)-1]), map[int]string{200: c.status}
	ci.Delete = dc.build()
	paths[collection] = ci

	ni := item(namePathParams)
	ni.Get, ni.Put, ni.Patch = objectOps(mk, p+scoped, k.GVK, obj, c.patch)
	del := mk("delete"+p+scoped, "delete", k.GVK)
	del.params, del.responses = concat([]spec.Parameter{body(c.deleteOptions, false)}, deleteParams), map[int]string{200: c.status, 202: c.status}
	ni.Delete = del.build()
	paths[named] = ni

	if k.HasStatus {
		si := item(namePathParams)
		si.Get, si.Put, si.Patch = objectOps(mk, p+scoped+"Status", k.GVK, obj, c.patch)
		paths[named+"/status"] = si
	}
	if k.Scale != nil {
		si := item(namePathParams)
		scaleGVK := schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}
		si.Get, si.Put, si.Patch = objectOps(mk, p+scoped+"Scale", scaleGVK, c.scale, c.patch)
		paths[named+"/scale"] = si
	}

	watch := func(id, action string) *spec.Operation {
		o := mk(id, action, k.GVK)
		o.params, o.produces, o.responses = listParams, producesWatch, map[int]string{200: c.watchEvent}
		return o.build()
	}
	wl := item(pathParams)
	wl.Get = watch("watch"+p+scoped+"List", "watchlist")
	paths[prefix+"/watch"+scope+"/"+k.Resource] = wl
	wn := item(namePathParams)
	wn.Get = watch("watch"+p+scoped, "watch")
	paths[prefix+"/watch"+scope+"/"+k.Resource+"/{name}"] = wn

	if k.Namespaced {
		all := item([]spec.Parameter{paramPretty})
		o := mk("list"+p+k.GVK.Kind+"ForAllNamespaces", "list", k.GVK)
		o.params, o.produces, o.responses = listParams, producesList, map[int]string{200: list}
		all.Get = o.build()
		paths[prefix+"/"+k.Resource] = all
		wa := item([]spec.Parameter{paramPretty})
		wa.Get = watch("watch"+p+k.GVK.Kind+"ListForAllNamespaces", "watchlist")
		paths[prefix+"/watch/"+k.Resource] = wa
	}
	return paths
}

// objectOps are the read, replace and patch operations of one object (or of
// its status or scale): id is the operation ID after the verb.
func objectOps(mk func(id, action string, gvk schema.GroupVersionKind) op, id string, gvk schema.GroupVersionKind, def, patchDef string) (get, put, patch *spec.Operation) {
	g := mk("read"+id, "get", gvk)
	g.responses = map[int]string{200: def}
	r := mk("replace"+id, "put", gvk)
	r.params, r.responses = concat([]spec.Parameter{body(def, true)}, writeParams), map[int]string{200: def, 201: def}
	pa := mk("patch"+id, "patch", gvk)
	pa.params = concat([]spec.Parameter{body(patchDef, true)}, writeParams, []spec.Parameter{paramForce})
	pa.consumes, pa.responses = consumesPatch, map[int]string{200: def, 201: def}
	return g.build(), r.build(), pa.build()
}
