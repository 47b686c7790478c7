package kinds

import (
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	accessModes     = sets.New(corev1.ReadWriteOnce, corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOncePod)
	reclaimPolicies = sets.New(corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRecycle, corev1.PersistentVolumeReclaimRetain)
	volumeModes     = sets.New(corev1.PersistentVolumeBlock, corev1.PersistentVolumeFilesystem)
	classReclaim    = sets.New(corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRetain)
	bindingModes    = sets.New(storagev1.VolumeBindingImmediate, storagev1.VolumeBindingWaitForFirstConsumer)
)

func validatePersistentVolume(pv *corev1.PersistentVolume) field.ErrorList {
	errs := ValidateObjectMeta(&pv.ObjectMeta, false, metaPath)
	s := &pv.Spec
	errs = append(errs, validateAccessModes(s.AccessModes, specPath.Child("accessModes"))...)
	cf := specPath.Child("capacity")
	if len(s.Capacity) == 0 {
		errs = append(errs, field.Required(cf, ""))
	} else if q, ok := s.Capacity[corev1.ResourceStorage]; !ok || len(s.Capacity) > 1 {
		errs = append(errs, field.NotSupported(cf, s.Capacity, []string{string(corev1.ResourceStorage)}))
	} else if q.Sign() <= 0 {
		errs = append(errs, field.Invalid(cf.Key(string(corev1.ResourceStorage)), q.String(), "must be greater than zero"))
	}
	if !reclaimPolicies.Has(s.PersistentVolumeReclaimPolicy) {
		errs = append(errs, field.NotSupported(specPath.Child("persistentVolumeReclaimPolicy"), s.PersistentVolumeReclaimPolicy, sets.List(reclaimPolicies)))
	}
	errs = append(errs, validateClassName(s.StorageClassName, specPath.Child("storageClassName"))...)
	if s.VolumeMode != nil && !volumeModes.Has(*s.VolumeMode) {
		errs = append(errs, field.NotSupported(specPath.Child("volumeMode"), *s.VolumeMode, sets.List(volumeModes)))
	}
	errs = append(errs, validatePVSource(&s.PersistentVolumeSource, s.NodeAffinity, specPath)...)
	if na := s.NodeAffinity; na != nil {
		nf := specPath.Child("nodeAffinity", "required")
		switch {
		case na.Required == nil:
			errs = append(errs, field.Required(nf, ""))
		case len(na.Required.NodeSelectorTerms) == 0:
			errs = append(errs, field.Required(nf.Child("nodeSelectorTerms"), "must have at least one node selector term"))
		}
	}
	if r := s.ClaimRef; r != nil {
		rf := specPath.Child("claimRef")
		if r.Name == "" {
			errs = append(errs, field.Required(rf.Child("name"), ""))
		}
		if r.Namespace == "" {
			errs = append(errs, field.Required(rf.Child("namespace"), ""))
		}
	}
	return errs
}

// validatePVSource checks that exactly one volume source is set, and
// the parts of the sources keel's nodes mount: local and hostPath.
func validatePVSource(src *corev1.PersistentVolumeSource, na *corev1.VolumeNodeAffinity, fld *field.Path) field.ErrorList {
	var set []string
	add := func(present bool, name string) {
		if present {
			set = append(set, name)
		}
	}
	add(src.Local != nil, "local")
	add(src.HostPath != nil, "hostPath")
	add(src.NFS != nil, "nfs")
	add(src.CSI != nil, "csi")
	add(src.ISCSI != nil, "iscsi")
	add(src.FC != nil, "fc")
	add(src.RBD != nil, "rbd")
	add(src.CephFS != nil, "cephfs")
	switch {
	case len(set) == 0:
		return field.ErrorList{field.Required(fld, "must specify a volume type")}
	case len(set) > 1:
		return field.ErrorList{field.Forbidden(fld.Child(set[1]), "may not specify more than 1 volume type")}
	}
	var errs field.ErrorList
	switch {
	case src.Local != nil:
		lf := fld.Child("local", "path")
		if src.Local.Path == "" {
			errs = append(errs, field.Required(lf, ""))
		} else if !path.IsAbs(src.Local.Path) || strings.Contains(src.Local.Path, "..") {
			errs = append(errs, field.Invalid(lf, src.Local.Path, "must be an absolute path without '..'"))
		}
		if na == nil {
			errs = append(errs, field.Required(fld.Child("nodeAffinity"), "Local volumes require node affinity"))
		}
	case src.HostPath != nil:
		hf := fld.Child("hostPath", "path")
		if src.HostPath.Path == "" {
			errs = append(errs, field.Required(hf, ""))
		}
		if t := src.HostPath.Type; t != nil && !hostPathTypes.Has(*t) {
			errs = append(errs, field.NotSupported(fld.Child("hostPath", "type"), *t, sets.List(hostPathTypes)))
		}
	case src.NFS != nil:
		if src.NFS.Server == "" {
			errs = append(errs, field.Required(fld.Child("nfs", "server"), ""))
		}
		if !path.IsAbs(src.NFS.Path) {
			errs = append(errs, field.Invalid(fld.Child("nfs", "path"), src.NFS.Path, "must be an absolute path"))
		}
	case src.CSI != nil:
		if src.CSI.Driver == "" {
			errs = append(errs, field.Required(fld.Child("csi", "driver"), ""))
		}
		if src.CSI.VolumeHandle == "" {
			errs = append(errs, field.Required(fld.Child("csi", "volumeHandle"), ""))
		}
	}
	return errs
}

// validatePersistentVolumeUpdate keeps the volume source, the volume mode
// and a set node affinity as they were created.
func validatePersistentVolumeUpdate(pv, old *corev1.PersistentVolume) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&pv.ObjectMeta, &old.ObjectMeta, metaPath)
	errs = append(errs, validatePersistentVolume(pv)...)
	if !apiequality.Semantic.DeepEqual(pv.Spec.PersistentVolumeSource, old.Spec.PersistentVolumeSource) {
		errs = append(errs, field.Forbidden(specPath.Child("persistentvolumesource"), "spec.persistentvolumesource is immutable after creation"))
	}
	if !apiequality.Semantic.DeepEqual(pv.Spec.VolumeMode, old.Spec.VolumeMode) {
		errs = append(errs, field.Invalid(specPath.Child("volumeMode"), volumeModeCell(pv.Spec.VolumeMode), apivalidation.FieldImmutableErrorMsg))
	}
	if old.Spec.NodeAffinity != nil && !apiequality.Semantic.DeepEqual(pv.Spec.NodeAffinity, old.Spec.NodeAffinity) {
		errs = append(errs, field.Invalid(specPath.Child("nodeAffinity"), "", apivalidation.FieldImmutableErrorMsg))
	}
	return errs
}

func validatePersistentVolumeClaim(pvc *corev1.PersistentVolumeClaim) field.ErrorList {
	errs := ValidateObjectMeta(&pvc.ObjectMeta, true, metaPath)
	return append(errs, validateClaimSpec(&pvc.Spec, specPath)...)
}

func validateClaimSpec(s *corev1.PersistentVolumeClaimSpec, fld *field.Path) field.ErrorList {
	errs := validateAccessModes(s.AccessModes, fld.Child("accessModes"))
	rf := fld.Child("resources").Key(string(corev1.ResourceStorage))
	if q, ok := s.Resources.Requests[corev1.ResourceStorage]; !ok {
		errs = append(errs, field.Required(rf, ""))
	} else if q.Sign() <= 0 {
		errs = append(errs, field.Invalid(rf, q.String(), "must be greater than zero"))
	}
	if s.StorageClassName != nil {
		errs = append(errs, validateClassName(*s.StorageClassName, fld.Child("storageClassName"))...)
	}
	if s.VolumeMode != nil && !volumeModes.Has(*s.VolumeMode) {
		errs = append(errs, field.NotSupported(fld.Child("volumeMode"), *s.VolumeMode, sets.List(volumeModes)))
	}
	if s.Selector != nil {
		errs = append(errs, metavalidation.ValidateLabelSelector(s.Selector, metavalidation.LabelSelectorValidationOptions{}, fld.Child("selector"))...)
	}
	return errs
}

