package openapi

import (
	"encoding/json"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/scheme"
)

// Types standing in for API types, to show the walker each JSON shape.
type (
	sample struct {
		metav1.TypeMeta `json:",inline"`
		*embedded
		Named      string                           `json:"named"`
		Optional   *int32                           `json:"optional,omitempty"`
		Skipped    string                           `json:"-"`
		unexported string                           //nolint:unused // must not appear
		Untagged   bool                             //
		When       metav1.Time                      `json:"when,omitempty"`
		Micro      metav1.MicroTime                 `json:"micro,omitempty"`
		Timeout    metav1.Duration                  `json:"timeout,omitempty"`
		Size       resource.Quantity                `json:"size,omitempty"`
		Port       intstr.IntOrString               `json:"port,omitempty"`
		Raw        runtime.RawExtension             `json:"raw,omitempty"`
		Data       []byte                           `json:"data,omitempty"`
		Labels     map[string]string                `json:"labels,omitempty"`
		Limits     corev1.ResourceList              `json:"limits,omitempty"`
		Items      []item                           `json:"items,omitempty" patchStrategy:"merge" patchMergeKey:"key"`
		Nested     struct{ A float64 }              `json:"nested,omitempty"`
		Any        any                              `json:"any,omitempty"`
		Protocol   corev1.Protocol                  `json:"protocol,omitempty"`
		Self       *sample                          `json:"self,omitempty"`
		ByName     map[string]*metav1.LabelSelector `json:"byName,omitempty"`
	}
	embedded struct {
		FromPointer string `json:"fromPointer"`
	}
	item struct {
		Key string `json:"key"`
	}
)

const (
	samplePkg = "com.github.keel-edge.keel.coordinator.openapi."
	metaPkg   = "io.k8s.apimachinery.pkg.apis.meta.v1."
)

func TestSchemas_shapes(t *testing.T) {
	s := newSchemas()
	name, err := s.define(reflect.TypeFor[*sample]())
	if err != nil {
		t.Fatalf("define: %v", err)
	}
	if name != samplePkg+"sample" {
		t.Fatalf("name = %q", name)
	}
	props := s.defs[name].Properties
	tests := []struct {
		prop string
		want string
	}{
		{"apiVersion", `{"type":"string"}`},
		{"kind", `{"type":"string"}`},
		{"fromPointer", `{"type":"string"}`},
		{"named", `{"type":"string"}`},
		{"optional", `{"type":"integer","format":"int32"}`},
		{"Untagged", `{"type":"boolean"}`},
		{"when", `{"$ref":"#/definitions/` + metaPkg + `Time"}`},
		{"micro", `{"$ref":"#/definitions/` + metaPkg + `MicroTime"}`},
		{"timeout", `{"$ref":"#/definitions/` + metaPkg + `Duration"}`},
		{"size", `{"$ref":"#/definitions/io.k8s.apimachinery.pkg.api.resource.Quantity"}`},
		{"port", `{"$ref":"#/definitions/io.k8s.apimachinery.pkg.util.intstr.IntOrString"}`},
		{"raw", `{"$ref":"#/definitions/io.k8s.apimachinery.pkg.runtime.RawExtension"}`},
		{"data", `{"type":"string","format":"byte"}`},
		{"labels", `{"type":"object","additionalProperties":{"type":"string"}}`},
		{"limits", `{"type":"object","additionalProperties":{"$ref":"#/definitions/io.k8s.apimachinery.pkg.api.resource.Quantity"}}`},
		{"items", `{"type":"array","items":{"$ref":"#/definitions/` + samplePkg + `item"},"x-kubernetes-patch-merge-key":"key","x-kubernetes-patch-strategy":"merge"}`},
		{"nested", `{"type":"object","required":["A"],"properties":{"A":{"type":"number","format":"double"}}}`},
		{"any", `{"x-kubernetes-preserve-unknown-fields":true}`},
		{"protocol", `{"type":"string"}`},
		{"self", `{"$ref":"#/definitions/` + samplePkg + `sample"}`},
		{"byName", `{"type":"object","additionalProperties":{"$ref":"#/definitions/` + metaPkg + `LabelSelector"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.prop, func(t *testing.T) {
			p, ok := props[tt.prop]
			if !ok {
				t.Fatalf("no property %q", tt.prop)
			}
			got, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("schema = %s, want %s", got, tt.want)
			}
		})
	}
	for _, absent := range []string{"Skipped", "-", "unexported", "embedded", "TypeMeta"} {
		if _, ok := props[absent]; ok {
			t.Errorf("property %q should not be there", absent)
		}
	}
	// Without omitempty a field is required, except inside an embedded
	// pointer, which may be absent altogether.
	if got := s.defs[name].Required; !reflect.DeepEqual(got, []string{"named", "Untagged"}) {
		t.Errorf("required = %v, want [named Untagged]", got)
	}
}

func TestSchemas_specialDefinitions(t *testing.T) {
	s := newSchemas()
	if _, err := s.define(reflect.TypeFor[sample]()); err != nil {
		t.Fatalf("define: %v", err)
	}
	tests := []struct {
		name, v2, v3 string
	}{
		{metaPkg + "Time", `{"type":"string","format":"date-time"}`, ""},
		{metaPkg + "MicroTime", `{"type":"string","format":"date-time"}`, ""},
		{metaPkg + "Duration", `{"type":"string"}`, ""},
		{"io.k8s.apimachinery.pkg.api.resource.Quantity", `{"type":"string"}`,
			`{"oneOf":[{"type":"string"},{"type":"number"}]}`},
		{"io.k8s.apimachinery.pkg.util.intstr.IntOrString", `{"type":"string","format":"int-or-string","x-kubernetes-int-or-string":true}`,
			`{"format":"int-or-string","oneOf":[{"type":"integer"},{"type":"string"}],"x-kubernetes-int-or-string":true}`},
		{"io.k8s.apimachinery.pkg.runtime.RawExtension", `{"type":"object"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := json.Marshal(s.defs[tt.name])
			if string(got) != tt.v2 {
				t.Errorf("v2 = %s, want %s", got, tt.v2)
			}
			v3, differs := s.v3[tt.name]
			switch {
			case tt.v3 == "" && differs:
				t.Errorf("v3 differs from v2, want the same")
			case tt.v3 != "":
				got, _ := json.Marshal(v3)
				if string(got) != tt.v3 {
					t.Errorf("v3 = %s, want %s", got, tt.v3)
				}
			}
		})
	}
}

func TestSchemas_rejectsUnencodable(t *testing.T) {
	type withChan struct {
		C chan int `json:"c"`
	}
	type withIntKeys struct {
		M map[int]string `json:"m"`
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[withChan](), reflect.TypeFor[withIntKeys](), reflect.TypeFor[int]()} {
		if _, err := newSchemas().define(typ); err == nil {
			t.Errorf("define(%v) succeeded, want an error", typ)
		}
	}
}

// Every type client-go knows, all built-in kinds of every group, gets a
// schema: a kind added to the registry later will not fail New.
func TestSchemas_everyBuiltinKind(t *testing.T) {
	s := newSchemas()
	for gvk, typ := range scheme.Scheme.AllKnownTypes() {
		if _, err := s.define(typ); err != nil {
			t.Errorf("%v (%v): %v", gvk, typ, err)
		}
	}
	if len(s.defs) < 500 {
		t.Errorf("only %d definitions for all built-in kinds", len(s.defs))
	}
}
