package kinds

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// validPod is a defaulted pod that passes validation; cases change one thing.
func validPod() *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name: "app", Image: "nginx:1.27",
				Ports:        []corev1.ContainerPort{{Name: "http", ContainerPort: 80}},
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
			}},
			Volumes: []corev1.Volume{{Name: "data"}},
		},
	}
	defaultPod(p)
	return p
}

func TestValidatePod_rules(t *testing.T) {
	res := func(req, lim string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(req)},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(lim)},
		}
	}
	for _, tc := range []struct {
		name   string
		change func(p *corev1.Pod)
		want   []string
	}{
		{"valid", func(p *corev1.Pod) {}, nil},
		{"generateName only", func(p *corev1.Pod) { p.Name, p.GenerateName = "", "web-" }, []string{"metadata.name: Required value"}},
		{"bad name", func(p *corev1.Pod) { p.Name = "Web_0" }, []string{"metadata.name: Invalid value"}},
		{"dotted name ok", func(p *corev1.Pod) { p.Name = "web.v1" }, nil},
		{"no namespace", func(p *corev1.Pod) { p.Namespace = "" }, []string{"metadata.namespace: Required value"}},
		{"bad label", func(p *corev1.Pod) { p.Labels["bad key!"] = "x" }, []string{"metadata.labels: Invalid value"}},
		{"no containers", func(p *corev1.Pod) { p.Spec.Containers = nil }, []string{"spec.containers: Required value"}},
		{"no image", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" }, []string{"spec.containers[0].image: Required value"}},
		{"image spaces", func(p *corev1.Pod) { p.Spec.Containers[0].Image = " nginx" }, []string{"spec.containers[0].image: Invalid value"}},
		{"no name", func(p *corev1.Pod) { p.Spec.Containers[0].Name = "" }, []string{"spec.containers[0].name: Required value"}},
		{"bad container name", func(p *corev1.Pod) { p.Spec.Containers[0].Name = "App" }, []string{"spec.containers[0].name: Invalid value"}},
		{"duplicate container", func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, p.Spec.Containers[0])
		}, []string{"spec.containers[1].name: Duplicate value"}},
		{"init and app share a name", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{p.Spec.Containers[0]}
			p.Spec.InitContainers[0].Ports = nil
		}, []string{"spec.containers[0].name: Duplicate value"}},
		{"duplicate port name", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{Name: "http", ContainerPort: 81, Protocol: "TCP"})
		}, []string{"spec.containers[0].ports[1].name: Duplicate value"}},
		{"port zero", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 0 }, []string{"spec.containers[0].ports[0].containerPort: Required value"}},
		{"port too big", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 70000 }, []string{"spec.containers[0].ports[0].containerPort: Invalid value"}},
		{"host port too big", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].HostPort = 65536 }, []string{"spec.containers[0].ports[0].hostPort: Invalid value"}},
		{"bad protocol", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].Protocol = "ICMP" }, []string{"spec.containers[0].ports[0].protocol: Unsupported value"}},
		{"sctp ok", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].Protocol = corev1.ProtocolSCTP }, nil},
		{"duplicate volume", func(p *corev1.Pod) { p.Spec.Volumes = append(p.Spec.Volumes, p.Spec.Volumes[0]) }, []string{"spec.volumes[1].name: Duplicate value"}},
		{"two volume sources", func(p *corev1.Pod) {
			p.Spec.Volumes[0].HostPath = &corev1.HostPathVolumeSource{Path: "/x", Type: ptr.To(corev1.HostPathUnset)}
		}, []string{"spec.volumes[0].emptyDir: Forbidden"}},
		{"no volume source", func(p *corev1.Pod) { p.Spec.Volumes[0].EmptyDir = nil }, []string{"spec.volumes[0]: Required value"}},
		{"configMap without name", func(p *corev1.Pod) {
			p.Spec.Volumes[0].VolumeSource = corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{DefaultMode: ptr.To[int32](0o1777)}}
		}, []string{"spec.volumes[0].configMap.name: Required value", "spec.volumes[0].configMap.defaultMode: Invalid value"}},
		{"secret item escapes", func(p *corev1.Pod) {
			p.Spec.Volumes[0].VolumeSource = corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s",
				Items: []corev1.KeyToPath{{Key: "k", Path: "../etc/passwd"}}}}
		}, []string{"spec.volumes[0].secret.items[0].path: Invalid value"}},
		{"mount of missing volume", func(p *corev1.Pod) { p.Spec.Containers[0].VolumeMounts[0].Name = "nope" }, []string{"spec.containers[0].volumeMounts[0].name: Not found"}},
		{"mount without path", func(p *corev1.Pod) { p.Spec.Containers[0].VolumeMounts[0].MountPath = "" }, []string{"spec.containers[0].volumeMounts[0].mountPath: Required value"}},
		{"absolute subPath", func(p *corev1.Pod) { p.Spec.Containers[0].VolumeMounts[0].SubPath = "/abs" }, []string{"spec.containers[0].volumeMounts[0].subPath: Invalid value"}},
		{"negative request", func(p *corev1.Pod) { p.Spec.Containers[0].Resources = res("-1", "1") }, []string{"spec.containers[0].resources.requests[cpu]: Invalid value"}},
		{"request over limit", func(p *corev1.Pod) { p.Spec.Containers[0].Resources = res("2", "1") }, []string{"spec.containers[0].resources.requests[cpu]: Invalid value"}},
		{"request within limit", func(p *corev1.Pod) { p.Spec.Containers[0].Resources = res("500m", "1") }, nil},
		{"unknown resource", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"gpu": resource.MustParse("1")}
		}, []string{"spec.containers[0].resources.limits[gpu]: Invalid value"}},
		{"extended resource", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"example.com/gpu": resource.MustParse("1")}
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{"example.com/gpu": resource.MustParse("1")}
		}, nil},
		{"bad restartPolicy", func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" }, []string{"spec.restartPolicy: Unsupported value"}},
		{"bad dnsPolicy", func(p *corev1.Pod) { p.Spec.DNSPolicy = "Google" }, []string{"spec.dnsPolicy: Unsupported value"}},
		{"dnsPolicy None without servers", func(p *corev1.Pod) { p.Spec.DNSPolicy = corev1.DNSNone }, []string{"spec.dnsConfig.nameservers: Required value"}},
		{"probe without handler", func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &corev1.Probe{SuccessThreshold: 1}
		}, []string{"spec.containers[0].livenessProbe: Required value"}},
		{"probe with two handlers", func(p *corev1.Pod) {
			p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				Exec:      &corev1.ExecAction{Command: []string{"true"}},
				TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("http")},
			}}
		}, []string{"spec.containers[0].readinessProbe.tcpSocket: Forbidden"}},
		{"liveness success threshold", func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &corev1.Probe{SuccessThreshold: 2,
				ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)}}}
		}, []string{"spec.containers[0].livenessProbe.successThreshold: Invalid value"}},
		{"httpGet bad port", func(p *corev1.Pod) {
			p.Spec.Containers[0].StartupProbe = &corev1.Probe{SuccessThreshold: 1, ProbeHandler: corev1.ProbeHandler{
				HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(0), Scheme: "HTTP"}}}
		}, []string{"spec.containers[0].startupProbe.httpGet.port: Invalid value"}},
		{"probe on init container", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox", ImagePullPolicy: "Always",
				TerminationMessagePolicy: "File", ReadinessProbe: &corev1.Probe{}}}
		}, []string{"spec.initContainers[0].readinessProbe: Forbidden"}},
		{"sidecar with probe", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "side", Image: "busybox", ImagePullPolicy: "Always",
				TerminationMessagePolicy: "File", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways),
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}}}
		}, nil},
		{"restartPolicy on a container", func(p *corev1.Pod) {
			p.Spec.Containers[0].RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
		}, []string{"spec.containers[0].restartPolicy: Forbidden"}},
		{"init container restartPolicy other than Always", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox", ImagePullPolicy: "Always",
				TerminationMessagePolicy: "File", RestartPolicy: ptr.To(corev1.ContainerRestartPolicy("Never"))}}
		}, []string{"spec.initContainers[0].restartPolicy: Unsupported value"}},
		{"sidecar with lifecycle hooks", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "side", Image: "busybox", ImagePullPolicy: "Always",
				TerminationMessagePolicy: "File", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways),
				Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}}}
		}, nil},
		{"fsGroup and supplementalGroups", func(p *corev1.Pod) {
			p.Spec.SecurityContext.FSGroup = ptr.To[int64](2000)
			p.Spec.SecurityContext.SupplementalGroups = []int64{3000}
			p.Spec.SecurityContext.FSGroupChangePolicy = ptr.To(corev1.FSGroupChangeOnRootMismatch)
		}, nil},
		{"bad fsGroup, supplementalGroups and fsGroupChangePolicy", func(p *corev1.Pod) {
			p.Spec.SecurityContext.FSGroup = ptr.To[int64](-1)
			p.Spec.SecurityContext.SupplementalGroups = []int64{1 << 40}
			p.Spec.SecurityContext.FSGroupChangePolicy = ptr.To(corev1.PodFSGroupChangePolicy("Sometimes"))
		}, []string{"spec.securityContext.fsGroup: Invalid value", "spec.securityContext.supplementalGroups[0]: Invalid value",
			"spec.securityContext.fsGroupChangePolicy: Unsupported value"}},
		{"env without name", func(p *corev1.Pod) { p.Spec.Containers[0].Env = []corev1.EnvVar{{Value: "x"}} }, []string{"spec.containers[0].env[0].name: Required value"}},
		{"env value and valueFrom", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", Value: "x", ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "k"}}}}
		}, []string{"spec.containers[0].env[0].valueFrom: Invalid value"}},
		{"env unsupported fieldPath", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.containers"}}}}
		}, []string{"spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value"}},
		{"envFrom without source", func(p *corev1.Pod) { p.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{Prefix: "A_"}} }, []string{"spec.containers[0].envFrom[0]: Invalid value"}},
		{"toleration seconds without NoExecute", func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "k", Operator: "Equal", Value: "v",
				Effect: corev1.TaintEffectNoSchedule, TolerationSeconds: ptr.To[int64](1)})
		}, []string{"spec.tolerations[0].effect: Invalid value"}},
		{"ephemeral container on create", func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debug", Image: "busybox", ImagePullPolicy: "Always", TerminationMessagePolicy: "File"}}}
		}, []string{"spec.ephemeralContainers: Forbidden"}},
		{"bad activeDeadlineSeconds", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To[int64](0) }, []string{"spec.activeDeadlineSeconds: Invalid value"}},
		{"bad nodeSelector", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"a": "b c"} }, []string{"spec.nodeSelector: Invalid value"}},
		{"bad serviceAccountName", func(p *corev1.Pod) { p.Spec.ServiceAccountName = "Bad" }, []string{"spec.serviceAccountName: Invalid value"}},
		{"host network port mismatch", func(p *corev1.Pod) {
			p.Spec.HostNetwork = true
			p.Spec.Containers[0].Ports[0].HostPort = 8080
		}, []string{"spec.containers[0].ports[0].containerPort: Invalid value"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := validPod()
			tc.change(p)
			checkErrs(t, validatePod(p), tc.want)
		})
	}
}

