package kinds

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// errStrings renders errors as "path: type" for comparison.
func errStrings(errs field.ErrorList) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		out = append(out, e.Field+": "+e.Type.String())
	}
	slices.Sort(out)
	return out
}

func checkErrs(t *testing.T, errs field.ErrorList, want []string) {
	t.Helper()
	got := errStrings(errs)
	w := slices.Clone(want)
	slices.Sort(w)
	if !slices.Equal(got, w) {
		t.Errorf("errors:\n got  %q\n want %q\n full: %v", got, w, errs.ToAggregate())
	}
}

func TestDefaultPod_minimalPodGetsEveryDefault(t *testing.T) {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name:  "app",
				Image: "nginx",
				Ports: []corev1.ContainerPort{{ContainerPort: 80}},
				Env: []corev1.EnvVar{{Name: "POD", ValueFrom: &corev1.EnvVarSource{
					FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
				Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}},
				LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
					HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(80)}}},
			}},
			Volumes: []corev1.Volume{
				{Name: "scratch"},
				{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
				{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "sec"}}},
			},
		},
	}
	defaultPod(p)

	want := corev1.PodSpec{
		Containers: []corev1.Container{{
			Name:  "app",
			Image: "nginx",
			Ports: []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP}},
			Env: []corev1.EnvVar{{Name: "POD", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}}},
			Resources: corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
			},
			LivenessProbe: &corev1.Probe{
				ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
					Path: "/", Port: intstr.FromInt32(80), Scheme: corev1.URISchemeHTTP}},
				TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3,
			},
			TerminationMessagePath:   "/dev/termination-log",
			TerminationMessagePolicy: corev1.TerminationMessageReadFile,
			ImagePullPolicy:          corev1.PullAlways,
		}},
		Volumes: []corev1.Volume{
			{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, DefaultMode: ptr.To[int32](0o644)}}},
			{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: "sec", DefaultMode: ptr.To[int32](0o644)}}},
		},
		RestartPolicy:                 corev1.RestartPolicyAlways,
		TerminationGracePeriodSeconds: ptr.To[int64](30),
		DNSPolicy:                     corev1.DNSClusterFirst,
		ServiceAccountName:            "default",
		DeprecatedServiceAccount:      "default",
		SecurityContext:               &corev1.PodSecurityContext{},
		SchedulerName:                 "default-scheduler",
		EnableServiceLinks:            ptr.To(true),
	}
	if !apiequality.Semantic.DeepEqual(p.Spec, want) {
		t.Errorf("defaulted spec differs:\n got  %+v\n want %+v", p.Spec, want)
	}
	if errs := validatePod(p); len(errs) > 0 {
		t.Errorf("defaulted pod does not validate: %v", errs.ToAggregate())
	}

	// Defaulting twice changes nothing.
	again := p.DeepCopy()
	defaultPod(again)
	if !apiequality.Semantic.DeepEqual(again, p) {
		t.Errorf("defaulting is not idempotent")
	}
}

func TestDefaultPodSpec_templatesKeepPodOnlyFields(t *testing.T) {
	spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "busybox:1.36",
		Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}}}}
	DefaultPodSpec(&spec)
	switch {
	case spec.EnableServiceLinks != nil:
		t.Error("enableServiceLinks set on a template")
	case spec.ServiceAccountName != "":
		t.Error("serviceAccountName set on a template")
	case len(spec.Tolerations) != 0:
		t.Error("tolerations added to a template")
	case spec.Containers[0].Resources.Requests != nil:
		t.Error("requests defaulted from limits on a template")
	case spec.Containers[0].ImagePullPolicy != corev1.PullIfNotPresent:
		t.Errorf("pull policy %q, want IfNotPresent", spec.Containers[0].ImagePullPolicy)
	}
}

