package coordinator

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestWithDefaultTolerations(t *testing.T) {
	exec := corev1.TaintEffectNoExecute
	for _, tt := range []struct {
		name string
		tols []corev1.Toleration
		want string
	}{
		{"none", nil, "node.kubernetes.io/not-ready:NoExecute:5 node.kubernetes.io/unreachable:NoExecute:5 "},
		{"own not-ready kept", []corev1.Toleration{{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: exec, TolerationSeconds: ptr.To[int64](60)}},
			"node.kubernetes.io/not-ready:NoExecute:60 node.kubernetes.io/unreachable:NoExecute:5 "},
		{"tolerate everything", []corev1.Toleration{{Operator: corev1.TolerationOpExists}}, ":: "},
		{"NoSchedule only does not count", []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
			"node.kubernetes.io/unreachable:NoSchedule: node.kubernetes.io/not-ready:NoExecute:5 node.kubernetes.io/unreachable:NoExecute:5 "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			for _, tol := range withDefaultTolerations(tt.tols, 5) {
				secs := ""
				if tol.TolerationSeconds != nil {
					secs = fmt.Sprint(*tol.TolerationSeconds)
				}
				got += fmt.Sprintf("%s:%s:%s ", tol.Key, tol.Effect, secs)
			}
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}
