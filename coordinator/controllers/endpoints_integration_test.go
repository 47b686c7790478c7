package controllers_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/keel-edge/keel/coordinator"
	"github.com/keel-edge/keel/coordinator/controllers"
	"github.com/keel-edge/keel/coordinator/coordtest"
)

// startControllers runs a coordinator in this process and the controllers
// against it, with cfg adjusted by mutate; no fake node plays the pods.
func startControllers(t *testing.T, coord func(*coordinator.Config), mutate func(*controllers.Config)) kubernetes.Interface {
	t.Helper()
	c := coordtest.Start(t, func(c *coordinator.Config) {
		c.Controllers = false
		if coord != nil {
			coord(c)
		}
	})
	cfg := controllers.TestConfig(c.Client)
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	if mutate != nil {
		mutate(&cfg)
	}
	ctrl, err := controllers.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ctrl.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("controllers: %v", err)
		}
	})
	return c.Client
}

// runningPod creates a pod of app on node with ip, ready or not.
func runningPod(t *testing.T, cs kubernetes.Interface, name, app, node, ip string, ready bool, tols ...corev1.Toleration) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{NodeName: node, Tolerations: tols, Containers: []corev1.Container{{Name: "c", Image: "busybox",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}}}
	p, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setPodReady(t, cs, p, ip, ready)
	return p
}

func setPodReady(t *testing.T, cs kubernetes.Interface, p *corev1.Pod, ip string, ready bool) {
	t.Helper()
	ctx := context.Background()
	cur, err := cs.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	cur.Status.Phase, cur.Status.PodIP = corev1.PodRunning, ip
	cur.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	cur.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st, LastTransitionTime: metav1.Now()}}
	if _, err := cs.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func webService(name string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": name},
			Ports: []corev1.ServicePort{{Name: "web", Port: 80, TargetPort: intstr.FromString("http")}}}}
}

// endpointsOf returns the ready and not-ready IPs of a service's Endpoints.
func endpointsOf(ctx context.Context, cs kubernetes.Interface, name string) (ready, notReady []string, err error) {
	ep, err := cs.CoreV1().Endpoints("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, nil, err
	}
	for _, s := range ep.Subsets {
		for _, a := range s.Addresses {
			ready = append(ready, a.IP)
		}
		for _, a := range s.NotReadyAddresses {
			notReady = append(notReady, a.IP)
		}
	}
	return ready, notReady, nil
}

func slicesOf(ctx context.Context, cs kubernetes.Interface, svc string) ([]discoveryv1.EndpointSlice, error) {
	l, err := cs.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

func TestEndpoints_followPods(t *testing.T) {
	cs := startControllers(t, nil, nil)
	ctx := context.Background()
	// The kubernetes service has no selector: its endpoints (none, on
	// loopback) stay the coordinator's.
	kube, kubeErr := cs.CoreV1().Endpoints("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if kubeErr != nil && !apierrors.IsNotFound(kubeErr) {
		t.Fatal(kubeErr)
	}
	if _, err := cs.CoreV1().Services("default").Create(ctx, webService("web"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	runningPod(t, cs, "a", "web", "", "10.244.0.5", true)
	b := runningPod(t, cs, "b", "web", "", "10.244.0.6", false)
	runningPod(t, cs, "other", "db", "", "10.244.0.7", true)
	waitFor(t, "endpoints with a ready and b not ready", func(ctx context.Context) (bool, error) {
		ready, notReady, err := endpointsOf(ctx, cs, "web")
		return err == nil && len(ready) == 1 && ready[0] == "10.244.0.5" && len(notReady) == 1 && notReady[0] == "10.244.0.6", nil
	})
	ep, _ := cs.CoreV1().Endpoints("default").Get(ctx, "web", metav1.GetOptions{})
	if p := ep.Subsets[0].Ports; len(p) != 1 || p[0].Port != 8080 || p[0].Name != "web" || ep.Subsets[0].Addresses[0].TargetRef.Name != "a" {
		t.Fatalf("endpoints %+v", ep.Subsets)
	}
	waitFor(t, "one slice with both pods", func(ctx context.Context) (bool, error) {
		s, err := slicesOf(ctx, cs, "web")
		return err == nil && len(s) == 1 && len(s[0].Endpoints) == 2, err
	})
	s, _ := slicesOf(ctx, cs, "web")
	if s[0].Labels[discoveryv1.LabelManagedBy] != "endpointslice-controller.k8s.io" || len(s[0].OwnerReferences) != 1 ||
		s[0].OwnerReferences[0].Kind != "Service" || s[0].AddressType != discoveryv1.AddressTypeIPv4 {
		t.Fatalf("slice %+v", s[0].ObjectMeta)
	}
	setPodReady(t, cs, b, "10.244.0.6", true)
	waitFor(t, "b ready in the endpoints", func(ctx context.Context) (bool, error) {
		ready, notReady, err := endpointsOf(ctx, cs, "web")
		return err == nil && len(ready) == 2 && len(notReady) == 0, nil
	})
	if err := cs.CoreV1().Pods("default").Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a gone from endpoints and slices", func(ctx context.Context) (bool, error) {
		ready, _, err := endpointsOf(ctx, cs, "web")
		s, serr := slicesOf(ctx, cs, "web")
		return err == nil && serr == nil && len(ready) == 1 && len(s) == 1 && len(s[0].Endpoints) == 1, nil
	})
	if err := cs.CoreV1().Services("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "endpoints and slices gone with the service", func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().Endpoints("default").Get(ctx, "web", metav1.GetOptions{})
		s, serr := slicesOf(ctx, cs, "web")
		return apierrors.IsNotFound(err) && serr == nil && len(s) == 0, nil
	})
	after, err := cs.CoreV1().Endpoints("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if apierrors.IsNotFound(kubeErr) != apierrors.IsNotFound(err) || (err == nil && after.ResourceVersion != kube.ResourceVersion) {
		t.Fatalf("kubernetes endpoints changed: before %v, after %v %+v", kubeErr, err, after)
	}
	if s, _ := slicesOf(ctx, cs, "kubernetes"); len(s) > 0 && s[0].Labels[discoveryv1.LabelManagedBy] == "endpointslice-controller.k8s.io" {
		t.Fatalf("kubernetes service got a managed slice: %+v", s[0].ObjectMeta)
	}
}
