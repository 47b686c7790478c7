package kinds

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateEnv checks container env vars: names, and that a value comes from
// exactly one place.
func validateEnv(env []corev1.EnvVar, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, e := range env {
		f := fld.Index(i)
		if e.Name == "" {
			errs = append(errs, field.Required(f.Child("name"), ""))
		} else {
			for _, msg := range validation.IsRelaxedEnvVarName(e.Name) {
				errs = append(errs, field.Invalid(f.Child("name"), e.Name, msg))
			}
		}
		if e.ValueFrom == nil {
			continue
		}
		vf := f.Child("valueFrom")
		if e.Value != "" {
			errs = append(errs, field.Invalid(vf, "", "may not be specified when `value` is not empty"))
		}
		n := 0
		if r := e.ValueFrom.FieldRef; r != nil {
			n++
			errs = append(errs, validateEnvFieldRef(r, vf.Child("fieldRef"))...)
		}
		if r := e.ValueFrom.ResourceFieldRef; r != nil {
			n++
			if r.Resource == "" {
				errs = append(errs, field.Required(vf.Child("resourceFieldRef", "resource"), ""))
			}
		}
		if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
			n++
			errs = append(errs, validateKeyRef(r.Name, r.Key, vf.Child("configMapKeyRef"))...)
		}
		if r := e.ValueFrom.SecretKeyRef; r != nil {
			n++
			errs = append(errs, validateKeyRef(r.Name, r.Key, vf.Child("secretKeyRef"))...)
		}
		switch {
		case n == 0:
			errs = append(errs, field.Invalid(vf, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
		case n > 1:
			errs = append(errs, field.Invalid(vf, "", "may not have more than one field specified at a time"))
		}
	}
	return errs
}

func validateEnvFieldRef(r *corev1.ObjectFieldSelector, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if r.APIVersion == "" {
		errs = append(errs, field.Required(fld.Child("apiVersion"), ""))
	} else if r.APIVersion != "v1" {
		errs = append(errs, field.Invalid(fld.Child("apiVersion"), r.APIVersion, "unsupported version"))
	}
	path := r.FieldPath
	switch {
	case path == "":
		errs = append(errs, field.Required(fld.Child("fieldPath"), ""))
	case strings.HasPrefix(path, "metadata.labels['") && strings.HasSuffix(path, "']"),
		strings.HasPrefix(path, "metadata.annotations['") && strings.HasSuffix(path, "']"):
	case !downwardEnvFields.Has(path):
		errs = append(errs, field.NotSupported(fld.Child("fieldPath"), path, append(sets.List(downwardEnvFields), "metadata.labels['<KEY>']", "metadata.annotations['<KEY>']")))
	}
	return errs
}

func validateKeyRef(name, key string, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Required(fld.Child("name"), ""))
	}
	if key == "" {
		errs = append(errs, field.Required(fld.Child("key"), ""))
	} else {
		for _, msg := range validation.IsConfigMapKey(key) {
			errs = append(errs, field.Invalid(fld.Child("key"), key, msg))
		}
	}
	return errs
}

// validateEnvFrom checks envFrom sources: one config map or secret each.
func validateEnvFrom(from []corev1.EnvFromSource, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, e := range from {
		f := fld.Index(i)
		if e.Prefix != "" {
			for _, msg := range validation.IsRelaxedEnvVarName(e.Prefix) {
				errs = append(errs, field.Invalid(f.Child("prefix"), e.Prefix, msg))
			}
		}
		n := 0
		if e.ConfigMapRef != nil {
			n++
			if e.ConfigMapRef.Name == "" {
				errs = append(errs, field.Required(f.Child("configMapRef", "name"), ""))
			}
		}
		if e.SecretRef != nil {
			n++
			if e.SecretRef.Name == "" {
				errs = append(errs, field.Required(f.Child("secretRef", "name"), ""))
			}
		}
		switch {
		case n == 0:
			errs = append(errs, field.Invalid(f, "", "must specify one of: `configMapRef` or `secretRef`"))
		case n > 1:
			errs = append(errs, field.Invalid(f, "", "may not have more than one field specified at a time"))
		}
	}
	return errs
}
