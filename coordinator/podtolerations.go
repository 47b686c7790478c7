package coordinator

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	"github.com/keel-edge/keel/coordinator/apiserver"
)

// defaultTolerations gives every new pod that has none of its own the
// not-ready and unreachable NoExecute tolerations for a number of
// seconds, as Kubernetes' DefaultTolerationSeconds admission does: a pod
// stays that long on a node that stopped reporting before the taint
// manager evicts it.
type defaultTolerations struct {
	seconds int64
}

var _ apiserver.Admission = defaultTolerations{}

func (d defaultTolerations) Admit(_ context.Context, ar *apiserver.AdmissionRequest) error {
	if ar.Verb != "create" || ar.Kind.GVK.Group != "" || ar.Kind.GVK.Kind != "Pod" {
		return nil
	}
	pod, ok := ar.Obj.(*corev1.Pod)
	if !ok {
		return nil
	}
	pod.Spec.Tolerations = withDefaultTolerations(pod.Spec.Tolerations, d.seconds)
	return nil
}

// withDefaultTolerations adds to tols a toleration of the not-ready and of
// the unreachable NoExecute taint for seconds, each unless tols already
// tolerate that taint's NoExecute effect.
func withDefaultTolerations(tols []corev1.Toleration, seconds int64) []corev1.Toleration {
	for _, key := range []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable} {
		has := false
		for _, t := range tols {
			if (t.Key == key || t.Key == "") && (t.Effect == corev1.TaintEffectNoExecute || t.Effect == "") {
				has = true
			}
		}
		if !has {
			s := seconds
			tols = append(tols, corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists,
				Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &s})
		}
	}
	return tols
}
