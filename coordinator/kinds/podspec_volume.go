package kinds

import (
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	storageMedia  = sets.New(corev1.StorageMediumDefault, corev1.StorageMediumMemory, corev1.StorageMediumHugePages)
	hostPathTypes = sets.New(corev1.HostPathUnset, corev1.HostPathDirectoryOrCreate, corev1.HostPathDirectory,
		corev1.HostPathFileOrCreate, corev1.HostPathFile, corev1.HostPathSocket, corev1.HostPathCharDev, corev1.HostPathBlockDev)
)

// setVolumeSources returns the JSON names of the volume sources v sets.
func setVolumeSources(v *corev1.VolumeSource) []string {
	var names []string
	rv := reflect.ValueOf(v).Elem()
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		if f := rv.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() {
			names = append(names, strings.Split(rt.Field(i).Tag.Get("json"), ",")[0])
		}
	}
	return names
}

func countVolumeSources(v *corev1.VolumeSource) int { return len(setVolumeSources(v)) }

// validateVolumes checks every volume and returns the set of volume names.
func validateVolumes(vols []corev1.Volume, fld *field.Path) (sets.Set[string], field.ErrorList) {
	var errs field.ErrorList
	names := sets.New[string]()
	for i := range vols {
		v := &vols[i]
		f := fld.Index(i)
		switch {
		case v.Name == "":
			errs = append(errs, field.Required(f.Child("name"), ""))
		case names.Has(v.Name):
			errs = append(errs, field.Duplicate(f.Child("name"), v.Name))
		default:
			for _, msg := range validation.IsDNS1123Label(v.Name) {
				errs = append(errs, field.Invalid(f.Child("name"), v.Name, msg))
			}
		}
		if v.Name != "" {
			names.Insert(v.Name)
		}
		errs = append(errs, validateVolumeSource(&v.VolumeSource, f)...)
	}
	return names, errs
}

func validateVolumeSource(v *corev1.VolumeSource, f *field.Path) field.ErrorList {
	set := setVolumeSources(v)
	switch {
	case len(set) == 0:
		return field.ErrorList{field.Required(f, "must specify a volume type")}
	case len(set) > 1:
		return field.ErrorList{field.Forbidden(f.Child(set[1]), "may not specify more than 1 volume type")}
	}
	var errs field.ErrorList
	switch {
	case v.ConfigMap != nil:
		cf := f.Child("configMap")
		if v.ConfigMap.Name == "" {
			errs = append(errs, field.Required(cf.Child("name"), ""))
		}
		errs = append(errs, validateMode(v.ConfigMap.DefaultMode, cf.Child("defaultMode"))...)
		errs = append(errs, validateKeyToPaths(v.ConfigMap.Items, cf.Child("items"))...)
	case v.Secret != nil:
		sf := f.Child("secret")
		if v.Secret.SecretName == "" {
			errs = append(errs, field.Required(sf.Child("secretName"), ""))
		}
		errs = append(errs, validateMode(v.Secret.DefaultMode, sf.Child("defaultMode"))...)
		errs = append(errs, validateKeyToPaths(v.Secret.Items, sf.Child("items"))...)
	case v.EmptyDir != nil:
		ef := f.Child("emptyDir")
		if !storageMedia.Has(v.EmptyDir.Medium) {
			errs = append(errs, field.NotSupported(ef.Child("medium"), v.EmptyDir.Medium, sets.List(storageMedia)))
		}
		if v.EmptyDir.SizeLimit != nil {
			errs = append(errs, nonNegativeQuantity(*v.EmptyDir.SizeLimit, ef.Child("sizeLimit"))...)
		}
	case v.HostPath != nil:
		hf := f.Child("hostPath")
		if v.HostPath.Path == "" {
			errs = append(errs, field.Required(hf.Child("path"), ""))
		}
		if t := v.HostPath.Type; t != nil && !hostPathTypes.Has(*t) {
			errs = append(errs, field.NotSupported(hf.Child("type"), *t, sets.List(hostPathTypes)))
		}
	case v.PersistentVolumeClaim != nil:
		if v.PersistentVolumeClaim.ClaimName == "" {
			errs = append(errs, field.Required(f.Child("persistentVolumeClaim", "claimName"), ""))
		}
	case v.DownwardAPI != nil:
		df := f.Child("downwardAPI")
		errs = append(errs, validateMode(v.DownwardAPI.DefaultMode, df.Child("defaultMode"))...)
		errs = append(errs, validateDownwardItems(v.DownwardAPI.Items, df.Child("items"))...)
	case v.Projected != nil:
		errs = append(errs, validateProjected(v.Projected, f.Child("projected"))...)
	case v.NFS != nil:
		nf := f.Child("nfs")
		if v.NFS.Server == "" {
			errs = append(errs, field.Required(nf.Child("server"), ""))
		}
		if v.NFS.Path == "" {
			errs = append(errs, field.Required(nf.Child("path"), ""))
		} else if !strings.HasPrefix(v.NFS.Path, "/") {
			errs = append(errs, field.Invalid(nf.Child("path"), v.NFS.Path, "must be an absolute path"))
		}
	case v.Image != nil:
		if v.Image.Reference == "" {
			errs = append(errs, field.Required(f.Child("image", "reference"), ""))
		}
	}
	return errs
}