func TestDefaultPullPolicy_byTag(t *testing.T) {
	for image, want := range map[string]corev1.PullPolicy{
		"nginx":                           corev1.PullAlways,
		"nginx:latest":                    corev1.PullAlways,
		"nginx:1.27":                      corev1.PullIfNotPresent,
		"registry:5000/team/app":          corev1.PullAlways,
		"registry:5000/team/app:v2":       corev1.PullIfNotPresent,
		"registry:5000/team/app:latest":   corev1.PullAlways,
		"nginx@sha256:0123456789abcdef00": corev1.PullIfNotPresent,
	} {
		if got := defaultPullPolicy(image); got != want {
			t.Errorf("%s: got %s, want %s", image, got, want)
		}
	}
}

func TestDefaultPod_hostNetworkPorts(t *testing.T) {
	p := &corev1.Pod{Spec: corev1.PodSpec{HostNetwork: true, Containers: []corev1.Container{{
		Name: "a", Image: "a:1", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}}}
	defaultPod(p)
	if hp := p.Spec.Containers[0].Ports[0].HostPort; hp != 8080 {
		t.Errorf("hostPort = %d, want 8080", hp)
	}
}

func TestDefaultPodSpec_probesVolumesAndHooks(t *testing.T) {
	spec := corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "i", Image: "i:1",
			Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(1)}}}}},
		Containers: []corev1.Container{{Name: "a", Image: "a:1",
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9000}}}}},
		Volumes: []corev1.Volume{
			{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x"}}},
			{Name: "d", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
				{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}}}}}},
			{Name: "p", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}},
		},
	}
	DefaultPodSpec(&spec)
	pre := spec.InitContainers[0].Lifecycle.PreStop.HTTPGet
	rp := spec.Containers[0].ReadinessProbe
	vs := spec.Volumes
	checks := []struct {
		name string
		ok   bool
	}{
		{"preStop path", pre.Path == "/" && pre.Scheme == corev1.URISchemeHTTP},
		{"grpc service", rp.GRPC.Service != nil && *rp.GRPC.Service == ""},
		{"readiness timings", rp.PeriodSeconds == 10 && rp.FailureThreshold == 3},
		{"hostPath type", vs[0].HostPath.Type != nil && *vs[0].HostPath.Type == corev1.HostPathUnset},
		{"downward mode", *vs[1].DownwardAPI.DefaultMode == 0o644},
		{"downward apiVersion", vs[1].DownwardAPI.Items[0].FieldRef.APIVersion == "v1"},
		{"projected mode", *vs[2].Projected.DefaultMode == 0o644},
		{"token expiry", *vs[2].Projected.Sources[0].ServiceAccountToken.ExpirationSeconds == 3600},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s not defaulted", c.name)
		}
	}
}

func TestInitStatus_podQOS(t *testing.T) {
	res := func(req, lim string) corev1.ResourceRequirements {
		r := corev1.ResourceRequirements{}
		if req != "" {
			r.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(req), corev1.ResourceMemory: resource.MustParse(req + "Mi")}
		}
		if lim != "" {
			r.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(lim), corev1.ResourceMemory: resource.MustParse(lim + "Mi")}
		}
		return r
	}
	for _, tc := range []struct {
		name string
		r    corev1.ResourceRequirements
		want corev1.PodQOSClass
	}{
		{"none", res("", ""), corev1.PodQOSBestEffort},
		{"requests only", res("1", ""), corev1.PodQOSBurstable},
		{"requests below limits", res("1", "2"), corev1.PodQOSBurstable},
		{"limits only", res("", "2"), corev1.PodQOSGuaranteed},
		{"equal", res("2", "2"), corev1.PodQOSGuaranteed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "a", Resources: tc.r}}}}
			defaultPod(p)
			k := podKind()
			k.InitStatus(p)
			if p.Status.Phase != corev1.PodPending || p.Status.QOSClass != tc.want {
				t.Errorf("status = %s/%s, want Pending/%s", p.Status.Phase, p.Status.QOSClass, tc.want)
			}
		})
	}
}
