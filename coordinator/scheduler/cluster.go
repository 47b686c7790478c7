package scheduler

import (
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// Cluster is what the scheduler knows of the cluster: nodes, the pods
// bound or assumed bound to them, namespaces' labels and volumes. Every
// change is applied incrementally, so that Schedule does cheap work per
// node. It is not safe for concurrent use: one goroutine owns it.
type Cluster struct {
	// PercentageOfNodesToScore is the share of nodes Schedule looks at
	// once the cluster has more than 100 nodes: it stops filtering once
	// it has found that many feasible nodes (at least 100), starting
	// where the previous pod stopped. 0 adapts it to the cluster's size
	// as kube-scheduler does (50% minus 1% per 125 nodes, at least 5%);
	// 100 looks at every node.
	PercentageOfNodesToScore int32

	nodes map[string]*nodeInfo
	order []*nodeInfo // nodes with a Node object, in Schedule's visiting order
	pods  map[string]*podInfo
	// affinityPods are the bound pods with pod (anti-)affinity terms,
	// which constrain or score the pods that come after them.
	affinityPods map[string]*podInfo
	namespaces   map[string]labels.Set
	claims       map[string]*corev1.PersistentVolumeClaim // by namespace/name
	volumes      map[string]*corev1.PersistentVolume
	classes      map[string]*storagev1.StorageClass
	// controllers counts the pods of each controller on each node.
	controllers map[types.UID]map[*nodeInfo]int64
	start       int // where the next Schedule starts visiting nodes
	scratch     scratch
}

// scratch holds the slices one Schedule call fills, kept between calls.
type scratch struct {
	feasible []*nodeInfo
	total    []int64
	raw      []int64
	ok       []bool
	reasons  []string
}

// NewCluster returns an empty cluster.
func NewCluster() *Cluster {
	return &Cluster{
		nodes: map[string]*nodeInfo{}, pods: map[string]*podInfo{}, affinityPods: map[string]*podInfo{},
		namespaces: map[string]labels.Set{}, claims: map[string]*corev1.PersistentVolumeClaim{},
		volumes: map[string]*corev1.PersistentVolume{}, classes: map[string]*storagev1.StorageClass{},
		controllers: map[types.UID]map[*nodeInfo]int64{},
	}
}

// nodeInfo is one node and the totals of the pods on it.
type nodeInfo struct {
	name string
	node *corev1.Node // nil while only pods name the node
	pos  int          // index in Cluster.order, -1 when not listed

	alloc       resources
	allowedPods int64
	// notReady is the taint the node's Ready condition stands for when
	// it is not True (node.kubernetes.io/not-ready or unreachable).
	notReady *corev1.Taint

	requested    resources
	nonZeroCPU   int64
	nonZeroMem   int64
	pods         []*podInfo
	usedPorts    map[hostPort]int
	withAffinity int // pods here with pod (anti-)affinity terms
}

// hostPort is a port a pod takes on its node.
type hostPort struct {
	protocol corev1.Protocol
	ip       string
	port     int32
}

func (n *nodeInfo) addPod(p *podInfo) {
	p.slot = len(n.pods)
	n.pods = append(n.pods, p)
	n.requested.add(&p.req)
	n.nonZeroCPU += p.nonZeroCPU
	n.nonZeroMem += p.nonZeroMem
	for _, hp := range p.ports {
		if n.usedPorts == nil {
			n.usedPorts = map[hostPort]int{}
		}
		n.usedPorts[hp]++
	}
	if p.affinity != nil {
		n.withAffinity++
	}
}

func (n *nodeInfo) removePod(p *podInfo) {
	last := len(n.pods) - 1
	n.pods[p.slot] = n.pods[last]
	n.pods[p.slot].slot = p.slot
	n.pods[last] = nil
	n.pods = n.pods[:last]
	n.requested.sub(&p.req)
	n.nonZeroCPU -= p.nonZeroCPU
	n.nonZeroMem -= p.nonZeroMem
	for _, hp := range p.ports {
		if n.usedPorts[hp]--; n.usedPorts[hp] <= 0 {
			delete(n.usedPorts, hp)
		}
	}
	if p.affinity != nil {
		n.withAffinity--
	}
}

// portFree reports whether hp can be taken on the node: a port is taken
// for one protocol on one address, and the unspecified address takes it
// on every address.
func (n *nodeInfo) portFree(hp hostPort) bool {
	if len(n.usedPorts) == 0 {
		return true
	}
	if hp.ip == "0.0.0.0" {
		for used := range n.usedPorts {
			if used.protocol == hp.protocol && used.port == hp.port {
				return false
			}
		}
		return true
	}
	if n.usedPorts[hp] > 0 {
		return false
	}
	return n.usedPorts[hostPort{protocol: hp.protocol, ip: "0.0.0.0", port: hp.port}] == 0
}

// SetNode adds or replaces a node.
func (c *Cluster) SetNode(node *corev1.Node) {
	n := c.nodes[node.Name]
	if n == nil {
		n = &nodeInfo{name: node.Name, pos: -1}
		c.nodes[node.Name] = n
	}
	n.node = node
	n.alloc = fromList(node.Status.Allocatable)
	n.allowedPods = node.Status.Allocatable.Pods().Value()
	n.notReady = notReadyTaint(node)
	if n.pos < 0 {
		n.pos = len(c.order)
		c.order = append(c.order, n)
	}
}

// RemoveNode forgets a node. Pods still bound to it stay accounted to it
// until they are removed, as they will be when the node comes back.
func (c *Cluster) RemoveNode(name string) {
	n := c.nodes[name]
	if n == nil {
		return
	}
	c.unlist(n)
	n.node = nil
	if len(n.pods) == 0 {
		delete(c.nodes, name)
	}
}

func (c *Cluster) unlist(n *nodeInfo) {
	if n.pos < 0 {
		return
	}
	last := len(c.order) - 1
	c.order[n.pos] = c.order[last]
	c.order[n.pos].pos = n.pos
	c.order[last] = nil
	c.order = c.order[:last]
	n.pos = -1
}

// NumNodes is the number of nodes Schedule considers.
func (c *Cluster) NumNodes() int { return len(c.order) }

// notReadyTaint is the taint Kubernetes' node lifecycle puts on a node
// whose Ready condition is False (not-ready) or Unknown or missing
// (unreachable), nil for a Ready node.
func notReadyTaint(node *corev1.Node) *corev1.Taint {
	for _, cond := range node.Status.Conditions {
		if cond.Type != corev1.NodeReady {
			continue
		}
		switch cond.Status {
		case corev1.ConditionTrue:
			return nil
		case corev1.ConditionFalse:
			return &corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}
		}
		break
	}
	return &corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule}
}

