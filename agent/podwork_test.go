package agent

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestHostPorts(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "sidecar", Ports: []corev1.ContainerPort{{ContainerPort: 9090, HostPort: 19090}}}},
		Containers: []corev1.Container{
			{Name: "web", Ports: []corev1.ContainerPort{
				{ContainerPort: 8080},
				{ContainerPort: 80, HostPort: 18080},
				{ContainerPort: 53, HostPort: 18053, Protocol: corev1.ProtocolUDP, HostIP: "192.0.2.1"},
			}},
			{Name: "plain"},
		},
	}}
	want := []PortMapping{
		{HostPort: 19090, ContainerPort: 9090, Protocol: "TCP"},
		{HostPort: 18080, ContainerPort: 80, Protocol: "TCP"},
		{HostPort: 18053, ContainerPort: 53, Protocol: "UDP", HostIP: "192.0.2.1"},
	}
	if got := hostPorts(pod); !slices.Equal(got, want) {
		t.Fatalf("hostPorts = %+v, want %+v", got, want)
	}
	if got := hostPorts(&corev1.Pod{}); got != nil {
		t.Fatalf("hostPorts of a pod without ports = %+v", got)
	}
}
