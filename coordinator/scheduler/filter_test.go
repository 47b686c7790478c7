package scheduler

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type filterCase struct {
	name  string
	nodes []*corev1.Node
	bound []*corev1.Pod
	// claims, volumes and classes are added to the cluster.
	claims  []*corev1.PersistentVolumeClaim
	volumes []*corev1.PersistentVolume
	classes []*storagev1.StorageClass
	pod     *corev1.Pod
	// fits lists the nodes the pod may land on; empty means none fits
	// and msg is the message.
	fits []string
	msg  string
}

func runFilterCases(t *testing.T, cases []filterCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := cluster(tc.nodes, tc.bound...)
			for _, o := range tc.claims {
				c.SetClaim(o)
			}
			for _, o := range tc.volumes {
				c.SetVolume(o)
			}
			for _, o := range tc.classes {
				c.SetStorageClass(o)
			}
			d := c.Schedule(tc.pod)
			if d.Node == "" && d.Message != tc.msg {
				t.Fatalf("message:\n got %q\nwant %q", d.Message, tc.msg)
			}
			if d.Node != "" && !slices.Contains(tc.fits, d.Node) {
				t.Fatalf("scheduled on %s, want one of %v", d.Node, tc.fits)
			}
			var got []string
			if cd, msg := c.newCandidate(tc.pod); msg == "" {
				for _, n := range c.order {
					if len(c.filter(cd, n, nil)) == 0 {
						got = append(got, n.name)
					}
				}
			}
			slices.Sort(got)
			want := slices.Clone(tc.fits)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("fitting nodes: got %v, want %v", got, want)
			}
		})
	}
}

func TestSchedule_resources(t *testing.T) {
	nodes := []*corev1.Node{node("small", "1", "1Gi"), node("big", "4", "8Gi"), node("mid", "2", "4Gi")}
	runFilterCases(t, []filterCase{
		{name: "fits everywhere", nodes: nodes, pod: pod("p", requests("cpu", "500m", "memory", "512Mi")), fits: []string{"small", "big", "mid"}},
		{name: "cpu", nodes: nodes, pod: pod("p", requests("cpu", "3")), fits: []string{"big"}},
		{
			name: "bound pods use the node", nodes: nodes,
			bound: []*corev1.Pod{pod("a", on("big"), requests("cpu", "3")), pod("b", on("mid"), requests("memory", "3Gi"))},
			pod:   pod("p", requests("cpu", "1500m", "memory", "2Gi")),
			msg:   "0/3 nodes are available: 2 Insufficient cpu, 2 Insufficient memory.",
		},
		{
			name: "finished pods free the node", nodes: nodes,
			bound: []*corev1.Pod{pod("a", on("big"), requests("cpu", "4"), phase(corev1.PodSucceeded)), pod("b", on("big"), requests("cpu", "4"), phase(corev1.PodFailed))},
			pod:   pod("p", requests("cpu", "3")), fits: []string{"big"},
		},
		{
			name: "every insufficient resource counts", nodes: nodes[:1],
			pod: pod("p", requests("cpu", "2", "memory", "2Gi", "ephemeral-storage", "20Gi", "example.com/gpu", "1")),
			msg: "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient ephemeral-storage, 1 Insufficient example.com/gpu, 1 Insufficient memory.",
		},
		{
			name: "extended resource offered", nodes: []*corev1.Node{node("gpu", "1", "1Gi", withAlloc("example.com/gpu", "2")), node("plain", "1", "1Gi")},
			pod: pod("p", requests("example.com/gpu", "2")), fits: []string{"gpu"},
		},
		{
			name: "too many pods", nodes: []*corev1.Node{node("n", "8", "8Gi", withAlloc(corev1.ResourcePods, "1"))},
			bound: []*corev1.Pod{pod("a", on("n"))}, pod: pod("p"),
			msg: "0/1 nodes are available: 1 Too many pods.",
		},
		{
			name: "init containers count by their peak", nodes: nodes,
			pod: pod("p", requests("cpu", "500m"), func(p *corev1.Pod) {
				p.Spec.InitContainers = []corev1.Container{
					{Name: "i1", Resources: corev1.ResourceRequirements{Requests: list("cpu", "3")}},
					{Name: "i2", Resources: corev1.ResourceRequirements{Requests: list("cpu", "1")}},
				}
			}),
			fits: []string{"big"},
		},
		{
			name: "containers sum", nodes: nodes,
			pod: pod("p", requests("cpu", "1500m"), func(p *corev1.Pod) {
				p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "c2", Resources: corev1.ResourceRequirements{Requests: list("cpu", "500m")}})
			}),
			fits: []string{"big", "mid"},
		},
		{
			name: "sidecars add to the containers", nodes: nodes,
			pod: pod("p", requests("cpu", "1500m"), func(p *corev1.Pod) {
				always := corev1.ContainerRestartPolicyAlways
				p.Spec.InitContainers = []corev1.Container{{Name: "side", RestartPolicy: &always, Resources: corev1.ResourceRequirements{Requests: list("cpu", "1")}}}
				p.Spec.Containers[0].Resources.Requests = list("cpu", "1")
			}),
			fits: []string{"big", "mid"},
		},
		{
			name: "overhead counts", nodes: nodes,
			pod:  pod("p", requests("memory", "3Gi"), func(p *corev1.Pod) { p.Spec.Overhead = list("memory", "2Gi") }),
			fits: []string{"big"},
		},
	})
}

