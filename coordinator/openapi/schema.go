package openapi

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"k8s.io/kube-openapi/pkg/validation/spec"
)

// Vendor extensions Kubernetes puts on schemas.
const (
	extGVK            = "x-kubernetes-group-version-kind"
	extPatchStrategy  = "x-kubernetes-patch-strategy"
	extPatchMergeKey  = "x-kubernetes-patch-merge-key"
	extIntOrString    = "x-kubernetes-int-or-string"
	extPreserveFields = "x-kubernetes-preserve-unknown-fields"
	extAction         = "x-kubernetes-action"
)

// definitionPrefix is where v2 refs point; v3 documents are converted from
// v2 and point at #/components/schemas/ instead.
const definitionPrefix = "#/definitions/"

// openAPITyper is implemented by Kubernetes types whose JSON is a scalar
// rather than their Go shape (metav1.Time, resource.Quantity,
// intstr.IntOrString, metav1.Duration).
type openAPITyper interface {
	OpenAPISchemaType() []string
	OpenAPISchemaFormat() string
}

// openAPIV3OneOfTyper is implemented by the scalar types that accept more
// than one JSON type (a Quantity is a string or a number).
type openAPIV3OneOfTyper interface {
	OpenAPIV3OneOfTypes() []string
}

var (
	typerType      = reflect.TypeFor[openAPITyper]()
	oneOfTyperType = reflect.TypeFor[openAPIV3OneOfTyper]()
	marshalerType  = reflect.TypeFor[json.Marshaler]()
)

// schemas collects the definitions reachable from the Go types it is shown.
// Definitions are v2 schemas; v3 holds the few whose v3 form differs.
type schemas struct {
	defs  spec.Definitions
	v3    map[string]spec.Schema
	owner map[string]reflect.Type
}

func newSchemas() *schemas {
	return &schemas{defs: spec.Definitions{}, v3: map[string]spec.Schema{}, owner: map[string]reflect.Type{}}
}

// define makes sure t (a named struct or scalar type) has a definition and
// returns its name.
func (s *schemas) define(t reflect.Type) (string, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Name() == "" || t.PkgPath() == "" {
		return "", fmt.Errorf("type %v has no name to define a schema under", t)
	}
	name := definitionName(t)
	if other, ok := s.owner[name]; ok {
		if other != t {
			return "", fmt.Errorf("types %v and %v both map to schema %s", other, t, name)
		}
		return name, nil
	}
	s.owner[name] = t
	switch {
	case implements(t, typerType):
		v2, v3, differs := scalarSchemas(t)
		s.defs[name] = v2
		if differs {
			s.v3[name] = v3
		}
	case implements(t, marshalerType):
		// The type writes its own JSON (runtime.RawExtension, metav1.FieldsV1):
		// all that is known is that it is an object.
		s.defs[name] = spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"object"}}}
	case t.Kind() == reflect.Struct:
		// Reserve the name first so a type that contains itself ends.
		s.defs[name] = spec.Schema{}
		sch, err := s.structSchema(t)
		if err != nil {
			return "", err
		}
		s.defs[name] = sch
	default:
		return "", fmt.Errorf("type %v is not a struct", t)
	}
	return name, nil
}

// scalarSchemas are the v2 and v3 schemas of a type that says its own
// OpenAPI type; differs reports whether the v3 one is not the v2 one.
func scalarSchemas(t reflect.Type) (v2, v3 spec.Schema, differs bool) {
	typer := instance(t, typerType).(openAPITyper)
	v2 = spec.Schema{SchemaProps: spec.SchemaProps{Type: typer.OpenAPISchemaType(), Format: typer.OpenAPISchemaFormat()}}
	if v2.Format == "int-or-string" {
		v2.AddExtension(extIntOrString, true)
	}
	if !implements(t, oneOfTyperType) {
		return v2, v2, false
	}
	v3 = v2
	v3.Type = nil
	for _, typ := range instance(t, oneOfTyperType).(openAPIV3OneOfTyper).OpenAPIV3OneOfTypes() {
		v3.OneOf = append(v3.OneOf, spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{typ}}})
	}
	return v2, v3, true
}

