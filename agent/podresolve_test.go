package agent

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// mapObjects serves config maps and secrets from maps keyed "ns/name".
type mapObjects struct {
	cms     map[string]*corev1.ConfigMap
	secrets map[string]*corev1.Secret
}

func (m mapObjects) ConfigMap(ns, name string) (*corev1.ConfigMap, error) {
	if cm, ok := m.cms[ns+"/"+name]; ok {
		return cm, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, name)
}

func (m mapObjects) Secret(ns, name string) (*corev1.Secret, error) {
	if s, ok := m.secrets[ns+"/"+name]; ok {
		return s, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name)
}

func TestExpandVars_kubernetesRules(t *testing.T) {
	vals := map[string]string{"A": "1", "B": "two"}
	lookup := func(k string) (string, bool) { v, ok := vals[k]; return v, ok }
	for in, want := range map[string]string{
		"$(A)":         "1",
		"x$(B)y":       "xtwoy",
		"$$(A)":        "$(A)",
		"$(MISSING)":   "$(MISSING)",
		"$(A":          "$(A",
		"$A":           "$A",
		"$":            "$",
		"$(A)$(B)$$$$": "1two$$",
	} {
		if got := expandVars(in, lookup); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func FuzzExpandVars(f *testing.F) {
	for _, s := range []string{"$(A)", "$$", "$(", "a$(B)c$(", "$$$(A)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		none := func(string) (string, bool) { return "", false }
		if !strings.Contains(s, "$$") && expandVars(s, none) != s {
			t.Fatalf("expansion with no variables changed %q", s)
		}
		expandVars(s, func(k string) (string, bool) { return k, true })
	})
}

func TestContainerEnv_sources(t *testing.T) {
	yes := true
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "u1", Labels: map[string]string{"app": "web"}}}
	pod.Spec.NodeName = "n1"
	objs := mapObjects{
		cms:     map[string]*corev1.ConfigMap{"ns/cfg": {Data: map[string]string{"mode": "fast", "bad-key": "x", "LEVEL": "3"}}},
		secrets: map[string]*corev1.Secret{"ns/sec": {Data: map[string][]byte{"pw": []byte("hunter2")}}},
	}
	c := &corev1.Container{Name: "a",
		Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}},
		EnvFrom: []corev1.EnvFromSource{
			{Prefix: "CFG_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}},
			{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Optional: &yes}},
		},
		Env: []corev1.EnvVar{
			{Name: "PATH", Value: "/bin:$(PATH)"},
			{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "APP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
			{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
			{Name: "IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "MEM", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}},
			{Name: "CPU", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}},
			{Name: "PW", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}, Key: "pw"}}},
			{Name: "OPT", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "nope", Optional: &yes}}},
			{Name: "MSG", Value: "$(CFG_mode) on $(NODE)"},
		},
	}
	img := Image{Env: []string{"PATH=/usr/bin", "HOME=/root"}}
	facts := podFacts{PodIPs: []string{"10.244.0.5"}, Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")}}
	got, err := containerEnv(pod, c, img, facts, objs)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"PATH=/bin:/usr/bin", "HOME=/root", "CFG_LEVEL=3", "CFG_bad-key=x", "CFG_mode=fast", "POD=web", "APP=web", "NODE=n1",
		"IP=10.244.0.5", "MEM=64", "CPU=4", "PW=hunter2", "MSG=fast on n1"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("env\n got %q\nwant %q", got, want)
	}
}