// SetPod records a pod bound to a node (spec.nodeName set) or updates it.
// Pods that finished (Succeeded or Failed) free their node's resources and
// are removed; pods not bound are ignored. A pod assumed earlier is now
// confirmed.
func (c *Cluster) SetPod(pod *corev1.Pod) {
	key := podKey(pod)
	if pod.Spec.NodeName == "" {
		return
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		c.RemovePod(key)
		return
	}
	c.removePod(key)
	c.addPod(newPodInfo(pod, pod.Spec.NodeName))
}

// RemovePod forgets a pod, bound or assumed.
func (c *Cluster) RemovePod(key string) { c.removePod(key) }

// Assume accounts pod to node before the binding is confirmed, so that the
// pods scheduled next see it. SetPod confirms it, Forget undoes it.
func (c *Cluster) Assume(pod *corev1.Pod, node string) {
	key := podKey(pod)
	c.removePod(key)
	p := newPodInfo(pod, node)
	p.assumed = true
	c.addPod(p)
}

// Forget undoes Assume for a pod whose binding failed; a confirmed pod
// stays.
func (c *Cluster) Forget(key string) {
	if p := c.pods[key]; p != nil && p.assumed {
		c.removePod(key)
	}
}

// Assumed reports whether the pod is assumed or known bound, so that it
// must not be scheduled again.
func (c *Cluster) Assumed(key string) bool { return c.pods[key] != nil }

func (c *Cluster) addPod(p *podInfo) {
	n := c.nodes[p.node]
	if n == nil {
		n = &nodeInfo{name: p.node, pos: -1}
		c.nodes[p.node] = n
	}
	n.addPod(p)
	if p.controller != "" {
		m := c.controllers[p.controller]
		if m == nil {
			m = map[*nodeInfo]int64{}
			c.controllers[p.controller] = m
		}
		m[n]++
	}
	c.pods[p.key] = p
	if p.affinity != nil {
		c.affinityPods[p.key] = p
	}
}

func (c *Cluster) removePod(key string) {
	p := c.pods[key]
	if p == nil {
		return
	}
	delete(c.pods, key)
	delete(c.affinityPods, key)
	n := c.nodes[p.node]
	n.removePod(p)
	if m := c.controllers[p.controller]; m != nil {
		if m[n]--; m[n] <= 0 {
			delete(m, n)
			if len(m) == 0 {
				delete(c.controllers, p.controller)
			}
		}
	}
	if n.node == nil && len(n.pods) == 0 {
		delete(c.nodes, n.name)
	}
}

// SetNamespace records a namespace's labels, for affinity terms'
// namespace selectors.
func (c *Cluster) SetNamespace(ns *corev1.Namespace) { c.namespaces[ns.Name] = labels.Set(ns.Labels) }

// RemoveNamespace forgets a namespace.
func (c *Cluster) RemoveNamespace(name string) { delete(c.namespaces, name) }

// SetClaim records a PersistentVolumeClaim.
func (c *Cluster) SetClaim(pvc *corev1.PersistentVolumeClaim) {
	c.claims[pvc.Namespace+"/"+pvc.Name] = pvc
}

// RemoveClaim forgets a PersistentVolumeClaim.
func (c *Cluster) RemoveClaim(namespace, name string) { delete(c.claims, namespace+"/"+name) }

// SetVolume records a PersistentVolume.
func (c *Cluster) SetVolume(pv *corev1.PersistentVolume) { c.volumes[pv.Name] = pv }

// RemoveVolume forgets a PersistentVolume.
func (c *Cluster) RemoveVolume(name string) { delete(c.volumes, name) }

// SetStorageClass records a StorageClass.
func (c *Cluster) SetStorageClass(sc *storagev1.StorageClass) { c.classes[sc.Name] = sc }

// RemoveStorageClass forgets a StorageClass.
func (c *Cluster) RemoveStorageClass(name string) { delete(c.classes, name) }

// podKey is namespace/name, the key pods are known by.
func podKey(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }
