package scheduler

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	resourcehelper "k8s.io/component-helpers/resource"
)

// Requests given to containers that request no cpu or memory when
// scoring, as kube-scheduler does, so that such pods still spread.
const (
	defaultMilliCPURequest = 100               // 0.1 core
	defaultMemoryRequest   = 200 * 1024 * 1024 // 200 MiB
)

// resources is an amount of each resource a pod requests or a node offers.
type resources struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
	// Scalar holds every other resource (extended resources, hugepages),
	// nil when there is none.
	Scalar map[corev1.ResourceName]int64
}

func (r *resources) add(o *resources) {
	r.MilliCPU += o.MilliCPU
	r.Memory += o.Memory
	r.EphemeralStorage += o.EphemeralStorage
	for k, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = map[corev1.ResourceName]int64{}
		}
		r.Scalar[k] += v
	}
}

func (r *resources) sub(o *resources) {
	r.MilliCPU -= o.MilliCPU
	r.Memory -= o.Memory
	r.EphemeralStorage -= o.EphemeralStorage
	for k, v := range o.Scalar {
		if r.Scalar != nil {
			r.Scalar[k] -= v
			if r.Scalar[k] == 0 {
				delete(r.Scalar, k)
			}
		}
	}
}

// fromList reads a resource list; the pod count is not a resource here.
func fromList(l corev1.ResourceList) resources {
	var r resources
	for name, q := range l {
		switch name {
		case corev1.ResourceCPU:
			r.MilliCPU = q.MilliValue()
		case corev1.ResourceMemory:
			r.Memory = q.Value()
		case corev1.ResourceEphemeralStorage:
			r.EphemeralStorage = q.Value()
		case corev1.ResourcePods:
		default:
			if q.IsZero() {
				continue
			}
			if r.Scalar == nil {
				r.Scalar = map[corev1.ResourceName]int64{}
			}
			r.Scalar[name] = q.Value()
		}
	}
	return r
}

var nonZeroDefaults = corev1.ResourceList{
	corev1.ResourceCPU:    *resource.NewMilliQuantity(defaultMilliCPURequest, resource.DecimalSI),
	corev1.ResourceMemory: *resource.NewQuantity(defaultMemoryRequest, resource.BinarySI),
}

// podRequests returns a pod's effective requests as Kubernetes computes
// them (the larger of the init containers' peak and the sum of the
// containers, sidecars included, plus the pod overhead), and the cpu and
// memory used for scoring, where a container without a request counts as
// 100m cpu and 200MiB memory.
func podRequests(pod *corev1.Pod) (req resources, nonZeroCPU, nonZeroMem int64) {
	req = fromList(resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{}))
	nz := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{NonMissingContainerRequests: nonZeroDefaults})
	return req, nz.Cpu().MilliValue(), nz.Memory().Value()
}

// insufficient names the resources of req that do not fit in free, in
// kube-scheduler's words.
func insufficient(req, alloc, used *resources, out []string) []string {
	if req.MilliCPU > 0 && req.MilliCPU > alloc.MilliCPU-used.MilliCPU {
		out = append(out, "Insufficient cpu")
	}
	if req.Memory > 0 && req.Memory > alloc.Memory-used.Memory {
		out = append(out, "Insufficient memory")
	}
	if req.EphemeralStorage > 0 && req.EphemeralStorage > alloc.EphemeralStorage-used.EphemeralStorage {
		out = append(out, "Insufficient ephemeral-storage")
	}
	for name, v := range req.Scalar {
		if v > 0 && v > alloc.Scalar[name]-used.Scalar[name] {
			out = append(out, "Insufficient "+string(name))
		}
	}
	return out
}
