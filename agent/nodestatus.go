package agent

import (
	"net"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/keel-edge/keel/internal/version"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// HostFacts are what the node reports about its machine.
type HostFacts struct {
	Hostname      string
	Addresses     []net.IP
	CPUs          int
	MemoryBytes   int64
	KernelVersion string
	OSImage       string
	Arch          string
	BootID        string
	MachineID     string
}

// NodeFacts are the node's identity and role besides its machine.
type NodeFacts struct {
	Name string
	// Labels are added to the well-known ones.
	Labels map[string]string
	// Version is the agent's version, reported as the kubelet version.
	Version string
	// Coordinator marks a node that runs the control plane.
	Coordinator bool
	// MaxPods is the pod capacity.
	MaxPods int
	// Addresses, when set, are reported instead of the host's own (an
	// explicit advertise address).
	Addresses []net.IP
	// PodCIDR is the node's pod range, written into spec.podCIDR when the
	// node registers.
	PodCIDR string
	// APIPort is the port of the node's API, reported as its daemon
	// endpoint; 0 when it serves none.
	APIPort int32
	// NoPods marks a node whose agent runs no pods: it registers with the
	// NoPodsTaint so nothing is scheduled there, and finishes the deletion
	// of pods bound to it at once, having nothing to stop.
	NoPods bool
}

// NoPodsTaint keeps pods off a node whose agent runs none.
var NoPodsTaint = corev1.Taint{Key: "node.keel.dev/no-pods", Effect: corev1.TaintEffectNoSchedule}

// nodeLabels are the labels Kubernetes users select nodes by.
func nodeLabels(n NodeFacts, h HostFacts) map[string]string {
	l := map[string]string{
		corev1.LabelHostname:   n.Name,
		corev1.LabelOSStable:   "linux",
		corev1.LabelArchStable: h.Arch,
	}
	if n.Coordinator {
		l["node-role.kubernetes.io/control-plane"] = ""
	}
	for k, v := range n.Labels {
		l[k] = v
	}
	return l
}

// nodeStatus is the status the node reports at now; conditions keep their
// transition time from prev when they have not changed.
func nodeStatus(n NodeFacts, h HostFacts, prev []corev1.NodeCondition, now time.Time) corev1.NodeStatus {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(h.CPUs), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(h.MemoryBytes, resource.BinarySI),
		corev1.ResourcePods:   *resource.NewQuantity(int64(n.MaxPods), resource.DecimalSI),
	}
	var addrs []corev1.NodeAddress
	ips := h.Addresses
	if len(n.Addresses) > 0 {
		ips = n.Addresses
	}
	for _, ip := range ips {
		addrs = append(addrs, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip.String()})
	}
	addrs = append(addrs, corev1.NodeAddress{Type: corev1.NodeHostName, Address: n.Name})
	mt := metav1.NewTime(now.Truncate(time.Second))
	conds := []corev1.NodeCondition{
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "AgentReady", Message: "agent is posting ready status"},
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "AgentHasSufficientMemory", Message: "agent has sufficient memory available"},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "AgentHasNoDiskPressure", Message: "agent has no disk pressure"},
		{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "AgentHasSufficientPID", Message: "agent has sufficient PID available"},
	}
	for i := range conds {
		conds[i].LastHeartbeatTime = mt
		conds[i].LastTransitionTime = mt
		for _, p := range prev {
			if p.Type == conds[i].Type && p.Status == conds[i].Status {
				conds[i].LastTransitionTime = p.LastTransitionTime
			}
		}
	}
	return corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: capacity.DeepCopy(),
		Phase:       corev1.NodeRunning,
		Conditions:  conds,
		Addresses:   addrs,
		NodeInfo: corev1.NodeSystemInfo{
			MachineID: h.MachineID, BootID: h.BootID,
			KernelVersion: h.KernelVersion, OSImage: h.OSImage,
			ContainerRuntimeVersion: "keel://" + n.Version,
			KubeletVersion:          version.Kubernetes(),
			OperatingSystem:         "linux", Architecture: h.Arch,
		},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: n.APIPort}},
	}
}

// nodeLease is the node's heartbeat lease at now, renewed from cur (nil
// when it does not exist yet). It lasts four status intervals, owned by
// the node so it goes when the node does.
func nodeLease(node *corev1.Node, cur *coordinationv1.Lease, interval time.Duration, now time.Time) *coordinationv1.Lease {
	l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: node.Name, Namespace: corev1.NamespaceNodeLease}}
	if cur != nil {
		l = cur.DeepCopy()
	}
	l.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}}
	holder := node.Name
	duration := int32(4 * interval / time.Second)
	renew := metav1.NewMicroTime(now)
	l.Spec.HolderIdentity = &holder
	l.Spec.LeaseDurationSeconds = &duration
	l.Spec.RenewTime = &renew
	return l
}
