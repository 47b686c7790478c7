package kinds

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	storageutil "k8s.io/kubectl/pkg/util/storage"
	"k8s.io/utils/ptr"
)

// IsDefaultClassAnnotation marks the StorageClass that claims without a
// class are given.
const IsDefaultClassAnnotation = "storageclass.kubernetes.io/is-default-class"

// storageKinds returns PersistentVolume and PersistentVolumeClaim (core/v1)
// and StorageClass (storage.k8s.io/v1).
func storageKinds() []*Kind {
	return []*Kind{persistentVolumeKind(), persistentVolumeClaimKind(), storageClassKind()}
}

func persistentVolumeKind() *Kind {
	return &Kind{
		GVK:        corev1.SchemeGroupVersion.WithKind("PersistentVolume"),
		Resource:   "persistentvolumes",
		Singular:   "persistentvolume",
		ShortNames: []string{"pv"},
		HasStatus:  true,
		New:        func() Object { return &corev1.PersistentVolume{} },
		NewList:    func() runtime.Object { return &corev1.PersistentVolumeList{} },
		InitStatus: func(obj Object) {
			obj.(*corev1.PersistentVolume).Status = corev1.PersistentVolumeStatus{Phase: corev1.VolumePending}
		},
		Default:  func(obj Object) { defaultPersistentVolume(obj.(*corev1.PersistentVolume)) },
		Validate: func(obj Object) field.ErrorList { return validatePersistentVolume(obj.(*corev1.PersistentVolume)) },
		ValidateUpdate: func(obj, old Object) field.ErrorList {
			return validatePersistentVolumeUpdate(obj.(*corev1.PersistentVolume), old.(*corev1.PersistentVolume))
		},
		Columns: []metav1.TableColumnDefinition{
			column("Capacity", corev1.PersistentVolumeSpec{}.SwaggerDoc()["capacity"]),
			column("Access Modes", corev1.PersistentVolumeSpec{}.SwaggerDoc()["accessModes"]),
			column("Reclaim Policy", corev1.PersistentVolumeSpec{}.SwaggerDoc()["persistentVolumeReclaimPolicy"]),
			column("Status", corev1.PersistentVolumeStatus{}.SwaggerDoc()["phase"]),
			column("Claim", corev1.PersistentVolumeSpec{}.SwaggerDoc()["claimRef"]),
			column("StorageClass", "StorageClass of the pv"),
			column("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
			column("Reason", corev1.PersistentVolumeStatus{}.SwaggerDoc()["reason"]),
			ageColumn(),
			wide(column("VolumeMode", corev1.PersistentVolumeSpec{}.SwaggerDoc()["volumeMode"])),
		},
		Row: func(obj Object, now time.Time) []any { return persistentVolumeRow(obj.(*corev1.PersistentVolume), now) },
		Fields: func(obj Object) fields.Set {
			return fields.Set{"status.phase": string(obj.(*corev1.PersistentVolume).Status.Phase)}
		},
	}
}

func persistentVolumeClaimKind() *Kind {
	return &Kind{
		GVK:        corev1.SchemeGroupVersion.WithKind("PersistentVolumeClaim"),
		Resource:   "persistentvolumeclaims",
		Singular:   "persistentvolumeclaim",
		ShortNames: []string{"pvc"},
		Namespaced: true,
		HasStatus:  true,
		New:        func() Object { return &corev1.PersistentVolumeClaim{} },
		NewList:    func() runtime.Object { return &corev1.PersistentVolumeClaimList{} },
		InitStatus: func(obj Object) {
			obj.(*corev1.PersistentVolumeClaim).Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}
		},
		Default: func(obj Object) { defaultPersistentVolumeClaim(obj.(*corev1.PersistentVolumeClaim)) },
		Validate: func(obj Object) field.ErrorList {
			return validatePersistentVolumeClaim(obj.(*corev1.PersistentVolumeClaim))
		},
		ValidateUpdate: func(obj, old Object) field.ErrorList {
			return validatePersistentVolumeClaimUpdate(obj.(*corev1.PersistentVolumeClaim), old.(*corev1.PersistentVolumeClaim))
		},
		Columns: []metav1.TableColumnDefinition{
			column("Status", corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["phase"]),
			column("Volume", corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()["volumeName"]),
			column("Capacity", corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["capacity"]),
			column("Access Modes", corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["accessModes"]),
			column("StorageClass", "StorageClass of the pvc"),
			column("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
			ageColumn(),
			wide(column("VolumeMode", corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()["volumeMode"])),
		},
		Row: func(obj Object, now time.Time) []any {
			return persistentVolumeClaimRow(obj.(*corev1.PersistentVolumeClaim), now)
		},
		Fields: func(obj Object) fields.Set {
			return fields.Set{"status.phase": string(obj.(*corev1.PersistentVolumeClaim).Status.Phase)}
		},
	}
}

func storageClassKind() *Kind {
	return &Kind{
		GVK:        storagev1.SchemeGroupVersion.WithKind("StorageClass"),
		Resource:   "storageclasses",
		Singular:   "storageclass",
		ShortNames: []string{"sc"},
		New:        func() Object { return &storagev1.StorageClass{} },
		NewList:    func() runtime.Object { return &storagev1.StorageClassList{} },
		Default:    func(obj Object) { defaultStorageClass(obj.(*storagev1.StorageClass)) },
		Validate:   func(obj Object) field.ErrorList { return validateStorageClass(obj.(*storagev1.StorageClass)) },
		ValidateUpdate: func(obj, old Object) field.ErrorList {
			return validateStorageClassUpdate(obj.(*storagev1.StorageClass), old.(*storagev1.StorageClass))
		},
		NoNameColumn: true,
		Columns: []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]},
			column("Provisioner", storagev1.StorageClass{}.SwaggerDoc()["provisioner"]),
			column("ReclaimPolicy", storagev1.StorageClass{}.SwaggerDoc()["reclaimPolicy"]),
			column("VolumeBindingMode", storagev1.StorageClass{}.SwaggerDoc()["volumeBindingMode"]),
			{Name: "AllowVolumeExpansion", Type: "boolean", Description: storagev1.StorageClass{}.SwaggerDoc()["allowVolumeExpansion"]},
			ageColumn(),
		},
		Row: func(obj Object, now time.Time) []any { return storageClassRow(obj.(*storagev1.StorageClass), now) },
	}
}

