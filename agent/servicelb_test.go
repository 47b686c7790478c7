package agent

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

func TestServiceLB_followsServicesAndEndpointSlices(t *testing.T) {
	svc := svcFixture("web", nil)
	slice := sliceFixture("web", "web-1", map[string]int32{"http": 8080}, epFixture{addr: "10.244.0.5"})
	cs := fake.NewClientset(svc, slice)
	mem := NewMemoryServiceMaps()
	cfg := DefaultServiceLBConfig("node-1")
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	lb, err := NewServiceLB(cfg, informers.NewSharedInformerFactory(cs, 0), mem, LBMapsContent{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- lb.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	vip := fe("10.96.0.10:80", ProtoTCP)
	waitFor := func(what string, ok func(map[netip.AddrPort]int) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, err := mem.Resolve(vip)
			if err != nil {
				t.Fatal(err)
			}
			if ok(got) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the service leads to %v", what, got)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("first endpoint", func(m map[netip.AddrPort]int) bool {
		return len(m) == 1 && m[netip.MustParseAddrPort("10.244.0.5:8080")] == LBTableSize
	})
	slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{Addresses: []string{"10.244.0.6"}})
	if _, err := cs.DiscoveryV1().EndpointSlices("default").Update(ctx, slice, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("second endpoint", func(m map[netip.AddrPort]int) bool { return len(m) == 2 })
	if err := cs.CoreV1().Services("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("service deleted", func(m map[netip.AddrPort]int) bool { return m == nil })
}
