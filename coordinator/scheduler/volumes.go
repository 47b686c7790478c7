package scheduler

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
)

// volumeCheck holds the node constraints of the PersistentVolumes a pod's
// claims are bound to.
type volumeCheck struct {
	selectors []*nodeaffinity.LazyErrorNodeSelector
	missingPV bool
}

// checkVolumes looks up the claims of pod. It returns a message when the
// pod cannot be scheduled anywhere (a claim missing, being deleted, or
// unbound with immediate binding), else the constraints its bound
// volumes put on nodes. An unbound claim of a WaitForFirstConsumer class
// does not constrain the node: it is bound once the pod is.
func (c *Cluster) checkVolumes(pod *corev1.Pod) (*volumeCheck, string) {
	var vc *volumeCheck
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		var name string
		ephemeral := false
		switch {
		case v.PersistentVolumeClaim != nil:
			name = v.PersistentVolumeClaim.ClaimName
		case v.Ephemeral != nil:
			name = pod.Name + "-" + v.Name
			ephemeral = true
		default:
			continue
		}
		pvc := c.claims[pod.Namespace+"/"+name]
		if pvc == nil {
			if ephemeral {
				return nil, fmt.Sprintf("waiting for ephemeral volume controller to create the persistentvolumeclaim %q", name)
			}
			return nil, fmt.Sprintf("persistentvolumeclaim %q not found", name)
		}
		if pvc.DeletionTimestamp != nil {
			return nil, fmt.Sprintf("persistentvolumeclaim %q is being deleted", name)
		}
		if pvc.Spec.VolumeName == "" {
			class := ""
			if pvc.Spec.StorageClassName != nil {
				class = *pvc.Spec.StorageClassName
			}
			if class == "" {
				return nil, "pod has unbound immediate PersistentVolumeClaims"
			}
			sc := c.classes[class]
			if sc == nil {
				return nil, fmt.Sprintf("storageclass.storage.k8s.io %q not found", class)
			}
			if sc.VolumeBindingMode == nil || *sc.VolumeBindingMode != storagev1.VolumeBindingWaitForFirstConsumer {
				return nil, "pod has unbound immediate PersistentVolumeClaims"
			}
			continue
		}
		if vc == nil {
			vc = &volumeCheck{}
		}
		pv := c.volumes[pvc.Spec.VolumeName]
		if pv == nil {
			vc.missingPV = true
			continue
		}
		if na := pv.Spec.NodeAffinity; na != nil && na.Required != nil {
			vc.selectors = append(vc.selectors, nodeaffinity.NewLazyErrorNodeSelector(na.Required))
		}
	}
	return vc, ""
}

// filter returns why node cannot use the pod's volumes, "" when it can.
func (vc *volumeCheck) filter(node *corev1.Node) string {
	if vc == nil {
		return ""
	}
	if vc.missingPV {
		return reasonVolumeMissing
	}
	for _, s := range vc.selectors {
		if ok, err := s.Match(node); !ok || err != nil {
			return reasonVolumeNodeAffinity
		}
	}
	return ""
}