func TestSchedule_nodeSelectionAndTaints(t *testing.T) {
	nodes := three(map[string][]nodeOpt{
		"n1": {withLabels("disk", "ssd", "gen", "5")},
		"n2": {withLabels("disk", "hdd", "gen", "3")},
		"n3": {withLabels("gen", "x")},
	})
	runFilterCases(t, []filterCase{
		{name: "nodeSelector", nodes: nodes, pod: pod("p", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "ssd"} }), fits: []string{"n1"}},
		{
			name: "nodeSelector matches nothing", nodes: nodes,
			pod: pod("p", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "nvme"} }),
			msg: "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.",
		},
		{name: "In", nodes: nodes, pod: pod("p", nodeAffinity(expr("disk", corev1.NodeSelectorOpIn, "ssd", "hdd"))), fits: []string{"n1", "n2"}},
		{name: "NotIn", nodes: nodes, pod: pod("p", nodeAffinity(expr("disk", corev1.NodeSelectorOpNotIn, "ssd"))), fits: []string{"n2", "n3"}},
		{name: "Exists", nodes: nodes, pod: pod("p", nodeAffinity(expr("disk", corev1.NodeSelectorOpExists))), fits: []string{"n1", "n2"}},
		{name: "DoesNotExist", nodes: nodes, pod: pod("p", nodeAffinity(expr("disk", corev1.NodeSelectorOpDoesNotExist))), fits: []string{"n3"}},
		{name: "Gt", nodes: nodes, pod: pod("p", nodeAffinity(expr("gen", corev1.NodeSelectorOpGt, "4"))), fits: []string{"n1"}},
		{name: "Lt", nodes: nodes, pod: pod("p", nodeAffinity(expr("gen", corev1.NodeSelectorOpLt, "4"))), fits: []string{"n2"}},
		{name: "terms are ORed", nodes: nodes, pod: pod("p", nodeAffinity(expr("disk", corev1.NodeSelectorOpIn, "ssd"), expr("gen", corev1.NodeSelectorOpIn, "x"))), fits: []string{"n1", "n3"}},
		{
			name: "matchFields on the node's name", nodes: nodes,
			pod:  pod("p", nodeAffinity(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"n2"}}}})),
			fits: []string{"n2"},
		},
		{
			name: "selector and affinity both apply", nodes: nodes,
			pod:  pod("p", nodeAffinity(expr("disk", corev1.NodeSelectorOpExists)), func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"gen": "3"} }),
			fits: []string{"n2"},
		},
		{
			name: "NoSchedule and NoExecute taints block",
			nodes: three(map[string][]nodeOpt{
				"n1": {withTaint("dedicated", "db", corev1.TaintEffectNoSchedule)},
				"n2": {withTaint("evict", "", corev1.TaintEffectNoExecute)},
				"n3": {withTaint("soft", "", corev1.TaintEffectPreferNoSchedule)},
			}),
			pod: pod("p"), fits: []string{"n3"},
		},
		{
			name: "untolerated taints are named",
			nodes: three(map[string][]nodeOpt{
				"n1": {withTaint("dedicated", "db", corev1.TaintEffectNoSchedule)},
				"n2": {withTaint("dedicated", "db", corev1.TaintEffectNoSchedule)},
				"n3": {withTaint("evict", "", corev1.TaintEffectNoExecute)},
			}),
			pod: pod("p"),
			msg: "0/3 nodes are available: 1 node(s) had untolerated taint {evict: }, 2 node(s) had untolerated taint {dedicated: db}.",
		},
		{
			name: "tolerations",
			nodes: three(map[string][]nodeOpt{
				"n1": {withTaint("dedicated", "db", corev1.TaintEffectNoSchedule)},
				"n2": {withTaint("evict", "", corev1.TaintEffectNoExecute)},
			}),
			pod: pod("p", tolerating("dedicated", corev1.TaintEffectNoSchedule)), fits: []string{"n1", "n3"},
		},
		{
			name: "cordoned", nodes: three(map[string][]nodeOpt{"n1": {cordoned}, "n2": {cordoned}}),
			pod: pod("p", requests("cpu", "3")),
			msg: "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) were unschedulable.",
		},
		{
			name: "cordon tolerated", nodes: three(map[string][]nodeOpt{"n1": {cordoned}, "n2": {cordoned}}),
			pod: pod("p", tolerating(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule)), fits: []string{"n1", "n2", "n3"},
		},
		{
			name:  "not ready",
			nodes: three(map[string][]nodeOpt{"n1": {ready(corev1.ConditionFalse)}, "n2": {ready(corev1.ConditionUnknown)}, "n3": {ready("")}}),
			pod:   pod("p"),
			msg:   "0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, 2 node(s) had untolerated taint {node.kubernetes.io/unreachable: }.",
		},
		{
			name:  "not ready by taint while the condition says ready",
			nodes: three(map[string][]nodeOpt{"n1": {withTaint(corev1.TaintNodeNotReady, "", corev1.TaintEffectNoExecute)}}),
			pod:   pod("p"), fits: []string{"n2", "n3"},
		},
		{
			name:  "not ready tolerated",
			nodes: three(map[string][]nodeOpt{"n1": {ready(corev1.ConditionFalse)}, "n2": {ready(corev1.ConditionUnknown)}}),
			pod:   pod("p", tolerating(corev1.TaintNodeNotReady, "")), fits: []string{"n1", "n3"},
		},
	})
}

func TestSchedule_hostPorts(t *testing.T) {
	nodes := three()
	bound := []*corev1.Pod{
		pod("a", on("n1"), hostPortOf(8080, "", "")),
		pod("b", on("n2"), hostPortOf(8080, corev1.ProtocolTCP, "10.0.0.1")),
		pod("c", on("n3"), hostPortOf(8080, corev1.ProtocolUDP, "")),
	}
	runFilterCases(t, []filterCase{
		{name: "same port and protocol", nodes: nodes, bound: bound, pod: pod("p", hostPortOf(8080, corev1.ProtocolTCP, "")), fits: []string{"n3"}},
		{name: "another address", nodes: nodes, bound: bound, pod: pod("p", hostPortOf(8080, corev1.ProtocolTCP, "10.0.0.2")), fits: []string{"n2", "n3"}},
		{name: "same address", nodes: nodes[1:2], bound: bound, pod: pod("p", hostPortOf(8080, corev1.ProtocolTCP, "10.0.0.1")),
			msg: "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports."},
		{name: "another port", nodes: nodes, bound: bound, pod: pod("p", hostPortOf(9090, corev1.ProtocolTCP, "")), fits: []string{"n1", "n2", "n3"}},
		{name: "udp", nodes: nodes, bound: bound, pod: pod("p", hostPortOf(8080, corev1.ProtocolUDP, "")), fits: []string{"n1", "n2"}},
		{
			name: "terminal pods free their ports", nodes: nodes[:1], bound: []*corev1.Pod{pod("a", on("n1"), hostPortOf(8080, "", ""), phase(corev1.PodSucceeded))},
			pod: pod("p", hostPortOf(8080, "", "")), fits: []string{"n1"},
		},
	})
}

