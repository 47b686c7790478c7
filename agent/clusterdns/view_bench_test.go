package clusterdns

import (
	"fmt"
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// benchState is n ClusterIP services with 10 endpoints each, and one
// headless service of 10 named endpoints.
func benchState(n int) ([]*corev1.Service, []*discoveryv1.EndpointSlice) {
	var svcs []*corev1.Service
	var slices []*discoveryv1.EndpointSlice
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("svc-%d", i)
		svcs = append(svcs, service("bench", name, fmt.Sprintf("10.%d.%d.%d", 96+i/65536, i/256%256, i%256),
			corev1.ServicePort{Name: "http", Port: 80}))
		var eps []discoveryv1.Endpoint
		for j := 0; j < 10; j++ {
			eps = append(eps, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.244.%d.%d", i%256, j+1)}})
		}
		slices = append(slices, slice("bench", name, nil, eps...))
	}
	svcs = append(svcs, service("bench", "headless", corev1.ClusterIPNone))
	var eps []discoveryv1.Endpoint
	for j := 0; j < 10; j++ {
		eps = append(eps, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.245.0.%d", j+1)}, Hostname: ptr(fmt.Sprintf("h-%d", j))})
	}
	slices = append(slices, slice("bench", "headless", nil, eps...))
	return svcs, slices
}

// BenchmarkNewView is the time to rebuild the view after a change.
func BenchmarkNewView(b *testing.B) {
	for _, n := range []int{1, 1000, 10000} {
		svcs, slices := benchState(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				NewView(DefaultOptions(), svcs, slices)
			}
		})
	}
}

// BenchmarkAnswer is the time to answer one query from a view of 10,000
// services.
func BenchmarkAnswer(b *testing.B) {
	svcs, slices := benchState(10000)
	v := NewView(DefaultOptions(), svcs, slices)
	for _, q := range []*dns.Msg{
		query("svc-4242.bench.svc.cluster.local.", dns.TypeA),
		query("headless.bench.svc.cluster.local.", dns.TypeA),
		query("missing.bench.svc.cluster.local.", dns.TypeA),
	} {
		b.Run(q.Question[0].Name, func(b *testing.B) {
			for b.Loop() {
				Finish(q, v.Answer(q).Msg, true)
			}
		})
	}
}
