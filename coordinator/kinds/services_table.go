package kinds

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

var serviceColumns = []metav1.TableColumnDefinition{
	column("Type", "How the service is exposed: ClusterIP, NodePort, LoadBalancer or ExternalName."),
	column("Cluster-IP", "Virtual IP of the service inside the cluster."),
	column("External-IP", "Addresses the service is reachable at from outside the cluster."),
	column("Port(s)", "Service ports, with node ports, and their protocols."),
	ageColumn(),
	wide(column("Selector", "Labels of the pods the service routes to.")),
}

// serviceRow renders TYPE, CLUSTER-IP, EXTERNAL-IP, PORT(S), AGE and
// SELECTOR.
func serviceRow(obj Object, now time.Time) []any {
	s := obj.(*corev1.Service)
	clusterIP := "<none>"
	if len(s.Spec.ClusterIPs) > 0 {
		clusterIP = s.Spec.ClusterIPs[0]
	}
	return []any{
		string(s.Spec.Type), clusterIP, serviceExternalIP(s), orNone(servicePorts(s.Spec.Ports)),
		ageSince(s.CreationTimestamp, now), labels.FormatLabels(s.Spec.Selector),
	}
}

// serviceExternalIP is "<none>" for an internal service without external
// IPs, the balancer's addresses (or "<pending>") for a load balancer, and the
// external name for an ExternalName service.
func serviceExternalIP(s *corev1.Service) string {
	switch s.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		if len(s.Spec.ExternalIPs) > 0 {
			return strings.Join(s.Spec.ExternalIPs, ",")
		}
		return "<none>"
	case corev1.ServiceTypeLoadBalancer:
		var addrs []string
		for _, in := range s.Status.LoadBalancer.Ingress {
			switch {
			case in.IP != "":
				addrs = append(addrs, in.IP)
			case in.Hostname != "":
				addrs = append(addrs, in.Hostname)
			}
		}
		addrs = append(addrs, s.Spec.ExternalIPs...)
		if len(addrs) == 0 {
			return "<pending>"
		}
		return strings.Join(addrs, ",")
	case corev1.ServiceTypeExternalName:
		return s.Spec.ExternalName
	}
	return "<unknown>"
}

// servicePorts renders ports as "80/TCP" or, with a node port, "80:30080/TCP".
func servicePorts(ports []corev1.ServicePort) string {
	parts := make([]string, len(ports))
	for i, p := range ports {
		if p.NodePort > 0 {
			parts[i] = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol)
		} else {
			parts[i] = fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		}
	}
	return strings.Join(parts, ",")
}
