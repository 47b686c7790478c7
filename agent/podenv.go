package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubectl/pkg/util/fieldpath"
	kresource "k8s.io/kubectl/pkg/util/resource"
)

// Objects finds the config maps and secrets a pod refers to. It returns
// an error satisfying apierrors.IsNotFound for a missing object.
type Objects interface {
	ConfigMap(namespace, name string) (*corev1.ConfigMap, error)
	Secret(namespace, name string) (*corev1.Secret, error)
}

// configError is a container the node cannot build from its spec; its
// message becomes the CreateContainerConfigError status.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

func configErrorf(format string, a ...any) error { return &configError{msg: fmt.Sprintf(format, a...)} }

// podFacts are what the node knows of a pod besides its spec.
type podFacts struct {
	PodIPs []string
	HostIP string
	// Allocatable stands in for unset limits in resourceFieldRef.
	Allocatable corev1.ResourceList
	// ServiceEnv are the service variables ("NAME=value") the container
	// gets: see serviceEnv.
	ServiceEnv []string
}

// expandVars replaces $(NAME) in s with lookup(NAME); $$ is a literal $,
// and a reference lookup does not know stays as written (Kubernetes'
// rules for command, args and env values).
func expandVars(s string, lookup func(string) (string, bool)) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// containerEnv is the container's environment: the image's, then the
// service variables, then envFrom sources in order, then env entries with
// $(VAR) expanded against what came before (so env wins over service
// variables and can refer to them, as in Kubernetes). It returns "NAME=value" pairs, later names replacing
// earlier ones in place.
func containerEnv(pod *corev1.Pod, c *corev1.Container, img Image, facts podFacts, objs Objects) ([]string, error) {
	var order []string
	vals := map[string]string{}
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = v
	}
	for _, kv := range append(append([]string{}, img.Env...), facts.ServiceEnv...) {
		k, v, _ := strings.Cut(kv, "=")
		set(k, v)
	}
	for _, src := range c.EnvFrom {
		data, err := envFromData(pod.Namespace, src, objs)
		if err != nil {
			return nil, err
		}
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			name := src.Prefix + k
			if len(validation.IsEnvVarName(name)) > 0 {
				continue
			}
			set(name, data[k])
		}
	}
	lookup := func(k string) (string, bool) { v, ok := vals[k]; return v, ok }
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, expandVars(e.Value, lookup))
			continue
		}
		v, ok, err := envValueFrom(pod, c, e.ValueFrom, facts, objs)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		if ok {
			set(e.Name, v)
		}
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+vals[k])
	}
	return out, nil
}

// envFromData is the key/value data of one envFrom source; a missing
// optional source is empty.
func envFromData(ns string, src corev1.EnvFromSource, objs Objects) (map[string]string, error) {
	switch {
	case src.ConfigMapRef != nil:
		cm, err := objs.ConfigMap(ns, src.ConfigMapRef.Name)
		if err != nil {
			if isOptional(src.ConfigMapRef.Optional) {
				return nil, nil
			}
			return nil, configErrorf("configmap %q not found", src.ConfigMapRef.Name)
		}
		return cm.Data, nil
	case src.SecretRef != nil:
		s, err := objs.Secret(ns, src.SecretRef.Name)
		if err != nil {
			if isOptional(src.SecretRef.Optional) {
				return nil, nil
			}
			return nil, configErrorf("secret %q not found", src.SecretRef.Name)
		}
		out := make(map[string]string, len(s.Data)+len(s.StringData))
		for k, v := range s.Data {
			out[k] = string(v)
		}
		return out, nil
	}
	return nil, nil
}

func isOptional(p *bool) bool { return p != nil && *p }

// envValueFrom resolves one valueFrom; ok is false for a missing optional
// key, which leaves the variable unset.
func envValueFrom(pod *corev1.Pod, c *corev1.Container, src *corev1.EnvVarSource, facts podFacts, objs Objects) (string, bool, error) {
	switch {
	case src.FieldRef != nil:
		v, err := podField(pod, src.FieldRef.FieldPath, facts)
		return v, err == nil, err
	case src.ResourceFieldRef != nil:
		cc := c
		if name := src.ResourceFieldRef.ContainerName; name != "" && name != c.Name {
			if cc = findContainer(pod, name); cc == nil {
				return "", false, configErrorf("resourceFieldRef: no container %q", name)
			}
		}
		withLimits := cc.DeepCopy()
		for r, q := range facts.Allocatable {
			if _, ok := withLimits.Resources.Limits[r]; !ok {
				if withLimits.Resources.Limits == nil {
					withLimits.Resources.Limits = corev1.ResourceList{}
				}
				withLimits.Resources.Limits[r] = q
			}
		}
		v, err := kresource.ExtractContainerResourceValue(src.ResourceFieldRef, withLimits)
		if err != nil {
			return "", false, configErrorf("resourceFieldRef: %v", err)
		}
		return v, true, nil
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		cm, err := objs.ConfigMap(pod.Namespace, ref.Name)
		if err != nil {
			if isOptional(ref.Optional) {
				return "", false, nil
			}
			return "", false, configErrorf("configmap %q not found", ref.Name)
		}
		if v, ok := cm.Data[ref.Key]; ok {
			return v, true, nil
		}
		if isOptional(ref.Optional) {
			return "", false, nil
		}
		return "", false, configErrorf("couldn't find key %s in ConfigMap %s/%s", ref.Key, pod.Namespace, ref.Name)
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		s, err := objs.Secret(pod.Namespace, ref.Name)
		if err != nil {
			if isOptional(ref.Optional) {
				return "", false, nil
			}
			return "", false, configErrorf("secret %q not found", ref.Name)
		}
		if v, ok := s.Data[ref.Key]; ok {
			return string(v), true, nil
		}
		if isOptional(ref.Optional) {
			return "", false, nil
		}
		return "", false, configErrorf("couldn't find key %s in Secret %s/%s", ref.Key, pod.Namespace, ref.Name)
	}
	return "", false, configErrorf("valueFrom has no source")
}

