package apiserver

import (
	"encoding/json"
	"fmt"
	"mime"
	"reflect"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	clientscheme "k8s.io/client-go/kubernetes/scheme"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/keel-edge/keel/coordinator/kinds"
)

// Field validation levels, as the fieldValidation query parameter names them.
const (
	validationStrict = "Strict"
	validationWarn   = "Warn"
	validationIgnore = "Ignore"
)

func fieldValidation(q string) (string, error) {
	switch q {
	case "":
		return validationWarn, nil
	case validationStrict, validationWarn, validationIgnore:
		return q, nil
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("fieldValidation %q is not one of Strict, Warn, Ignore", q))
}

// bodyJSON returns the request body as JSON, converting YAML when the
// content type says so.
func bodyJSON(contentType string, body []byte) ([]byte, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch mt {
	case "", "application/json", "application/merge-patch+json", "application/json-patch+json",
		"application/strategic-merge-patch+json", "*/*":
		return body, nil
	case "application/vnd.kubernetes.protobuf":
		return protobufToJSON(body)
	case "application/yaml", "application/apply-patch+yaml":
		out, err := yaml.YAMLToJSON(body)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("body is not valid YAML: %v", err))
		}
		return out, nil
	}
	return nil, errUnsupportedMediaType(mt)
}

// protobufToJSON converts a Kubernetes protobuf body (as client-go's typed
// clients send by default) to JSON.
func protobufToJSON(body []byte) ([]byte, error) {
	obj, gvk, err := pbCodec.Decode(body, nil, nil)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("decode protobuf body: %v", err))
	}
	obj.GetObjectKind().SetGroupVersionKind(*gvk)
	out, err := json.Marshal(obj)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("re-encode protobuf body: %v", err))
	}
	return out, nil
}

var pbCodec = protobuf.NewSerializer(clientscheme.Scheme, clientscheme.Scheme)

// decodeObject decodes data into a new object of kind k. Unknown and
// duplicate fields fail under Strict and become warnings under Warn.
func decodeObject(k *kinds.Kind, data []byte, validation string) (kinds.Object, []string, error) {
	obj := k.New()
	strictErrs, err := kjson.UnmarshalStrict(data, obj, kjson.DisallowUnknownFields)
	if err != nil {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("%s: %v", cannotHandle(k), err))
	}
	var warnings []string
	if len(strictErrs) > 0 && validation != validationIgnore {
		msgs := make([]string, len(strictErrs))
		for i, e := range strictErrs {
			msgs[i] = e.Error()
		}
		if validation == validationStrict {
			return nil, nil, apierrors.NewBadRequest(cannotHandle(k) + ": strict decoding error: " + strings.Join(msgs, ", "))
		}
		warnings = msgs
	}
	if err := checkTypeMeta(k, obj); err != nil {
		return nil, nil, err
	}
	return obj, warnings, nil
}

// cannotHandle starts a decoding error the way Kubernetes words it.
func cannotHandle(k *kinds.Kind) string {
	return fmt.Sprintf("%s in version %q cannot be handled as a %s", k.GVK.Kind, k.GVK.Version, k.GVK.Kind)
}

// checkTypeMeta refuses a body whose apiVersion or kind names another kind
// than the endpoint it was sent to, and fills them in when absent.
func checkTypeMeta(k *kinds.Kind, obj kinds.Object) error {
	gvk := obj.GetObjectKind().GroupVersionKind()
	want := k.GVK
	if gvk.Kind != "" && gvk.Kind != want.Kind {
		return apierrors.NewBadRequest(fmt.Sprintf("the kind in the body (%s) does not match the kind of the endpoint (%s)", gvk.Kind, want.Kind))
	}
	if gvk.Version != "" && gvk.GroupVersion() != want.GroupVersion() {
		return apierrors.NewBadRequest(fmt.Sprintf("the API version in the body (%s) does not match the expected API version (%s)", gvk.GroupVersion(), want.GroupVersion()))
	}
	obj.GetObjectKind().SetGroupVersionKind(want)
	return nil
}

// decodeStored decodes a value read from the store.
func decodeStored(k *kinds.Kind, data []byte) (kinds.Object, error) {
	obj := k.New()
	if err := json.Unmarshal(data, obj); err != nil {
		return nil, fmt.Errorf("decode stored %s: %w", k.Resource, err)
	}
	obj.GetObjectKind().SetGroupVersionKind(k.GVK)
	return obj, nil
}

// objectMeta decodes only the metadata of a stored value: enough for label
// selectors and tables of metadata.
func objectMeta(data []byte) (metav1.ObjectMeta, error) {
	var m struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
	}
	err := json.Unmarshal(data, &m)
	return m.Metadata, err
}

// structField returns the addressable top-level field name of obj's struct,
// or an invalid value when there is none.
func structField(obj kinds.Object, name string) reflect.Value {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return reflect.Value{}
	}
	return v.Elem().FieldByName(name)
}

// resetStatus sets obj's status to its zero value.
func resetStatus(obj kinds.Object) {
	if f := structField(obj, "Status"); f.IsValid() && f.CanSet() {
		f.Set(reflect.Zero(f.Type()))
	}
}

// copyStatus copies the status of from into to.
func copyStatus(to, from kinds.Object) {
	t, f := structField(to, "Status"), structField(from, "Status")
	if t.IsValid() && f.IsValid() && t.CanSet() {
		t.Set(f)
	}
}

// copyAllButMetaAndStatus copies every top-level field of from except
// TypeMeta, ObjectMeta and Status into to: a status write keeps the spec.
func copyAllButMetaAndStatus(to, from kinds.Object) {
	t := reflect.ValueOf(to).Elem()
	f := reflect.ValueOf(from).Elem()
	for i := 0; i < t.NumField(); i++ {
		switch t.Type().Field(i).Name {
		case "TypeMeta", "ObjectMeta", "Status":
			continue
		}
		if t.Field(i).CanSet() {
			t.Field(i).Set(f.Field(i))
		}
	}
}

// specChanged reports whether anything outside metadata and status differs.
func specChanged(a, b kinds.Object) bool {
	av := reflect.ValueOf(a).Elem()
	bv := reflect.ValueOf(b).Elem()
	for i := 0; i < av.NumField(); i++ {
		switch av.Type().Field(i).Name {
		case "TypeMeta", "ObjectMeta", "Status":
			continue
		}
		if !reflect.DeepEqual(av.Field(i).Interface(), bv.Field(i).Interface()) {
			return true
		}
	}
	return false
}

// qualifiedResource names a resource for error messages: "pods",
// "deployments.apps".
func qualifiedResource(k *kinds.Kind) schema.GroupResource {
	return schema.GroupResource{Group: k.GVK.Group, Resource: k.Resource}
}

// Bucket is the store bucket of a kind: the resource, qualified by its
// group outside the core group, so names never collide.
func Bucket(k *kinds.Kind) string {
	if k.GVK.Group == "" {
		return k.Resource
	}
	return k.Resource + "." + k.GVK.Group
}

// keyOf is the store key of an object: "namespace/name" or "name".
func keyOf(k *kinds.Kind, namespace, name string) string {
	if k.Namespaced {
		return namespace + "/" + name
	}
	return name
}
