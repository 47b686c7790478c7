package coordinator

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/keel-edge/keel/coordinator/controllers"
)

// LocalConfig is a client configuration for the API on the local unix
// socket, as root or the agent's own user.
func LocalConfig(socket string) *rest.Config {
	return &rest.Config{
		Host: "http://localhost",
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		QPS: 1000, Burst: 2000,
		UserAgent: "keel-coordinator",
	}
}

// systemNamespaces exist in every cluster.
var systemNamespaces = []string{"default", "kube-system", "kube-public", "kube-node-lease"}

// bootstrap makes the objects every cluster has: the system namespaces,
// the default local-path StorageClass, the kube-dns service in
// kube-system and the kubernetes service in default, whose endpoints name
// this API server.
func (c *Coordinator) bootstrap(ctx context.Context, cidr netip.Prefix, advertise net.IP, port int) error {
	cs, err := kubernetes.NewForConfig(LocalConfig(c.cfg.Socket))
	if err != nil {
		return err
	}
	// The socket listener starts beside this; wait until it answers.
	err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := cs.Discovery().ServerVersion()
		return err == nil, nil
	})
	if err != nil {
		return fmt.Errorf("local API on %s did not answer: %w", c.cfg.Socket, err)
	}
	for _, name := range systemNamespaces {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("namespace %s: %w", name, err)
		}
	}
	if _, err := cs.StorageV1().StorageClasses().Create(ctx, localPathClass(), metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("storage class %s: %w", localPathClassName, err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default",
			Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeClusterIP,
			ClusterIP: nthAddr(cidr, 1).String(),
			Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP,
				TargetPort: intstr.FromInt32(int32(port))}},
			SessionAffinity: corev1.ServiceAffinityNone,
		},
	}
	if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("service kubernetes: %w", err)
	}
	if err := c.bootstrapKubeDNS(ctx, cs, cidr); err != nil {
		return err
	}
	if advertise.IsLoopback() {
		// Endpoints may not name loopback addresses: an API serving only on
		// loopback has no endpoint for the kubernetes service.
		c.cfg.Log.Warn("the API is advertised on loopback; the kubernetes service has no endpoints", "advertise", advertise.String())
		return nil
	}
	ip := advertise.String()
	ep := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default",
			Labels: map[string]string{"endpointslice.kubernetes.io/skip-mirror": "true"}},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: ip}},
			Ports:     []corev1.EndpointPort{{Name: "https", Port: int32(port), Protocol: corev1.ProtocolTCP}},
		}},
	}
	if err := upsertEndpoints(ctx, cs, ep); err != nil {
		return err
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default",
			Labels: map[string]string{discoveryv1.LabelServiceName: "kubernetes"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{ip},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To(int32(port)), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	if advertise.To4() == nil {
		slice.AddressType = discoveryv1.AddressTypeIPv6
	}
	return upsertEndpointSlice(ctx, cs, slice)
}

func upsertEndpoints(ctx context.Context, cs kubernetes.Interface, ep *corev1.Endpoints) error {
	cur, err := cs.CoreV1().Endpoints(ep.Namespace).Get(ctx, ep.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = cs.CoreV1().Endpoints(ep.Namespace).Create(ctx, ep, metav1.CreateOptions{})
	} else if err == nil {
		cur.Subsets = ep.Subsets
		_, err = cs.CoreV1().Endpoints(ep.Namespace).Update(ctx, cur, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("endpoints %s: %w", ep.Name, err)
	}
	return nil
}

func upsertEndpointSlice(ctx context.Context, cs kubernetes.Interface, s *discoveryv1.EndpointSlice) error {
	api := cs.DiscoveryV1().EndpointSlices(s.Namespace)
	cur, err := api.Get(ctx, s.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = api.Create(ctx, s, metav1.CreateOptions{})
	} else if err == nil {
		cur.AddressType, cur.Endpoints, cur.Ports = s.AddressType, s.Endpoints, s.Ports
		_, err = api.Update(ctx, cur, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("endpointslice %s: %w", s.Name, err)
	}
	return nil
}

// bootstrapKubeDNS makes the kube-dns service at the tenth address of the
// service CIDR, without a selector: the kube-dns controller keeps its
// endpoints, the cluster DNS of every node. Pods name its address second
// in their resolv.conf, after their own node's DNS.
func (c *Coordinator) bootstrapKubeDNS(ctx context.Context, cs kubernetes.Interface, cidr netip.Prefix) error {
	if cidr.Addr().BitLen()-cidr.Bits() < 4 {
		c.cfg.Log.Warn("the service CIDR is too small for the kube-dns service's address", "cidr", cidr.String())
		return nil
	}
	ip := nthAddr(cidr, 10).String()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: controllers.KubeDNSName, Namespace: controllers.KubeDNSNamespace,
			Labels: controllers.KubeDNSLabels(), Annotations: controllers.KubeDNSAnnotations()},
		Spec: corev1.ServiceSpec{
			Type:            corev1.ServiceTypeClusterIP,
			ClusterIP:       ip,
			Ports:           controllers.KubeDNSPorts(),
			SessionAffinity: corev1.ServiceAffinityNone,
		},
	}
	_, err := cs.CoreV1().Services(svc.Namespace).Create(ctx, svc, metav1.CreateOptions{})
	switch {
	case err == nil, apierrors.IsAlreadyExists(err):
		return nil
	case apierrors.IsInvalid(err):
		// The address belongs to another service (made before kube-dns
		// existed): pods then resolve through their own node only.
		c.cfg.Log.Warn("no kube-dns service: its address is taken", "ns", svc.Namespace, "svc", svc.Name, "ip", ip, "err", err)
		return nil
	default:
		return fmt.Errorf("service %s/%s: %w", svc.Namespace, svc.Name, err)
	}
}
