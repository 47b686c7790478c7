package coordinator

import (
	"context"
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/keel-edge/keel/coordinator/apiserver"
)

// bucketPodCIDRs holds one key per allocated node pod CIDR
// ("10.244.3.0/24"), whose value names the node. It is written in the same
// commit as the Node, so a range is held exactly while its node exists.
const bucketPodCIDRs = "podcidrs"

// podCIDRAlloc gives each Node a pod CIDR from the cluster CIDR, as an
// admission on nodes: a Node created without spec.podCIDR gets the lowest
// free range, one created with a range keeps it if it is free, the range
// never changes afterwards, and it is released when the Node is deleted.
type podCIDRAlloc struct {
	store   allocStore
	cluster netip.Prefix
	bits    int
}

var _ apiserver.Admission = (*podCIDRAlloc)(nil)

func newPodCIDRAlloc(st allocStore, clusterCIDR string, nodeBits int) (*podCIDRAlloc, error) {
	p, err := netip.ParsePrefix(clusterCIDR)
	if err != nil {
		return nil, fmt.Errorf("cluster CIDR %q: %w", clusterCIDR, err)
	}
	if nodeBits < p.Bits() || nodeBits > p.Addr().BitLen()-2 || p.Addr().BitLen()-nodeBits > 30 {
		return nil, fmt.Errorf("node CIDR size /%d does not fit cluster CIDR %s", nodeBits, p)
	}
	return &podCIDRAlloc{store: st, cluster: p.Masked(), bits: nodeBits}, nil
}

func (a *podCIDRAlloc) Admit(_ context.Context, ar *apiserver.AdmissionRequest) error {
	if ar.Kind.GVK.Group != "" || ar.Kind.GVK.Kind != "Node" {
		return nil
	}
	var node, old *corev1.Node
	if ar.Obj != nil {
		node = ar.Obj.(*corev1.Node)
	}
	if ar.Old != nil {
		old = ar.Old.(*corev1.Node)
	}
	had, want := cidrsOf(old), map[string]bool{}
	owner := ""
	if node != nil {
		owner = node.Name
		if err := a.want(node, old); err != nil {
			return err
		}
		want = cidrsOf(node)
	}
	ar.Ops = append(ar.Ops, allocationOps(a.store, bucketPodCIDRs, had, want, owner)...)
	return nil
}

func cidrsOf(n *corev1.Node) map[string]bool {
	out := map[string]bool{}
	if n != nil && n.Spec.PodCIDR != "" {
		out[n.Spec.PodCIDR] = true
	}
	return out
}

// want settles node's pod CIDR for the write.
func (a *podCIDRAlloc) want(node, old *corev1.Node) error {
	fld := field.NewPath("spec", "podCIDR")
	if old != nil && old.Spec.PodCIDR != "" {
		switch node.Spec.PodCIDR {
		case "", old.Spec.PodCIDR:
			node.Spec.PodCIDR, node.Spec.PodCIDRs = old.Spec.PodCIDR, []string{old.Spec.PodCIDR}
			return nil
		}
		return invalidNode(node, field.Forbidden(fld, fmt.Sprintf("node %s already has pod CIDR %s; it does not change", node.Name, old.Spec.PodCIDR)))
	}
	if node.Spec.PodCIDR == "" {
		free, err := a.free()
		if err != nil {
			return err
		}
		node.Spec.PodCIDR = free.String()
	} else {
		p, err := netip.ParsePrefix(node.Spec.PodCIDR)
		if err != nil || p.Masked() != p {
			return invalidNode(node, field.Invalid(fld, node.Spec.PodCIDR, "must be a CIDR with no host bits set"))
		}
		if !a.cluster.Overlaps(p) || p.Bits() < a.cluster.Bits() {
			return invalidNode(node, field.Invalid(fld, node.Spec.PodCIDR, fmt.Sprintf("is not inside the cluster CIDR %s", a.cluster)))
		}
		if kv, err := a.store.Get(bucketPodCIDRs, p.String()); err == nil && string(kv.Value) != node.Name {
			return invalidNode(node, field.Invalid(fld, node.Spec.PodCIDR, fmt.Sprintf("is already the pod CIDR of node %s", kv.Value)))
		}
		node.Spec.PodCIDR = p.String()
	}
	node.Spec.PodCIDRs = []string{node.Spec.PodCIDR}
	return nil
}

// free is the lowest range of the cluster CIDR no node holds or overlaps.
func (a *podCIDRAlloc) free() (netip.Prefix, error) {
	kvs, _, err := a.store.List(bucketPodCIDRs, "")
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("list allocated pod CIDRs: %w", err)
	}
	var taken []netip.Prefix
	for _, kv := range kvs {
		if p, err := netip.ParsePrefix(kv.Key); err == nil {
			taken = append(taken, p)
		}
	}
	n := 1 << min(a.bits-a.cluster.Bits(), 20)
	step := 1 << (a.cluster.Addr().BitLen() - a.bits)
next:
	for i := range n {
		p := netip.PrefixFrom(nthAddr(a.cluster, i*step), a.bits)
		for _, t := range taken {
			if t.Overlaps(p) {
				continue next
			}
		}
		return p, nil
	}
	return netip.Prefix{}, apierrors.NewInternalError(fmt.Errorf("no free /%d pod CIDR left in the cluster CIDR %s", a.bits, a.cluster))
}

func invalidNode(n *corev1.Node, errs ...*field.Error) error {
	return apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Node").GroupKind(), n.Name, errs)
}
