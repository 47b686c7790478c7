package coordinator

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/keel-edge/keel/coordinator/apiserver"
	"github.com/keel-edge/keel/coordinator/store"
)

// Buckets of the service allocations: one key per allocated cluster IP
// ("10.96.0.10") and node port ("TCP/30080"), whose value names the owning
// service. They are written in the same commit as the service, so an
// allocation exists exactly when its service does.
const (
	bucketServiceIPs   = "serviceips"
	bucketNodePorts    = "servicenodeports"
	defaultNodePortMin = 30000
	defaultNodePortMax = 32767
)

// allocStore is what allocation needs of the store.
type allocStore interface {
	Get(bucket, key string) (store.KV, error)
	List(bucket, prefix string) ([]store.KV, int64, error)
}

// serviceAlloc allocates cluster IPs from the service CIDR and node ports
// from their range, as an admission on services.
type serviceAlloc struct {
	store     allocStore
	cidr      netip.Prefix
	portRange [2]int32
}

var _ apiserver.Admission = (*serviceAlloc)(nil)

func (a *serviceAlloc) Admit(ctx context.Context, ar *apiserver.AdmissionRequest) error {
	if ar.Kind.GVK.Group != "" || ar.Kind.GVK.Kind != "Service" {
		return nil
	}
	var svc, old *corev1.Service
	if ar.Obj != nil {
		svc = ar.Obj.(*corev1.Service)
	}
	if ar.Old != nil {
		old = ar.Old.(*corev1.Service)
	}
	if svc != nil && old != nil {
		keepAllocated(svc, old)
	}
	owner := ""
	if svc != nil {
		owner = svc.Namespace + "/" + svc.Name
	}
	want, err := a.wantIPs(svc)
	if err != nil {
		return err
	}
	ops, err := a.diff(bucketServiceIPs, ipsOf(old), want, owner)
	if err != nil {
		return err
	}
	ar.Ops = append(ar.Ops, ops...)
	wantPorts, err := a.wantNodePorts(svc)
	if err != nil {
		return err
	}
	ops, err = a.diff(bucketNodePorts, nodePortsOf(old), wantPorts, owner)
	if err != nil {
		return err
	}
	ar.Ops = append(ar.Ops, ops...)
	return nil
}

// keepAllocated carries allocations over an update that left them out, as
// Kubernetes does for a PUT without spec.clusterIP or nodePort.
func keepAllocated(svc, old *corev1.Service) {
	if svc.Spec.Type == corev1.ServiceTypeExternalName || old.Spec.Type == corev1.ServiceTypeExternalName {
		return
	}
	if svc.Spec.ClusterIP == "" && len(svc.Spec.ClusterIPs) == 0 {
		svc.Spec.ClusterIP, svc.Spec.ClusterIPs = old.Spec.ClusterIP, old.Spec.ClusterIPs
	}
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if p.NodePort != 0 || !needsNodePorts(svc) {
			continue
		}
		for _, op := range old.Spec.Ports {
			if op.Port == p.Port && op.Protocol == p.Protocol && op.NodePort != 0 {
				p.NodePort = op.NodePort
			}
		}
	}
}

func ipsOf(svc *corev1.Service) map[string]bool {
	out := map[string]bool{}
	if svc == nil {
		return out
	}
	for _, ip := range svc.Spec.ClusterIPs {
		if ip != "" && ip != corev1.ClusterIPNone {
			out[ip] = true
		}
	}
	if ip := svc.Spec.ClusterIP; ip != "" && ip != corev1.ClusterIPNone {
		out[ip] = true
	}
	return out
}

func nodePortsOf(svc *corev1.Service) map[string]bool {
	out := map[string]bool{}
	if svc == nil {
		return out
	}
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			out[portKey(p.Protocol, p.NodePort)] = true
		}
	}
	return out
}

func portKey(proto corev1.Protocol, port int32) string {
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	return string(proto) + "/" + strconv.Itoa(int(port))
}

func needsNodePorts(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer
}

// wantIPs allocates a cluster IP where the service needs one and checks a
// requested one; it returns the IPs the service holds afterwards.
func (a *serviceAlloc) wantIPs(svc *corev1.Service) (map[string]bool, error) {
	if svc == nil {
		return map[string]bool{}, nil
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "", nil
		return map[string]bool{}, nil
	}
	fld := field.NewPath("spec", "clusterIPs").Index(0)
	switch ip := svc.Spec.ClusterIP; ip {
	case corev1.ClusterIPNone:
		svc.Spec.ClusterIPs = []string{corev1.ClusterIPNone}
		return map[string]bool{}, nil
	case "":
		if len(svc.Spec.ClusterIPs) > 0 && svc.Spec.ClusterIPs[0] != "" {
			svc.Spec.ClusterIP = svc.Spec.ClusterIPs[0]
			return a.wantIPs(svc)
		}
		free, err := a.freeIP()
		if err != nil {
			return nil, err
		}
		svc.Spec.ClusterIP = free
	default:
		addr, err := netip.ParseAddr(ip)
		if err != nil {
			return nil, invalid(svc, field.Invalid(fld, ip, "must be a valid IP address"))
		}
		if !a.cidr.Contains(addr) {
			return nil, invalid(svc, field.Invalid(fld, ip, fmt.Sprintf("provided IP is not in the valid range. The range of valid IPs is %s", a.cidr)))
		}
		if kv, err := a.store.Get(bucketServiceIPs, ip); err == nil && string(kv.Value) != svc.Namespace+"/"+svc.Name {
			return nil, invalid(svc, field.Invalid(fld, ip, "provided IP is already allocated"))
		}
	}
	svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
	return map[string]bool{svc.Spec.ClusterIP: true}, nil
}