func TestSchedule_interPodAffinity(t *testing.T) {
	zones := three(map[string][]nodeOpt{
		"n1": {withLabels("zone", "a")}, "n2": {withLabels("zone", "a")}, "n3": {withLabels("zone", "b")},
	})
	web := selectorOf("app", "web")
	runFilterCases(t, []filterCase{
		{
			name: "anti-affinity by hostname", nodes: zones, bound: []*corev1.Pod{pod("w1", on("n1"), podLabels("app", "web"))},
			pod:  pod("p", podLabels("app", "web"), requiredAntiAffinity(podAffinityTerm(corev1.LabelHostname, web))),
			fits: []string{"n2", "n3"},
		},
		{
			name: "anti-affinity by zone", nodes: zones, bound: []*corev1.Pod{pod("w1", on("n1"), podLabels("app", "web"))},
			pod:  pod("p", requiredAntiAffinity(podAffinityTerm("zone", web))),
			fits: []string{"n3"},
		},
		{
			name: "anti-affinity everywhere", nodes: zones, bound: []*corev1.Pod{pod("w1", on("n1"), podLabels("app", "web")), pod("w2", on("n3"), podLabels("app", "web"))},
			pod: pod("p", requiredAntiAffinity(podAffinityTerm("zone", web))),
			msg: "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.",
		},
		{
			name: "anti-affinity in other namespaces does not count", nodes: zones,
			bound: []*corev1.Pod{pod("w1", on("n1"), podLabels("app", "web"), func(p *corev1.Pod) { p.Namespace = "other" })},
			pod:   pod("p", requiredAntiAffinity(podAffinityTerm("zone", web))),
			fits:  []string{"n1", "n2", "n3"},
		},
		{
			name: "an empty namespace selector is every namespace", nodes: zones,
			bound: []*corev1.Pod{pod("w1", on("n1"), podLabels("app", "web"), func(p *corev1.Pod) { p.Namespace = "other" })},
			pod:   pod("p", requiredAntiAffinity(corev1.PodAffinityTerm{TopologyKey: "zone", LabelSelector: web, NamespaceSelector: &metav1.LabelSelector{}})),
			fits:  []string{"n3"},
		},
		{
			name: "existing pods' anti-affinity", nodes: zones,
			bound: []*corev1.Pod{pod("lonely", on("n3"), requiredAntiAffinity(podAffinityTerm("zone", web)))},
			pod:   pod("p", podLabels("app", "web")),
			fits:  []string{"n1", "n2"},
		},
		{
			name: "existing pods' anti-affinity everywhere", nodes: zones,
			bound: []*corev1.Pod{pod("l1", on("n3"), requiredAntiAffinity(podAffinityTerm("zone", web))), pod("l2", on("n1"), requiredAntiAffinity(podAffinityTerm(corev1.LabelHostname, web)))},
			pod:   pod("p", podLabels("app", "web"), nodeAffinity(expr("zone", corev1.NodeSelectorOpIn, "b"), expr(corev1.LabelHostname, corev1.NodeSelectorOpIn, "n1"))),
			msg:   "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 node(s) didn't satisfy existing pods anti-affinity rules.",
		},
		{
			name: "affinity by zone", nodes: zones, bound: []*corev1.Pod{pod("db", on("n1"), podLabels("app", "db"))},
			pod:  pod("p", requiredAffinity(podAffinityTerm("zone", selectorOf("app", "db")))),
			fits: []string{"n1", "n2"},
		},
		{
			name: "affinity with nothing to join", nodes: zones,
			pod: pod("p", requiredAffinity(podAffinityTerm("zone", selectorOf("app", "db")))),
			msg: "0/3 nodes are available: 3 node(s) didn't match pod affinity rules.",
		},
		{
			name: "the first pod of a group joins itself", nodes: zones,
			pod:  pod("p", podLabels("app", "db"), requiredAffinity(podAffinityTerm("zone", selectorOf("app", "db")))),
			fits: []string{"n1", "n2", "n3"},
		},
		{
			name: "affinity to a key no node has", nodes: zones, bound: []*corev1.Pod{pod("db", on("n1"), podLabels("app", "db"))},
			pod: pod("p", requiredAffinity(podAffinityTerm("rack", selectorOf("app", "db")))),
			msg: "0/3 nodes are available: 3 node(s) didn't match pod affinity rules.",
		},
	})
}

