package coordinator

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/keel-edge/keel/coordinator/apiserver"
	"github.com/keel-edge/keel/coordinator/kinds"
)

// defaultClass gives a new PersistentVolumeClaim that names no storage
// class the cluster's default class, as Kubernetes' DefaultStorageClass
// admission plugin does. With several default classes the newest wins; with
// none the claim is left without a class.
type defaultClass struct {
	store  allocStore
	bucket string // the StorageClass bucket
}

var _ apiserver.Admission = (*defaultClass)(nil)

func newDefaultClass(st allocStore, reg *kinds.Registry) *defaultClass {
	k, ok := reg.ByKind(storagev1.SchemeGroupVersion.WithKind("StorageClass"))
	if !ok {
		return &defaultClass{store: st}
	}
	return &defaultClass{store: st, bucket: apiserver.Bucket(k)}
}

func (a *defaultClass) Admit(_ context.Context, ar *apiserver.AdmissionRequest) error {
	if a.bucket == "" || ar.Verb != "create" || ar.Kind.GVK.Group != "" || ar.Kind.GVK.Kind != "PersistentVolumeClaim" {
		return nil
	}
	pvc := ar.Obj.(*corev1.PersistentVolumeClaim)
	if pvc.Spec.StorageClassName != nil {
		return nil
	}
	if _, ok := pvc.Annotations[corev1.BetaStorageClassAnnotation]; ok {
		return nil
	}
	name, err := a.defaultName()
	if err != nil {
		return apierrors.NewInternalError(fmt.Errorf("find the default storage class: %w", err))
	}
	if name != "" {
		pvc.Spec.StorageClassName = &name
	}
	return nil
}

// defaultName is the name of the newest default StorageClass, "" when
// there is none.
func (a *defaultClass) defaultName() (string, error) {
	kvs, _, err := a.store.List(a.bucket, "")
	if err != nil {
		return "", err
	}
	var best *storagev1.StorageClass
	for _, kv := range kvs {
		var sc storagev1.StorageClass
		if err := json.Unmarshal(kv.Value, &sc); err != nil {
			return "", fmt.Errorf("decode storage class %s: %w", kv.Key, err)
		}
		if !kinds.IsDefaultClass(&sc) {
			continue
		}
		if best == nil || best.CreationTimestamp.Before(&sc.CreationTimestamp) ||
			(best.CreationTimestamp.Equal(&sc.CreationTimestamp) && sc.Name < best.Name) {
			best = sc.DeepCopy()
		}
	}
	if best == nil {
		return "", nil
	}
	return best.Name, nil
}
