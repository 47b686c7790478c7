package agent

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// mapServices lists services from a map of namespace to services.
type mapServices map[string][]*corev1.Service

func (m mapServices) Services(ns string) ([]*corev1.Service, error) {
	if ns == "broken" {
		return nil, errors.New("services have not been read from the API yet")
	}
	return m[ns], nil
}

func svc(ns, name, ip string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{ClusterIP: ip, Ports: ports}}
}

// kubernetesVars are the variables every pod gets for default/kubernetes.
var kubernetesVars = []string{
	"KUBERNETES_SERVICE_HOST=10.96.0.1",
	"KUBERNETES_SERVICE_PORT=443",
	"KUBERNETES_SERVICE_PORT_HTTPS=443",
	"KUBERNETES_PORT=tcp://10.96.0.1:443",
	"KUBERNETES_PORT_443_TCP=tcp://10.96.0.1:443",
	"KUBERNETES_PORT_443_TCP_PROTO=tcp",
	"KUBERNETES_PORT_443_TCP_PORT=443",
	"KUBERNETES_PORT_443_TCP_ADDR=10.96.0.1",
}

// redisVars are Kubernetes' documented example for a service
// redis-primary at 10.0.0.11 with port 6379.
var redisVars = []string{
	"REDIS_PRIMARY_SERVICE_HOST=10.0.0.11",
	"REDIS_PRIMARY_SERVICE_PORT=6379",
	"REDIS_PRIMARY_PORT=tcp://10.0.0.11:6379",
	"REDIS_PRIMARY_PORT_6379_TCP=tcp://10.0.0.11:6379",
	"REDIS_PRIMARY_PORT_6379_TCP_PROTO=tcp",
	"REDIS_PRIMARY_PORT_6379_TCP_PORT=6379",
	"REDIS_PRIMARY_PORT_6379_TCP_ADDR=10.0.0.11",
}

func testServices() mapServices {
	return mapServices{
		"default": {svc("default", "kubernetes", "10.96.0.1", corev1.ServicePort{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP})},
		"shop": {
			svc("shop", "redis-primary", "10.0.0.11", corev1.ServicePort{Port: 6379}),
			svc("shop", "db", corev1.ClusterIPNone),
			{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "ext"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "x.example"}},
		},
		"own": {
			svc("own", "kubernetes", "10.96.5.5", corev1.ServicePort{Port: 80}),
			svc("own", "dns", "10.96.0.10",
				corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
				corev1.ServicePort{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP}),
		},
		"headless": {svc("headless", "kubernetes", corev1.ClusterIPNone)},
	}
}

func TestServiceEnv(t *testing.T) {
	no := false
	tests := []struct {
		name  string
		ns    string
		links *bool
		want  []string
		err   string
	}{
		{name: "namespace's services and kubernetes", ns: "shop", want: append(append([]string{}, kubernetesVars...), redisVars...)},
		{name: "enableServiceLinks false", ns: "shop", links: &no, want: kubernetesVars},
		{name: "default namespace without links", ns: "default", links: &no, want: kubernetesVars},
		{name: "namespace without services", ns: "empty", want: kubernetesVars},
		{name: "own kubernetes shadows default's, named ports, udp", ns: "own", want: []string{
			"DNS_SERVICE_HOST=10.96.0.10",
			"DNS_SERVICE_PORT=53",
			"DNS_SERVICE_PORT_DNS=53",
			"DNS_SERVICE_PORT_DNS_TCP=53",
			"DNS_PORT=udp://10.96.0.10:53",
			"DNS_PORT_53_UDP=udp://10.96.0.10:53",
			"DNS_PORT_53_UDP_PROTO=udp",
			"DNS_PORT_53_UDP_PORT=53",
			"DNS_PORT_53_UDP_ADDR=10.96.0.10",
			"DNS_PORT_53_TCP=tcp://10.96.0.10:53",
			"DNS_PORT_53_TCP_PROTO=tcp",
			"DNS_PORT_53_TCP_PORT=53",
			"DNS_PORT_53_TCP_ADDR=10.96.0.10",
			"KUBERNETES_SERVICE_HOST=10.96.5.5",
			"KUBERNETES_SERVICE_PORT=80",
			"KUBERNETES_PORT=tcp://10.96.5.5:80",
			"KUBERNETES_PORT_80_TCP=tcp://10.96.5.5:80",
			"KUBERNETES_PORT_80_TCP_PROTO=tcp",
			"KUBERNETES_PORT_80_TCP_PORT=80",
			"KUBERNETES_PORT_80_TCP_ADDR=10.96.5.5",
		}},
		{name: "headless kubernetes does not shadow", ns: "headless", want: kubernetesVars},
		{name: "lister not ready", ns: "broken", err: "services of namespace broken for the environment: services have not been read from the API yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: tt.ns, Name: "p"}, Spec: corev1.PodSpec{EnableServiceLinks: tt.links}}
			got, err := serviceEnv(pod, testServices())
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error %v; want %q", err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v\n%q\nwant %q", err, got, tt.want)
			}
		})
	}
}

func TestContainerEnv_serviceVariables(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "p"}}
	svcEnv, err := serviceEnv(pod, testServices())
	if err != nil {
		t.Fatal(err)
	}
	c := &corev1.Container{Env: []corev1.EnvVar{
		{Name: "REDIS_PRIMARY_SERVICE_PORT", Value: "7000"},
		{Name: "REDIS_URL", Value: "redis://$(REDIS_PRIMARY_SERVICE_HOST):$(REDIS_PRIMARY_SERVICE_PORT)"},
	}}
	img := Image{Env: []string{"KUBERNETES_SERVICE_HOST=stale", "PATH=/bin"}}
	got, err := containerEnv(pod, c, img, podFacts{ServiceEnv: svcEnv}, mapObjects{})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, kv := range got {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for k, want := range map[string]string{
		"KUBERNETES_SERVICE_HOST":          "10.96.0.1",
		"PATH":                             "/bin",
		"REDIS_PRIMARY_SERVICE_PORT":       "7000",
		"REDIS_URL":                        "redis://10.0.0.11:7000",
		"REDIS_PRIMARY_PORT_6379_TCP_ADDR": "10.0.0.11",
	} {
		if env[k] != want {
			t.Errorf("%s = %q; want %q", k, env[k], want)
		}
	}
	if len(got) != len(env) {
		t.Errorf("duplicate names in %q", got)
	}
}
