// Package kinds describes every resource the API server serves: its names,
// how it is defaulted, validated, printed as a table and selected by field.
// The API server and the store are generic; a new kind is one Kind value here.
package kinds

import (
	"fmt"
	"sort"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Object is what every served kind is: a typed Kubernetes object with metadata.
type Object interface {
	metav1.Object
	runtime.Object
}

// Kind describes one served resource.
type Kind struct {
	// GVK is the group, version and kind, e.g. apps/v1 Deployment.
	GVK schema.GroupVersionKind
	// Resource is the lower-case plural used in paths: "deployments".
	Resource string
	// Singular is the lower-case singular name: "deployment".
	Singular string
	// ShortNames are the abbreviations kubectl accepts: "deploy".
	ShortNames []string
	// Categories group kinds for kubectl: "all".
	Categories []string
	// Namespaced is true for kinds that live in a namespace.
	Namespaced bool
	// HasStatus serves the status subresource: writes to the main resource
	// keep the stored status, writes to status keep everything else.
	HasStatus bool
	// KeepStatusOnCreate keeps a status given on create; otherwise status is
	// reset to what InitStatus leaves (or the zero value).
	KeepStatusOnCreate bool
	// Generation bumps metadata.generation when anything outside metadata and
	// status changes.
	Generation bool
	// Scale, when non-nil, serves the scale subresource.
	Scale *Scale
	// Sensitive objects are encrypted at rest.
	Sensitive bool

	// New returns an empty object of this kind, NewList an empty list of them.
	New     func() Object
	NewList func() runtime.Object

	// InitStatus sets the status a new object starts with (pods: Pending).
	// Optional; called only when KeepStatusOnCreate is false.
	InitStatus func(obj Object)
	// Default fills in the fields Kubernetes defaults, on create and update,
	// before validation. Optional.
	Default func(obj Object)
	// Validate checks an object about to be created.
	Validate func(obj Object) field.ErrorList
	// ValidateUpdate checks an update of old to obj (immutable fields, and
	// everything Validate checks). Optional: Validate is used when nil.
	ValidateUpdate func(obj, old Object) field.ErrorList

	// Columns are the table columns after NAME (and before nothing else);
	// columns with Priority 1 are shown only with -o wide.
	Columns []metav1.TableColumnDefinition
	// Row returns the cells for Columns, in order, without the NAME cell.
	Row func(obj Object, now time.Time) []any

	// Fields returns the kind's field-selector fields besides metadata.name
	// and metadata.namespace, which the server adds itself. Optional.
	Fields func(obj Object) fields.Set

	// NoNameColumn tells the server not to add the leading NAME column:
	// Columns and Row carry the name themselves (a column with Format
	// "name"), as the events table does, which starts with LAST SEEN.
	NoNameColumn bool
}

// Scale reads and writes the replica count behind the scale subresource.
type Scale struct {
	// Get returns spec.replicas, status.replicas and the label selector.
	Get func(obj Object) (spec, status int32, selector string)
	// Set writes spec.replicas.
	Set func(obj Object, replicas int32)
}

// ScaleOf builds the autoscaling/v1 Scale view of obj.
func (k *Kind) ScaleOf(obj Object) *autoscalingv1.Scale {
	spec, status, sel := k.Scale.Get(obj)
	return &autoscalingv1.Scale{
		TypeMeta: metav1.TypeMeta{APIVersion: "autoscaling/v1", Kind: "Scale"},
		ObjectMeta: metav1.ObjectMeta{
			Name: obj.GetName(), Namespace: obj.GetNamespace(), UID: obj.GetUID(),
			ResourceVersion: obj.GetResourceVersion(), CreationTimestamp: obj.GetCreationTimestamp(),
		},
		Spec:   autoscalingv1.ScaleSpec{Replicas: spec},
		Status: autoscalingv1.ScaleStatus{Replicas: status, Selector: sel},
	}
}

// GVR is the group, version and resource of the kind.
func (k *Kind) GVR() schema.GroupVersionResource {
	return k.GVK.GroupVersion().WithResource(k.Resource)
}

// Registry is the set of served kinds.
type Registry struct {
	kinds      []*Kind
	byResource map[schema.GroupVersionResource]*Kind
	byKind     map[schema.GroupVersionKind]*Kind
}

// NewRegistry indexes kinds; it fails on duplicates or missing required parts.
func NewRegistry(ks ...*Kind) (*Registry, error) {
	r := &Registry{byResource: map[schema.GroupVersionResource]*Kind{}, byKind: map[schema.GroupVersionKind]*Kind{}}
	for _, k := range ks {
		switch {
		case k.Resource == "" || k.Singular == "" || k.GVK.Kind == "" || k.GVK.Version == "":
			return nil, fmt.Errorf("kind %v: resource, singular, kind and version are required", k.GVK)
		case k.New == nil || k.NewList == nil || k.Validate == nil || k.Row == nil:
			return nil, fmt.Errorf("kind %v: New, NewList, Validate and Row are required", k.GVK)
		case len(k.Columns) == 0:
			return nil, fmt.Errorf("kind %v: no table columns", k.GVK)
		}
		if _, dup := r.byResource[k.GVR()]; dup {
			return nil, fmt.Errorf("resource %v registered twice", k.GVR())
		}
		r.byResource[k.GVR()] = k
		r.byKind[k.GVK] = k
		r.kinds = append(r.kinds, k)
	}
	return r, nil
}

// All returns every kind, in registration order.
func (r *Registry) All() []*Kind { return r.kinds }

// ByResource finds a kind by group, version and plural resource name.
func (r *Registry) ByResource(gvr schema.GroupVersionResource) (*Kind, bool) {
	k, ok := r.byResource[gvr]
	return k, ok
}

// ByKind finds a kind by group, version and kind.
func (r *Registry) ByKind(gvk schema.GroupVersionKind) (*Kind, bool) {
	k, ok := r.byKind[gvk]
	return k, ok
}

// GroupVersions returns the served group versions, the core group first.
func (r *Registry) GroupVersions() []schema.GroupVersion {
	seen := map[schema.GroupVersion]bool{}
	var gvs []schema.GroupVersion
	for _, k := range r.kinds {
		gv := k.GVK.GroupVersion()
		if !seen[gv] {
			seen[gv] = true
			gvs = append(gvs, gv)
		}
	}
	sort.SliceStable(gvs, func(i, j int) bool { return gvs[i].Group == "" && gvs[j].Group != "" })
	return gvs
}
