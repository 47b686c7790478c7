package controllers_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/keel-edge/keel/coordinator"
	"github.com/keel-edge/keel/coordinator/controllers"
	"github.com/keel-edge/keel/coordinator/coordtest"
)

func lbService(name, requested string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.ServiceSpec{
			Type:           corev1.ServiceTypeLoadBalancer,
			Selector:       map[string]string{"app": name},
			Ports:          []corev1.ServicePort{{Port: 80}},
			LoadBalancerIP: requested,
		},
	}
}

// ingressOf waits until the service's load balancer address is want ("" for
// none).
func ingressOf(t *testing.T, cs kubernetes.Interface, name, want string) {
	t.Helper()
	waitFor(t, name+" ingress "+want, func(ctx context.Context) (bool, error) {
		s, err := cs.CoreV1().Services("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		got := ""
		if in := s.Status.LoadBalancer.Ingress; len(in) > 0 {
			got = in[0].IP
		}
		return got == want, nil
	})
}

// eventFor waits for an event on the service whose message contains msg.
func eventFor(t *testing.T, cs kubernetes.Interface, name, reason, msg string) {
	t.Helper()
	waitFor(t, name+" event "+reason, func(ctx context.Context) (bool, error) {
		evs, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("involvedObject.name", name).String()})
		if err != nil {
			return false, err
		}
		for _, e := range evs.Items {
			if e.Reason == reason && strings.Contains(e.Message, msg) {
				return true, nil
			}
		}
		return false, nil
	})
}

func TestLoadBalancerController_assignsAndReleases(t *testing.T) {
	cs := startControllers(t, nil, func(c *controllers.Config) { c.LoadBalancerPool = "10.9.0.1-10.9.0.2" })
	ctx := context.Background()
	svcs := cs.CoreV1().Services("default")
	for _, s := range []*corev1.Service{lbService("a", ""), lbService("b", "10.9.0.1")} {
		if _, err := svcs.Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ingressOf(t, cs, "b", "10.9.0.1")
	ingressOf(t, cs, "a", "10.9.0.2")
	eventFor(t, cs, "a", "IPAllocated", `Assigned IP ["10.9.0.2"]`)

	if _, err := svcs.Create(ctx, lbService("c", ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventFor(t, cs, "c", "AllocationFailed", "no available IPs")
	if _, err := svcs.Create(ctx, lbService("d", "10.9.0.1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventFor(t, cs, "d", "AllocationFailed", "requested IP 10.9.0.1 is already in use by default/b")

	// a turns into a ClusterIP service: its address goes to c, the oldest
	// waiting service that asks for none.
	a, _ := svcs.Get(ctx, "a", metav1.GetOptions{})
	a.Spec.Type = corev1.ServiceTypeClusterIP
	a.Spec.LoadBalancerIP = ""
	a.Spec.AllocateLoadBalancerNodePorts = nil
	for i := range a.Spec.Ports {
		a.Spec.Ports[i].NodePort = 0
	}
	a.Spec.ExternalTrafficPolicy = ""
	if _, err := svcs.Update(ctx, a, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	ingressOf(t, cs, "a", "")
	ingressOf(t, cs, "c", "10.9.0.2")

	// Deleting b frees its address for d, which asked for it.
	if err := svcs.Delete(ctx, "b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ingressOf(t, cs, "d", "10.9.0.1")
}

func TestLoadBalancerController_noPool(t *testing.T) {
	cs := startControllers(t, nil, nil)
	if _, err := cs.CoreV1().Services("default").Create(context.Background(), lbService("a", ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventFor(t, cs, "a", "AllocationFailed", "no load balancer address pool is configured")
	ingressOf(t, cs, "a", "")
}

// runLoadBalancers runs a load balancer controller with pool against
// cs until the returned stop is called (or the test ends).
func runLoadBalancers(t *testing.T, cs kubernetes.Interface, pool string) (stop func()) {
	t.Helper()
	cfg := controllers.TestConfig(cs)
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.LoadBalancerPool = pool
	f := informers.NewSharedInformerFactory(cs, 0)
	ctrl, err := controllers.NewLoadBalancerController(cfg, f)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ctrl.Run(ctx) }()
	f.Start(ctx.Done())
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("load balancer controller: %v", err)
			}
			f.Shutdown()
		})
	}
	t.Cleanup(stop)
	return stop
}

// TestLoadBalancerController_restart checks that a controller starting
// over from the stored services (a coordinator taking over) leaves every
// address where it is.
func TestLoadBalancerController_restart(t *testing.T) {
	cs := coordtest.Start(t, func(c *coordinator.Config) { c.Controllers = false }).Client
	ctx := context.Background()
	stop := runLoadBalancers(t, cs, "10.9.0.0/30")
	for i, n := range []string{"a", "b", "c"} {
		if _, err := cs.CoreV1().Services("default").Create(ctx, lbService(n, ""), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		ingressOf(t, cs, n, "10.9.0."+strconv.Itoa(i))
	}
	stop()
	// The next one has the same pool in another order: only new services
	// see the new order.
	runLoadBalancers(t, cs, "10.9.0.3,10.9.0.0-10.9.0.2")
	if _, err := cs.CoreV1().Services("default").Create(ctx, lbService("d", ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ingressOf(t, cs, "d", "10.9.0.3")
	for n, ip := range map[string]string{"a": "10.9.0.0", "b": "10.9.0.1", "c": "10.9.0.2"} {
		ingressOf(t, cs, n, ip)
	}
}