func persistentVolumeRow(pv *corev1.PersistentVolume, now time.Time) []any {
	claim := ""
	if r := pv.Spec.ClaimRef; r != nil {
		claim = r.Namespace + "/" + r.Name
	}
	size := pv.Spec.Capacity[corev1.ResourceStorage]
	phase := string(pv.Status.Phase)
	if pv.DeletionTimestamp != nil {
		phase = "Terminating"
	}
	return []any{
		size.String(),
		storageutil.GetAccessModesAsString(pv.Spec.AccessModes),
		string(pv.Spec.PersistentVolumeReclaimPolicy),
		phase,
		claim,
		storageutil.GetPersistentVolumeClass(pv),
		unsetIfEmpty(pv.Spec.VolumeAttributesClassName),
		pv.Status.Reason,
		ageSince(pv.CreationTimestamp, now),
		volumeModeCell(pv.Spec.VolumeMode),
	}
}

func persistentVolumeClaimRow(pvc *corev1.PersistentVolumeClaim, now time.Time) []any {
	phase := string(pvc.Status.Phase)
	if pvc.DeletionTimestamp != nil {
		phase = "Terminating"
	}
	capacity, modes := "", ""
	if pvc.Spec.VolumeName != "" {
		modes = storageutil.GetAccessModesAsString(pvc.Status.AccessModes)
		q := pvc.Status.Capacity[corev1.ResourceStorage]
		capacity = q.String()
	}
	return []any{
		phase,
		pvc.Spec.VolumeName,
		capacity,
		modes,
		storageutil.GetPersistentVolumeClaimClass(pvc),
		unsetIfEmpty(pvc.Spec.VolumeAttributesClassName),
		ageSince(pvc.CreationTimestamp, now),
		volumeModeCell(pvc.Spec.VolumeMode),
	}
}

func storageClassRow(sc *storagev1.StorageClass, now time.Time) []any {
	name := sc.Name
	if IsDefaultClass(sc) {
		name += " (default)"
	}
	reclaim := string(corev1.PersistentVolumeReclaimDelete)
	if sc.ReclaimPolicy != nil {
		reclaim = string(*sc.ReclaimPolicy)
	}
	mode := string(storagev1.VolumeBindingImmediate)
	if sc.VolumeBindingMode != nil {
		mode = string(*sc.VolumeBindingMode)
	}
	return []any{name, sc.Provisioner, reclaim, mode, ptr.Deref(sc.AllowVolumeExpansion, false), ageSince(sc.CreationTimestamp, now)}
}

// IsDefaultClass reports whether sc carries the default-class annotation
// (or its beta form) set to "true".
func IsDefaultClass(sc *storagev1.StorageClass) bool {
	return storageutil.IsDefaultAnnotationText(sc.ObjectMeta) == "Yes"
}

func unsetIfEmpty(s *string) string {
	if s == nil || *s == "" {
		return "<unset>"
	}
	return *s
}

func volumeModeCell(m *corev1.PersistentVolumeMode) string {
	if m == nil {
		return "<unset>"
	}
	return string(*m)
}

func defaultPersistentVolume(pv *corev1.PersistentVolume) {
	if pv.Spec.PersistentVolumeReclaimPolicy == "" {
		pv.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimRetain
	}
	if pv.Spec.VolumeMode == nil {
		pv.Spec.VolumeMode = ptr.To(corev1.PersistentVolumeFilesystem)
	}
}

func defaultPersistentVolumeClaim(pvc *corev1.PersistentVolumeClaim) {
	if pvc.Spec.VolumeMode == nil {
		pvc.Spec.VolumeMode = ptr.To(corev1.PersistentVolumeFilesystem)
	}
}

func defaultStorageClass(sc *storagev1.StorageClass) {
	if sc.ReclaimPolicy == nil {
		sc.ReclaimPolicy = ptr.To(corev1.PersistentVolumeReclaimDelete)
	}
	if sc.VolumeBindingMode == nil {
		sc.VolumeBindingMode = ptr.To(storagev1.VolumeBindingImmediate)
	}
}