// podField is a downward API field of the pod.
func podField(pod *corev1.Pod, path string, facts podFacts) (string, error) {
	switch path {
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.hostIPs":
		return facts.HostIP, nil
	case "status.podIP":
		if len(facts.PodIPs) > 0 {
			return facts.PodIPs[0], nil
		}
		return "", nil
	case "status.podIPs":
		return strings.Join(facts.PodIPs, ","), nil
	}
	v, err := fieldpath.ExtractFieldPathAsString(pod, path)
	if err != nil {
		return "", configErrorf("fieldRef %s: %v", path, err)
	}
	return v, nil
}

func findContainer(pod *corev1.Pod, name string) *corev1.Container {
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			if cs[i].Name == name {
				return &cs[i]
			}
		}
	}
	return nil
}

// asConfigError finds a configError in err's chain.
func asConfigError(err error, target **configError) bool { return errors.As(err, target) }

// ServiceLister lists the Services of a namespace, for the service
// variables of the containers started there.
type ServiceLister interface {
	Services(namespace string) ([]*corev1.Service, error)
}

// apiServices lists services through the API, for a loop given no
// cache of them.
type apiServices struct {
	ctx context.Context
	cs  kubernetes.Interface
}

func (a apiServices) Services(namespace string) ([]*corev1.Service, error) {
	list, err := a.cs.CoreV1().Services(namespace).List(a.ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := make([]*corev1.Service, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out, nil
}

// serviceEnv are the variables the kubelet gives a container for the
// services with a cluster IP in its pod's namespace (none when
// enableServiceLinks is false) and for the kubernetes service of the
// default namespace (always), as "NAME=value" pairs ordered by service
// name. A service of the pod's namespace takes precedence over default's
// of the same name; services without a cluster IP (headless,
// ExternalName) give none.
func serviceEnv(pod *corev1.Pod, services ServiceLister) ([]string, error) {
	chosen := map[string]*corev1.Service{}
	if pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks {
		in, err := services.Services(pod.Namespace)
		if err != nil {
			return nil, fmt.Errorf("services of namespace %s for the environment: %w", pod.Namespace, err)
		}
		for _, s := range in {
			if hasClusterIP(s) {
				chosen[s.Name] = s
			}
		}
	}
	if _, ok := chosen["kubernetes"]; !ok {
		def, err := services.Services(metav1.NamespaceDefault)
		if err != nil {
			return nil, fmt.Errorf("services of namespace default for the environment: %w", err)
		}
		for _, s := range def {
			if s.Name == "kubernetes" && hasClusterIP(s) {
				chosen[s.Name] = s
			}
		}
	}
	names := make([]string, 0, len(chosen))
	for n := range chosen {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		out = append(out, serviceVars(chosen[n])...)
	}
	return out, nil
}

func hasClusterIP(s *corev1.Service) bool {
	return s.Spec.ClusterIP != "" && s.Spec.ClusterIP != corev1.ClusterIPNone
}

// serviceVars are one service's variables: {NAME}_SERVICE_HOST and
// _SERVICE_PORT (its first port), _SERVICE_PORT_{PORTNAME} per named
// port, and the Docker link variables: _PORT (first port as
// proto://ip:port) and, per port, _PORT_{port}_{PROTO} with its _PROTO,
// _PORT and _ADDR.
func serviceVars(s *corev1.Service) []string {
	prefix := envName(s.Name)
	ip := s.Spec.ClusterIP
	out := []string{prefix + "_SERVICE_HOST=" + ip}
	if len(s.Spec.Ports) == 0 {
		return out
	}
	out = append(out, prefix+"_SERVICE_PORT="+strconv.Itoa(int(s.Spec.Ports[0].Port)))
	for _, p := range s.Spec.Ports {
		if p.Name != "" {
			out = append(out, prefix+"_SERVICE_PORT_"+envName(p.Name)+"="+strconv.Itoa(int(p.Port)))
		}
	}
	for i, p := range s.Spec.Ports {
		proto := string(p.Protocol)
		if proto == "" {
			proto = string(corev1.ProtocolTCP)
		}
		port := strconv.Itoa(int(p.Port))
		url := strings.ToLower(proto) + "://" + net.JoinHostPort(ip, port)
		if i == 0 {
			out = append(out, prefix+"_PORT="+url)
		}
		pp := prefix + "_PORT_" + port + "_" + strings.ToUpper(proto)
		out = append(out, pp+"="+url, pp+"_PROTO="+strings.ToLower(proto), pp+"_PORT="+port, pp+"_ADDR="+ip)
	}
	return out
}

// envName is a service or port name as a variable name: upper case,
// dashes as underscores.
func envName(s string) string { return strings.ToUpper(strings.ReplaceAll(s, "-", "_")) }
