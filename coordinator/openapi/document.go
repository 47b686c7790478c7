package openapi

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/openapiconv"
	"k8s.io/kube-openapi/pkg/schemamutation"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/keel-edge/keel/coordinator/kinds"
)

// info heads every document.
var info = &spec.Info{InfoProps: spec.InfoProps{Title: "keel", Version: "v1"}}

// documents are the OpenAPI documents of one registry.
type documents struct {
	// v2 describes every served path.
	v2 *spec.Swagger
	// v3 describes the paths of one group version each, with only the
	// schemas they reach.
	v3 map[schema.GroupVersion]*spec3.OpenAPI
	// gvs are the served group versions, the core group first.
	gvs []schema.GroupVersion
}

// buildDocuments derives the v2 and v3 documents from the kinds' Go types.
func buildDocuments(reg *kinds.Registry) (*documents, error) {
	s := newSchemas()
	gvks := map[string][]schema.GroupVersionKind{}
	def := func(v any, gvk ...schema.GroupVersionKind) (string, error) {
		name, err := s.define(reflect.TypeOf(v))
		if err != nil {
			return "", err
		}
		gvks[name] = append(gvks[name], gvk...)
		return name, nil
	}

	gvs := reg.GroupVersions()
	var c common
	var err error
	perGV := func(kind string) []schema.GroupVersionKind {
		var out []schema.GroupVersionKind
		for _, gv := range gvs {
			out = append(out, gv.WithKind(kind))
		}
		return out
	}
	if c.deleteOptions, err = def(&metav1.DeleteOptions{}, perGV("DeleteOptions")...); err != nil {
		return nil, err
	}
	if c.status, err = def(&metav1.Status{}, schema.GroupVersionKind{Version: "v1", Kind: "Status"}); err != nil {
		return nil, err
	}
	if c.watchEvent, err = def(&metav1.WatchEvent{}, perGV("WatchEvent")...); err != nil {
		return nil, err
	}
	if c.patch, err = def(&metav1.Patch{}); err != nil {
		return nil, err
	}

	paths := map[schema.GroupVersion]map[string]spec.PathItem{}
	for _, k := range reg.All() {
		obj, err := def(k.New(), k.GVK)
		if err != nil {
			return nil, fmt.Errorf("schema of %v: %w", k.GVK, err)
		}
		list, err := def(k.NewList(), k.GVK.GroupVersion().WithKind(k.GVK.Kind+"List"))
		if err != nil {
			return nil, fmt.Errorf("schema of %v list: %w", k.GVK, err)
		}
		if k.Scale != nil && c.scale == "" {
			if c.scale, err = def(&autoscalingv1.Scale{}, autoscalingv1.SchemeGroupVersion.WithKind("Scale")); err != nil {
				return nil, err
			}
		}
		gv := k.GVK.GroupVersion()
		if paths[gv] == nil {
			paths[gv] = map[string]spec.PathItem{}
		}
		maps.Copy(paths[gv], kindPaths(k, obj, list, c))
	}

	for name, list := range gvks {
		if len(list) == 0 {
			continue
		}
		sch := s.defs[name]
		sch.AddExtension(extGVK, gvkExtension(list))
		s.defs[name] = sch
		if v3, ok := s.v3[name]; ok {
			v3.Extensions = sch.Extensions
			s.v3[name] = v3
		}
	}

	all := map[string]spec.PathItem{}
	for _, p := range paths {
		maps.Copy(all, p)
	}
	d := &documents{v2: swagger(all, s.defs), v3: map[schema.GroupVersion]*spec3.OpenAPI{}, gvs: gvs}
	for gv, p := range paths {
		// Every group version document carries the shared meta types, as the
		// Kubernetes API server's do, even when no path refers to them.
		roots := []string{c.deleteOptions, c.status, c.watchEvent, c.patch}
		v2 := swagger(p, reachable(s.defs, p, roots))
		v3 := openapiconv.ConvertV2ToV3(v2)
		for name := range v3.Components.Schemas {
			if alt, ok := s.v3[name]; ok {
				v3.Components.Schemas[name] = &alt
			}
		}
		d.v3[gv] = v3
	}
	return d, nil
}

func swagger(paths map[string]spec.PathItem, defs spec.Definitions) *spec.Swagger {
	return &spec.Swagger{SwaggerProps: spec.SwaggerProps{
		Swagger:     "2.0",
		Info:        info,
		Paths:       &spec.Paths{Paths: paths},
		Definitions: defs,
	}}
}

// gvkExtension is the value of x-kubernetes-group-version-kind on a schema:
// a sorted list without duplicates.
func gvkExtension(list []schema.GroupVersionKind) []map[string]string {
	slices.SortFunc(list, func(a, b schema.GroupVersionKind) int {
		return strings.Compare(a.Group+"/"+a.Version+"/"+a.Kind, b.Group+"/"+b.Version+"/"+b.Kind)
	})
	list = slices.Compact(list)
	out := make([]map[string]string, 0, len(list))
	for _, gvk := range list {
		out = append(out, map[string]string{"group": gvk.Group, "version": gvk.Version, "kind": gvk.Kind})
	}
	return out
}

// reachable returns the definitions that paths and roots refer to, directly
// or through other definitions.
func reachable(defs spec.Definitions, paths map[string]spec.PathItem, roots []string) spec.Definitions {
	out := spec.Definitions{}
	queue := slices.Clone(roots)
	w := schemamutation.Walker{
		SchemaCallback: schemamutation.SchemaCallBackNoop,
		RefCallback: func(ref *spec.Ref) *spec.Ref {
			if name, ok := strings.CutPrefix(ref.String(), definitionPrefix); ok {
				queue = append(queue, name)
			}
			return ref
		},
	}
	w.WalkRoot(swagger(paths, nil))
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if _, done := out[name]; done {
			continue
		}
		sch, ok := defs[name]
		if !ok {
			continue
		}
		out[name] = sch
		w.WalkSchema(&sch)
	}
	return out
}