// structSchema is the object schema of a struct: one property per JSON field,
// embedded and ",inline" structs flattened into it.
func (s *schemas) structSchema(t reflect.Type) (spec.Schema, error) {
	sch := spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"object"}, Properties: map[string]spec.Schema{}}}
	if err := s.addFields(&sch, t, true); err != nil {
		return spec.Schema{}, err
	}
	if len(sch.Properties) == 0 {
		sch.Properties = nil
	}
	return sch, nil
}

// addFields adds the JSON fields of struct t to sch. canRequire is false
// inside an embedded pointer, whose fields may all be absent.
func (s *schemas) addFields(sch *spec.Schema, t reflect.Type, canRequire bool) error {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" || hasOption(opts, "inline") {
			ft, ptr := f.Type, false
			for ft.Kind() == reflect.Pointer {
				ft, ptr = ft.Elem(), true
			}
			if ft.Kind() == reflect.Struct && !implements(ft, typerType) && !implements(ft, marshalerType) {
				if err := s.addFields(sch, ft, canRequire && !ptr); err != nil {
					return err
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		prop, err := s.schemaOf(f.Type)
		if err != nil {
			return fmt.Errorf("%s.%s: %w", t.Name(), f.Name, err)
		}
		if v := f.Tag.Get("patchStrategy"); v != "" {
			prop.AddExtension(extPatchStrategy, v)
		}
		if v := f.Tag.Get("patchMergeKey"); v != "" {
			prop.AddExtension(extPatchMergeKey, v)
		}
		sch.Properties[name] = prop
		if canRequire && !hasOption(opts, "omitempty") && !hasOption(opts, "omitzero") {
			sch.Required = append(sch.Required, name)
		}
	}
	return nil
}

// schemaOf is the schema of a field of type t: inline for unnamed and
// scalar types, a reference for named structs and special types.
func (s *schemas) schemaOf(t reflect.Type) (spec.Schema, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Name() != "" && t.PkgPath() != "" &&
		(t.Kind() == reflect.Struct || implements(t, typerType) || implements(t, marshalerType)) {
		name, err := s.define(t)
		if err != nil {
			return spec.Schema{}, err
		}
		return *spec.RefSchema(definitionPrefix + name), nil
	}
	switch t.Kind() {
	case reflect.Bool:
		return *spec.BooleanProperty(), nil
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16:
		return *spec.Int32Property(), nil
	case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return *spec.Int64Property(), nil
	case reflect.Float32:
		return *spec.Float32Property(), nil
	case reflect.Float64:
		return *spec.Float64Property(), nil
	case reflect.String:
		return *spec.StringProperty(), nil
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return *spec.StrFmtProperty("byte"), nil
		}
		item, err := s.schemaOf(t.Elem())
		if err != nil {
			return spec.Schema{}, err
		}
		return *spec.ArrayProperty(&item), nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return spec.Schema{}, fmt.Errorf("map key %v is not a string", t.Key())
		}
		value, err := s.schemaOf(t.Elem())
		if err != nil {
			return spec.Schema{}, err
		}
		return *spec.MapProperty(&value), nil
	case reflect.Interface:
		// Any JSON value.
		sch := spec.Schema{}
		sch.AddExtension(extPreserveFields, true)
		return sch, nil
	case reflect.Struct:
		return s.structSchema(t)
	default:
		return spec.Schema{}, fmt.Errorf("type %v has no JSON form", t)
	}
}

// implements reports whether t or *t implements iface.
func implements(t reflect.Type, iface reflect.Type) bool {
	return t.Implements(iface) || reflect.PointerTo(t).Implements(iface)
}

// instance returns a zero t, or a pointer to one, that implements iface.
func instance(t reflect.Type, iface reflect.Type) any {
	if t.Implements(iface) {
		return reflect.Zero(t).Interface()
	}
	return reflect.New(t).Interface()
}

func hasOption(opts, want string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}
