package controllers

import (
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/rand"

	appsv1 "k8s.io/api/apps/v1"
)

// templateHash is the value of the pod-template-hash label of the
// ReplicaSet a Deployment makes for template (and of a DaemonSet's
// controller-revision-hash): dataHash of the template's JSON (stable:
// maps encode sorted).
func templateHash(template *corev1.PodTemplateSpec, collisionCount *int32) string {
	return dataHash(mustJSON(template), collisionCount)
}

// dataHash is FNV-1a over data and the collision count, rendered in the
// alphabet Kubernetes uses for generated names.
func dataHash(data []byte, collisionCount *int32) string {
	h := fnv.New32a()
	h.Write(data)
	if collisionCount != nil {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(*collisionCount))
		h.Write(b[:])
	}
	return rand.SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}

// mustJSON encodes API values the controllers build themselves. Plain
// API structs and maps of them always encode, so an error here is a
// broken invariant of this package, not something input can cause.
func mustJSON(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic("controllers: encode " + err.Error())
	}
	return data
}

// equalIgnoreHash reports whether two pod templates are the same apart
// from the pod-template-hash label.
func equalIgnoreHash(a, b *corev1.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	delete(a.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	delete(b.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	if len(a.Labels) == 0 {
		a.Labels = nil
	}
	if len(b.Labels) == 0 {
		b.Labels = nil
	}
	return apiequality.Semantic.DeepEqual(a, b)
}