func (a *serviceAlloc) freeIP() (string, error) {
	used, _, err := a.store.List(bucketServiceIPs, "")
	if err != nil {
		return "", fmt.Errorf("list allocated service IPs: %w", err)
	}
	taken := make(map[string]bool, len(used))
	for _, kv := range used {
		taken[kv.Key] = true
	}
	// Skip the network address and the first address (the kubernetes
	// service's); start at a random offset so racing creates rarely collide.
	size := 1 << (a.cidr.Addr().BitLen() - a.cidr.Bits())
	if a.cidr.Addr().BitLen()-a.cidr.Bits() > 20 {
		size = 1 << 20
	}
	usable := size - 3
	if usable <= 0 {
		return "", apierrors.NewInternalError(fmt.Errorf("service CIDR %s is too small", a.cidr))
	}
	start := rand.IntN(usable)
	for i := 0; i < usable; i++ {
		addr := nthAddr(a.cidr, 2+(start+i)%usable)
		if !taken[addr.String()] {
			return addr.String(), nil
		}
	}
	return "", apierrors.NewInternalError(fmt.Errorf("no free cluster IP in %s", a.cidr))
}

func nthAddr(p netip.Prefix, n int) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	carry := n
	for i := len(b) - 1; i >= 0 && carry > 0; i-- {
		sum := int(b[i]) + carry
		b[i] = byte(sum)
		carry = sum >> 8
	}
	addr, _ := netip.AddrFromSlice(b)
	return addr
}

// wantNodePorts allocates the node ports a NodePort or LoadBalancer service
// needs and checks requested ones.
func (a *serviceAlloc) wantNodePorts(svc *corev1.Service) (map[string]bool, error) {
	out := map[string]bool{}
	if svc == nil {
		return out, nil
	}
	if !needsNodePorts(svc) {
		for i := range svc.Spec.Ports {
			if svc.Spec.Ports[i].NodePort != 0 {
				return nil, invalid(svc, field.Forbidden(field.NewPath("spec", "ports").Index(i).Child("nodePort"), "may not be used when `type` is 'ClusterIP'"))
			}
		}
		return out, nil
	}
	var taken map[string]bool
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		fld := field.NewPath("spec", "ports").Index(i).Child("nodePort")
		if p.NodePort != 0 {
			if p.NodePort < a.portRange[0] || p.NodePort > a.portRange[1] {
				return nil, invalid(svc, field.Invalid(fld, p.NodePort, fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", a.portRange[0], a.portRange[1])))
			}
			key := portKey(p.Protocol, p.NodePort)
			if kv, err := a.store.Get(bucketNodePorts, key); err == nil && string(kv.Value) != svc.Namespace+"/"+svc.Name {
				return nil, invalid(svc, field.Invalid(fld, p.NodePort, "provided port is already allocated"))
			}
			out[key] = true
			continue
		}
		if taken == nil {
			kvs, _, err := a.store.List(bucketNodePorts, "")
			if err != nil {
				return nil, fmt.Errorf("list allocated node ports: %w", err)
			}
			taken = map[string]bool{}
			for _, kv := range kvs {
				taken[kv.Key] = true
			}
		}
		n := int(a.portRange[1] - a.portRange[0] + 1)
		start := rand.IntN(n)
		for j := 0; j < n; j++ {
			port := a.portRange[0] + int32((start+j)%n)
			key := portKey(p.Protocol, port)
			if !taken[key] && !out[key] {
				p.NodePort = port
				out[key] = true
				break
			}
		}
		if p.NodePort == 0 {
			return nil, apierrors.NewInternalError(errors.New("no free node port"))
		}
	}
	return out, nil
}

// diff turns the allocations held before and wanted after into store ops.
func (a *serviceAlloc) diff(bucket string, had, want map[string]bool, owner string) ([]store.Op, error) {
	return allocationOps(a.store, bucket, had, want, owner), nil
}

// allocationOps turns the allocations (keys of bucket) an owner held
// before and wants after a write into the store operations of that write.
func allocationOps(st allocStore, bucket string, had, want map[string]bool, owner string) []store.Op {
	var ops []store.Op
	for key := range want {
		if had[key] {
			continue
		}
		value := []byte(owner)
		if kv, err := st.Get(bucket, key); err == nil && string(kv.Value) == owner {
			continue
		}
		// Held by another service only after a race with it: the create
		// fails in the commit and the write is retried with a new choice.
		ops = append(ops, store.Op{Kind: store.Create, Bucket: bucket, Key: key,
			Value: func(int64) ([]byte, error) { return value, nil }})
	}
	for key := range had {
		if want[key] {
			continue
		}
		if _, err := st.Get(bucket, key); err != nil {
			continue
		}
		ops = append(ops, store.Op{Kind: store.Delete, Bucket: bucket, Key: key})
	}
	return ops
}

func invalid(svc *corev1.Service, errs ...*field.Error) error {
	return apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Service").GroupKind(), svc.Name, errs)
}