func validateProjected(p *corev1.ProjectedVolumeSource, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateMode(p.DefaultMode, fld.Child("defaultMode"))...)
	for i, s := range p.Sources {
		f := fld.Child("sources").Index(i)
		n := 0
		if s.ConfigMap != nil {
			n++
			errs = append(errs, validateKeyToPaths(s.ConfigMap.Items, f.Child("configMap", "items"))...)
		}
		if s.Secret != nil {
			n++
			errs = append(errs, validateKeyToPaths(s.Secret.Items, f.Child("secret", "items"))...)
		}
		if s.DownwardAPI != nil {
			n++
			errs = append(errs, validateDownwardItems(s.DownwardAPI.Items, f.Child("downwardAPI", "items"))...)
		}
		if t := s.ServiceAccountToken; t != nil {
			n++
			tf := f.Child("serviceAccountToken")
			if t.Path == "" {
				errs = append(errs, field.Required(tf.Child("path"), ""))
			}
			if t.ExpirationSeconds != nil && *t.ExpirationSeconds < 600 {
				errs = append(errs, field.Invalid(tf.Child("expirationSeconds"), *t.ExpirationSeconds, "may not specify a duration less than 10 minutes"))
			}
		}
		if s.ClusterTrustBundle != nil {
			n++
		}
		switch {
		case n == 0:
			errs = append(errs, field.Required(f, "must specify exactly 1 of: configMap, secret, downwardAPI, serviceAccountToken, clusterTrustBundle"))
		case n > 1:
			errs = append(errs, field.Forbidden(f, "may not specify more than 1 volume type per source"))
		}
	}
	return errs
}

func validateKeyToPaths(items []corev1.KeyToPath, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, it := range items {
		f := fld.Index(i)
		if it.Key == "" {
			errs = append(errs, field.Required(f.Child("key"), ""))
		}
		errs = append(errs, validateItemPath(it.Path, f.Child("path"))...)
		errs = append(errs, validateMode(it.Mode, f.Child("mode"))...)
	}
	return errs
}

func validateDownwardItems(items []corev1.DownwardAPIVolumeFile, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, it := range items {
		f := fld.Index(i)
		errs = append(errs, validateItemPath(it.Path, f.Child("path"))...)
		errs = append(errs, validateMode(it.Mode, f.Child("mode"))...)
		switch {
		case it.FieldRef != nil && it.ResourceFieldRef != nil:
			errs = append(errs, field.Invalid(f, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
		case it.FieldRef != nil:
			if it.FieldRef.FieldPath == "" {
				errs = append(errs, field.Required(f.Child("fieldRef", "fieldPath"), ""))
			}
		case it.ResourceFieldRef != nil:
			if it.ResourceFieldRef.Resource == "" {
				errs = append(errs, field.Required(f.Child("resourceFieldRef", "resource"), ""))
			}
		default:
			errs = append(errs, field.Required(f, "one of fieldRef and resourceFieldRef is required"))
		}
	}
	return errs
}

func validateItemPath(p string, fld *field.Path) field.ErrorList {
	if p == "" {
		return field.ErrorList{field.Required(fld, "")}
	}
	errs := validateRelativePath(p, fld)
	if strings.HasPrefix(p, "..") && len(errs) == 0 {
		errs = append(errs, field.Invalid(fld, p, "must not start with '..'"))
	}
	return errs
}

func validateMode(m *int32, fld *field.Path) field.ErrorList {
	if m != nil && (*m < 0 || *m > 0o777) {
		return field.ErrorList{field.Invalid(fld, *m, "must be a number between 0 and 0777 (octal), both inclusive")}
	}
	return nil
}
