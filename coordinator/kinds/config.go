package kinds

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxDataSize bounds the data a config map or secret holds: 1 MiB.
const maxDataSize = 1 << 20

// immutableMsg is the error for a change to an object marked immutable.
const immutableMsg = "field is immutable when `immutable` is set"

func configMapKind() *Kind {
	return &Kind{
		GVK:        corev1.SchemeGroupVersion.WithKind("ConfigMap"),
		Resource:   "configmaps",
		Singular:   "configmap",
		ShortNames: []string{"cm"},
		Namespaced: true,
		New:        func() Object { return &corev1.ConfigMap{} },
		NewList:    func() runtime.Object { return &corev1.ConfigMapList{} },
		Validate:   func(obj Object) field.ErrorList { return validateConfigMap(obj.(*corev1.ConfigMap)) },
		ValidateUpdate: func(obj, old Object) field.ErrorList {
			return validateConfigMapUpdate(obj.(*corev1.ConfigMap), old.(*corev1.ConfigMap))
		},
		Columns: []metav1.TableColumnDefinition{
			intColumn("Data", "Number of keys in data and binaryData."),
			ageColumn(),
		},
		Row: func(obj Object, now time.Time) []any {
			cm := obj.(*corev1.ConfigMap)
			return []any{int64(len(cm.Data) + len(cm.BinaryData)), ageSince(cm.CreationTimestamp, now)}
		},
	}
}

func validateConfigMap(cm *corev1.ConfigMap) field.ErrorList {
	errs := ValidateObjectMeta(&cm.ObjectMeta, true, field.NewPath("metadata"))
	size := 0
	for _, k := range sets.List(sets.KeySet(cm.Data)) {
		f := field.NewPath("data").Key(k)
		errs = append(errs, validateDataKey(k, f)...)
		if _, dup := cm.BinaryData[k]; dup {
			errs = append(errs, field.Invalid(f, k, "duplicate of key present in binaryData"))
		}
		size += len(cm.Data[k])
	}
	for _, k := range sets.List(sets.KeySet(cm.BinaryData)) {
		errs = append(errs, validateDataKey(k, field.NewPath("binaryData").Key(k))...)
		size += len(cm.BinaryData[k])
	}
	if size > maxDataSize {
		errs = append(errs, field.TooLong(field.NewPath(""), "", maxDataSize))
	}
	return errs
}

func validateDataKey(k string, f *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsConfigMapKey(k) {
		errs = append(errs, field.Invalid(f, k, msg))
	}
	return errs
}

func validateConfigMapUpdate(cm, old *corev1.ConfigMap) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&cm.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	errs = append(errs, validateConfigMap(cm)...)
	if old.Immutable != nil && *old.Immutable {
		if cm.Immutable == nil || !*cm.Immutable {
			errs = append(errs, field.Forbidden(field.NewPath("immutable"), immutableMsg))
		}
		if !apiequality.Semantic.DeepEqual(cm.Data, old.Data) {
			errs = append(errs, field.Forbidden(field.NewPath("data"), immutableMsg))
		}
		if !apiequality.Semantic.DeepEqual(cm.BinaryData, old.BinaryData) {
			errs = append(errs, field.Forbidden(field.NewPath("binaryData"), immutableMsg))
		}
	}
	return errs
}

func serviceAccountKind() *Kind {
	return &Kind{
		GVK:        corev1.SchemeGroupVersion.WithKind("ServiceAccount"),
		Resource:   "serviceaccounts",
		Singular:   "serviceaccount",
		ShortNames: []string{"sa"},
		Namespaced: true,
		New:        func() Object { return &corev1.ServiceAccount{} },
		NewList:    func() runtime.Object { return &corev1.ServiceAccountList{} },
		Validate:   func(obj Object) field.ErrorList { return validateServiceAccount(obj.(*corev1.ServiceAccount)) },
		ValidateUpdate: func(obj, old Object) field.ErrorList {
			sa, o := obj.(*corev1.ServiceAccount), old.(*corev1.ServiceAccount)
			errs := ValidateObjectMetaUpdate(&sa.ObjectMeta, &o.ObjectMeta, field.NewPath("metadata"))
			return append(errs, validateServiceAccount(sa)...)
		},
		Columns: []metav1.TableColumnDefinition{
			intColumn("Secrets", "Number of secrets the service account references."),
			ageColumn(),
		},
		Row: func(obj Object, now time.Time) []any {
			sa := obj.(*corev1.ServiceAccount)
			return []any{int64(len(sa.Secrets)), ageSince(sa.CreationTimestamp, now)}
		},
	}
}

func validateServiceAccount(sa *corev1.ServiceAccount) field.ErrorList {
	errs := ValidateObjectMeta(&sa.ObjectMeta, true, field.NewPath("metadata"))
	for i, s := range sa.ImagePullSecrets {
		if s.Name == "" {
			errs = append(errs, field.Required(field.NewPath("imagePullSecrets").Index(i).Child("name"), ""))
		}
	}
	return errs
}