func TestSchedule_topologySpread(t *testing.T) {
	zones := three(map[string][]nodeOpt{
		"n1": {withLabels("zone", "a")}, "n2": {withLabels("zone", "a")}, "n3": {withLabels("zone", "b")},
	})
	web := selectorOf("app", "web")
	w := func(name, node string) *corev1.Pod { return pod(name, on(node), podLabels("app", "web")) }
	runFilterCases(t, []filterCase{
		{
			name: "skew by zone", nodes: zones, bound: []*corev1.Pod{w("w1", "n1")},
			pod:  pod("p", podLabels("app", "web"), spread("zone", 1, corev1.DoNotSchedule, web)),
			fits: []string{"n3"},
		},
		{
			name: "skew by hostname", nodes: zones, bound: []*corev1.Pod{w("w1", "n1"), w("w2", "n2")},
			pod:  pod("p", podLabels("app", "web"), spread(corev1.LabelHostname, 1, corev1.DoNotSchedule, web)),
			fits: []string{"n3"},
		},
		{
			name: "max skew 2", nodes: zones, bound: []*corev1.Pod{w("w1", "n1")},
			pod:  pod("p", podLabels("app", "web"), spread("zone", 2, corev1.DoNotSchedule, web)),
			fits: []string{"n1", "n2", "n3"},
		},
		{
			name: "nodes without the key", nodes: append(three(), node("n4", "2", "4Gi", withLabels("zone", "a"))),
			pod:  pod("p", podLabels("app", "web"), spread("zone", 1, corev1.DoNotSchedule, web)),
			fits: []string{"n4"},
		},
		{
			name: "missing label message", nodes: three(),
			pod: pod("p", podLabels("app", "web"), spread("zone", 1, corev1.DoNotSchedule, web)),
			msg: "0/3 nodes are available: 3 node(s) didn't match pod topology spread constraints (missing required label).",
		},
		{
			name: "nodes the pod cannot go to do not count", nodes: zones[:2], bound: []*corev1.Pod{w("w1", "n1"), w("w2", "n1")},
			pod:  pod("p", podLabels("app", "web"), spread(corev1.LabelHostname, 1, corev1.DoNotSchedule, web), func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": "n1"} }),
			fits: []string{"n1"},
		},
		{
			name: "skew message with nodeAffinityPolicy Ignore", nodes: zones[:2], bound: []*corev1.Pod{w("w1", "n1"), w("w2", "n1")},
			pod: pod("p", podLabels("app", "web"), spread(corev1.LabelHostname, 1, corev1.DoNotSchedule, web), func(p *corev1.Pod) {
				p.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": "n1"}
				ignore := corev1.NodeInclusionPolicyIgnore
				p.Spec.TopologySpreadConstraints[0].NodeAffinityPolicy = &ignore
			}),
			msg: "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) didn't match pod topology spread constraints.",
		},
		{
			name: "minDomains raises the skew", nodes: zones, bound: []*corev1.Pod{w("w1", "n3")},
			pod: pod("p", podLabels("app", "web"), spread("zone", 1, corev1.DoNotSchedule, web), func(p *corev1.Pod) {
				three := int32(3)
				p.Spec.TopologySpreadConstraints[0].MinDomains = &three
			}),
			fits: []string{"n1", "n2"},
		},
		{
			name: "ScheduleAnyway does not filter", nodes: zones, bound: []*corev1.Pod{w("w1", "n1"), w("w2", "n2")},
			pod:  pod("p", podLabels("app", "web"), spread(corev1.LabelHostname, 1, corev1.ScheduleAnyway, web)),
			fits: []string{"n1", "n2", "n3"},
		},
	})
}

func TestSchedule_volumes(t *testing.T) {
	wffc := storagev1.VolumeBindingWaitForFirstConsumer
	immediate := storagev1.VolumeBindingImmediate
	classes := []*storagev1.StorageClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "local"}, VolumeBindingMode: &wffc},
		{ObjectMeta: metav1.ObjectMeta{Name: "net"}, VolumeBindingMode: &immediate},
	}
	claim := func(name, class, volume string) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &class, VolumeName: volume}}
	}
	pinned := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv-n2"}, Spec: corev1.PersistentVolumeSpec{
		NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
			expr(corev1.LabelHostname, corev1.NodeSelectorOpIn, "n2")}}}}}
	anywhere := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv-any"}}
	runFilterCases(t, []filterCase{
		{name: "no claim", nodes: three(), pod: pod("p", claimVolume("data")), msg: `0/3 nodes are available: persistentvolumeclaim "data" not found.`},
		{
			name: "bound to a pinned volume", nodes: three(), claims: []*corev1.PersistentVolumeClaim{claim("data", "local", "pv-n2")}, volumes: []*corev1.PersistentVolume{pinned},
			pod: pod("p", claimVolume("data")), fits: []string{"n2"},
		},
		{
			name: "volume node affinity conflict", nodes: three(), claims: []*corev1.PersistentVolumeClaim{claim("data", "local", "pv-n2")}, volumes: []*corev1.PersistentVolume{pinned},
			pod: pod("p", claimVolume("data"), func(p *corev1.Pod) {
				p.Spec.NodeName = ""
				p.Spec.NodeSelector = map[string]string{corev1.LabelHostname: "n1"}
			}),
			msg: "0/3 nodes are available: 1 node(s) had volume node affinity conflict, 2 node(s) didn't match Pod's node affinity/selector.",
		},
		{
			name: "bound to a volume anywhere", nodes: three(), claims: []*corev1.PersistentVolumeClaim{claim("data", "net", "pv-any")}, volumes: []*corev1.PersistentVolume{anywhere},
			pod: pod("p", claimVolume("data")), fits: []string{"n1", "n2", "n3"},
		},
		{
			name: "bound to a missing volume", nodes: three(), claims: []*corev1.PersistentVolumeClaim{claim("data", "net", "pv-gone")},
			pod: pod("p", claimVolume("data")), msg: "0/3 nodes are available: 3 node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s).",
		},
		{
			name: "unbound, wait for first consumer", nodes: three(), claims: []*corev1.PersistentVolumeClaim{claim("data", "local", "")}, classes: classes,
			pod: pod("p", claimVolume("data")), fits: []string{"n1", "n2", "n3"},
		},
		{
			name: "unbound, immediate", nodes: three(), claims: []*corev1.PersistentVolumeClaim{claim("data", "net", "")}, classes: classes,
			pod: pod("p", claimVolume("data")), msg: "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims.",
		},
		{
			name: "unbound, unknown class", nodes: three(), claims: []*corev1.PersistentVolumeClaim{claim("data", "fast", "")}, classes: classes,
			pod: pod("p", claimVolume("data")), msg: `0/3 nodes are available: storageclass.storage.k8s.io "fast" not found.`,
		},
		{
			name: "claim being deleted", nodes: three(), claims: []*corev1.PersistentVolumeClaim{func() *corev1.PersistentVolumeClaim {
				c := claim("data", "local", "pv-any")
				c.DeletionTimestamp = &metav1.Time{}
				return c
			}()},
			pod: pod("p", claimVolume("data")), msg: `0/3 nodes are available: persistentvolumeclaim "data" is being deleted.`,
		},
		{
			name: "generic ephemeral volume not created yet", nodes: three(),
			pod: pod("p", func(p *corev1.Pod) {
				p.Spec.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}}}
			}),
			msg: `0/3 nodes are available: waiting for ephemeral volume controller to create the persistentvolumeclaim "p-scratch".`,
		},
	})
}

func TestSchedule_noNodes(t *testing.T) {
	if d := NewCluster().Schedule(pod("p")); d.Node != "" || d.Message != "no nodes available to schedule pods" {
		t.Fatalf("got %+v", d)
	}
}
