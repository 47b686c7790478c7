package agent

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
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

// containerEnv is the container's environment: the image's, then envFrom
// sources in order, then env entries with $(VAR) expanded against what
// came before. It returns "NAME=value" pairs, later names replacing
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
	for _, kv := range img.Env {
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