func TestValidatePodTemplateSpec_paths(t *testing.T) {
	tmpl := &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       validPod().Spec,
	}
	root := field.NewPath("spec", "template")
	checkErrs(t, ValidatePodTemplateSpec(tmpl, root), nil)

	tmpl.Labels["bad key!"] = "x"
	tmpl.Spec.Containers[0].Image = ""
	tmpl.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
		Name: "debug", Image: "busybox", ImagePullPolicy: "Always", TerminationMessagePolicy: "File"}}}
	checkErrs(t, ValidatePodTemplateSpec(tmpl, root), []string{
		"spec.template.metadata.labels: Invalid value",
		"spec.template.spec.containers[0].image: Required value",
		"spec.template.spec.ephemeralContainers: Forbidden",
	})
}

func TestValidatePodUpdate_immutableSpec(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(p *corev1.Pod)
		want   []string
	}{
		{"image", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx:1.28" }, nil},
		{"labels", func(p *corev1.Pod) { p.Labels["tier"] = "front" }, nil},
		{"added toleration", func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "k", Operator: "Exists"})
		}, nil},
		{"removed toleration", func(p *corev1.Pod) { p.Spec.Tolerations = p.Spec.Tolerations[:1] }, []string{"spec.tolerations: Forbidden"}},
		{"lower deadline", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To[int64](50) }, nil},
		{"raise deadline", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To[int64](500) }, []string{"spec.activeDeadlineSeconds: Invalid value"}},
		{"bind to node", func(p *corev1.Pod) { p.Spec.NodeName = "node-1" }, nil},
		{"add env", func(p *corev1.Pod) { p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", Value: "b"}} }, []string{"spec: Forbidden"}},
		{"rename", func(p *corev1.Pod) { p.Name = "other" }, []string{"metadata.name: Invalid value"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := validPod()
			old.ResourceVersion = "7"
			old.Spec.ActiveDeadlineSeconds = ptr.To[int64](100)
			old.Spec.Tolerations = []corev1.Toleration{{Key: "a", Operator: "Exists"}, {Key: "b", Operator: "Exists"}}
			p := old.DeepCopy()
			tc.change(p)
			checkErrs(t, validatePodUpdate(p, old), tc.want)
		})
	}

	bound := validPod()
	bound.Spec.NodeName = "node-1"
	moved := bound.DeepCopy()
	moved.Spec.NodeName = "node-2"
	checkErrs(t, validatePodUpdate(moved, bound), []string{"spec: Forbidden"})
}