func TestContainerEnv_missingSourcesAreConfigErrors(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"}}
	objs := mapObjects{cms: map[string]*corev1.ConfigMap{"ns/cfg": {Data: map[string]string{"a": "1"}}}}
	tests := []struct {
		name string
		env  corev1.EnvVar
		want string
	}{
		{"missing config map", corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Key: "a"}}}, `configmap "gone" not found`},
		{"missing key", corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "b"}}}, "couldn't find key b in ConfigMap ns/cfg"},
		{"missing secret", corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "b"}}}, `secret "s" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := containerEnv(pod, &corev1.Container{Env: []corev1.EnvVar{tt.env}}, Image{}, podFacts{}, objs)
			var ce *configError
			if err == nil || !strings.Contains(err.Error(), tt.want) || !asConfigError(err, &ce) {
				t.Fatalf("err %v, want config error %q", err, tt.want)
			}
		})
	}
}

func TestContainerArgs_commandAndArgsRules(t *testing.T) {
	img := Image{Entrypoint: []string{"/ep"}, Cmd: []string{"--default"}}
	env := []string{"NAME=world"}
	tests := []struct {
		name          string
		command, args []string
		img           Image
		want          []string
		err           bool
	}{
		{"image defaults", nil, nil, img, []string{"/ep", "--default"}, false},
		{"args replace cmd", nil, []string{"hello", "$(NAME)"}, img, []string{"/ep", "hello", "world"}, false},
		{"command replaces both", []string{"/bin/sh", "-c"}, nil, img, []string{"/bin/sh", "-c"}, false},
		{"command and args", []string{"echo"}, []string{"$(NAME)", "$$(NAME)"}, img, []string{"echo", "world", "$(NAME)"}, false},
		{"nothing to run", nil, nil, Image{}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := containerArgs(&corev1.Container{Command: tt.command, Args: tt.args}, tt.img, env)
			if (err != nil) != tt.err || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("%q %v, want %q", got, err, tt.want)
			}
		})
	}
}

func TestContainerIdentity_precedence(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	yes := true
	tests := []struct {
		name string
		psc  *corev1.PodSecurityContext
		csc  *corev1.SecurityContext
		user string
		want identity
		err  bool
	}{
		{"image user and group", nil, nil, "1000:2000", identity{User: 1000, Group: 2000}, false},
		{"pod overrides image", &corev1.PodSecurityContext{RunAsUser: i64(7), SupplementalGroups: []int64{5}, FSGroup: i64(9)}, nil, "1000",
			identity{User: 7, Groups: []uint32{5, 9}}, false},
		{"container overrides pod", &corev1.PodSecurityContext{RunAsUser: i64(7)}, &corev1.SecurityContext{RunAsUser: i64(8), RunAsGroup: i64(3)}, "",
			identity{User: 8, Group: 3}, false},
		{"named image user needs runAsUser", nil, nil, "nginx", identity{}, true},
		{"named image user with runAsUser", nil, &corev1.SecurityContext{RunAsUser: i64(101)}, "nginx", identity{User: 101}, false},
		{"runAsNonRoot refuses root", &corev1.PodSecurityContext{RunAsNonRoot: &yes}, nil, "", identity{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{SecurityContext: tt.psc}}
			got, err := containerIdentity(pod, &corev1.Container{SecurityContext: tt.csc}, Image{User: tt.user})
			if (err != nil) != tt.err || (!tt.err && !reflect.DeepEqual(got, tt.want)) {
				t.Fatalf("%+v %v, want %+v", got, err, tt.want)
			}
		})
	}
}

func TestContainerSecurityAndResources(t *testing.T) {
	no, yes := false, true
	c := &corev1.Container{
		SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes,
			Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}, Drop: []corev1.Capability{"ALL"}}},
		Resources: corev1.ResourceRequirements{
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
		},
	}
	sec := containerSecurity(&corev1.Pod{}, c)
	want := Security{CapAdd: []string{"NET_ADMIN"}, CapDrop: []string{"ALL"}, ReadOnlyRootFilesystem: true, NoNewPrivileges: true}
	if !reflect.DeepEqual(sec, want) {
		t.Fatalf("security %+v, want %+v", sec, want)
	}
	priv := containerSecurity(&corev1.Pod{}, &corev1.Container{SecurityContext: &corev1.SecurityContext{Privileged: &yes}})
	if !priv.Privileged || priv.NoNewPrivileges || !priv.SeccompUnconfined {
		t.Fatalf("privileged %+v", priv)
	}
	res := containerResources(c, 4096)
	wantRes := Resources{CPUQuotaMicros: 50000, CPUPeriodMicros: 100000, CPUShares: 256, MemoryBytes: 128 << 20, PidsLimit: 4096}
	if res != wantRes {
		t.Fatalf("resources %+v, want %+v", res, wantRes)
	}
	if r := containerResources(&corev1.Container{}, 0); r != (Resources{CPUShares: 2}) {
		t.Fatalf("best effort resources %+v", r)
	}
}

func TestImageRefAndPullPolicy(t *testing.T) {
	for in, want := range map[string]string{
		"busybox": "busybox:latest", "busybox:1.36": "busybox:1.36", "localhost:5000/app": "localhost:5000/app:latest",
		"r/a@sha256:00": "r/a@sha256:00",
	} {
		if got := imageRef(in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
	if pullPolicy(&corev1.Container{Image: "busybox"}) != corev1.PullAlways || pullPolicy(&corev1.Container{Image: "busybox:1"}) != corev1.PullIfNotPresent {
		t.Error("default pull policies")
	}
}
