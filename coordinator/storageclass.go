package coordinator

import (
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/keel-edge/keel/coordinator/kinds"
)

// localPathClassName names the StorageClass every cluster starts with.
const localPathClassName = "local-path"

// localPathClass is the default StorageClass: node-local directories made
// by the keel.dev/local-path provisioner once a pod using the claim is
// bound to a node, deleted with their claim.
func localPathClass() *storagev1.StorageClass {
	return &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{
			Name:        localPathClassName,
			Annotations: map[string]string{kinds.IsDefaultClassAnnotation: "true"},
		},
		Provisioner:       "keel.dev/local-path",
		ReclaimPolicy:     ptr.To(corev1.PersistentVolumeReclaimDelete),
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingWaitForFirstConsumer),
	}
}