// validatePersistentVolumeClaimUpdate allows, as Kubernetes does, only a
// larger storage request, a volumeName where there was none and a
// storageClassName where there was none.
func validatePersistentVolumeClaimUpdate(pvc, old *corev1.PersistentVolumeClaim) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&pvc.ObjectMeta, &old.ObjectMeta, metaPath)
	errs = append(errs, validatePersistentVolumeClaim(pvc)...)
	rest := pvc.Spec.DeepCopy()
	rest.Resources.Requests = old.Spec.Resources.Requests
	rest.VolumeAttributesClassName = old.Spec.VolumeAttributesClassName
	if old.Spec.VolumeName == "" {
		rest.VolumeName = ""
	}
	if old.Spec.StorageClassName == nil {
		rest.StorageClassName = nil
	}
	if !apiequality.Semantic.DeepEqual(*rest, old.Spec) {
		errs = append(errs, field.Forbidden(specPath, "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"))
	}
	n, o := pvc.Spec.Resources.Requests[corev1.ResourceStorage], old.Spec.Resources.Requests[corev1.ResourceStorage]
	if n.Cmp(o) < 0 {
		errs = append(errs, field.Forbidden(specPath.Child("resources", "requests", "storage"), "field can not be less than status.capacity"))
	}
	return errs
}

func validateStorageClass(sc *storagev1.StorageClass) field.ErrorList {
	errs := ValidateObjectMeta(&sc.ObjectMeta, false, metaPath)
	pf := field.NewPath("provisioner")
	if sc.Provisioner == "" {
		errs = append(errs, field.Required(pf, ""))
	} else {
		for _, msg := range validation.IsQualifiedName(strings.ToLower(sc.Provisioner)) {
			errs = append(errs, field.Invalid(pf, sc.Provisioner, msg))
		}
	}
	if sc.ReclaimPolicy != nil && !classReclaim.Has(*sc.ReclaimPolicy) {
		errs = append(errs, field.NotSupported(field.NewPath("reclaimPolicy"), *sc.ReclaimPolicy, sets.List(classReclaim)))
	}
	if sc.VolumeBindingMode == nil {
		errs = append(errs, field.Required(field.NewPath("volumeBindingMode"), ""))
	} else if !bindingModes.Has(*sc.VolumeBindingMode) {
		errs = append(errs, field.NotSupported(field.NewPath("volumeBindingMode"), *sc.VolumeBindingMode, sets.List(bindingModes)))
	}
	for k := range sc.Parameters {
		if k == "" {
			errs = append(errs, field.Invalid(field.NewPath("parameters"), k, "parameter names must not be empty"))
		}
	}
	return errs
}

func validateStorageClassUpdate(sc, old *storagev1.StorageClass) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&sc.ObjectMeta, &old.ObjectMeta, metaPath)
	errs = append(errs, validateStorageClass(sc)...)
	if !apiequality.Semantic.DeepEqual(sc.Parameters, old.Parameters) {
		errs = append(errs, field.Forbidden(field.NewPath("parameters"), "updates to parameters are forbidden."))
	}
	if sc.Provisioner != old.Provisioner {
		errs = append(errs, field.Forbidden(field.NewPath("provisioner"), "updates to provisioner are forbidden."))
	}
	if !apiequality.Semantic.DeepEqual(sc.ReclaimPolicy, old.ReclaimPolicy) {
		errs = append(errs, field.Forbidden(field.NewPath("reclaimPolicy"), "updates to reclaimPolicy are forbidden."))
	}
	if !apiequality.Semantic.DeepEqual(sc.VolumeBindingMode, old.VolumeBindingMode) {
		errs = append(errs, field.Forbidden(field.NewPath("volumeBindingMode"), "updates to volumeBindingMode are forbidden."))
	}
	return errs
}

func validateAccessModes(modes []corev1.PersistentVolumeAccessMode, fld *field.Path) field.ErrorList {
	if len(modes) == 0 {
		return field.ErrorList{field.Required(fld, "at least 1 access mode is required")}
	}
	var errs field.ErrorList
	for i, m := range modes {
		if !accessModes.Has(m) {
			errs = append(errs, field.NotSupported(fld.Index(i), m, sets.List(accessModes)))
		}
	}
	if len(modes) > 1 && sets.New(modes...).Has(corev1.ReadWriteOncePod) {
		errs = append(errs, field.Forbidden(fld, "may not use ReadWriteOncePod with other access modes"))
	}
	return errs
}

func validateClassName(name string, fld *field.Path) field.ErrorList {
	if name == "" {
		return nil
	}
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Subdomain(name) {
		errs = append(errs, field.Invalid(fld, name, msg))
	}
	return errs
}
