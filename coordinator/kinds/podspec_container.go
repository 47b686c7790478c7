package kinds

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	pullPolicies       = sets.New(corev1.PullAlways, corev1.PullNever, corev1.PullIfNotPresent)
	terminationPolices = sets.New(corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError)
	protocols          = sets.New(corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP)
	uriSchemes         = sets.New(corev1.URISchemeHTTP, corev1.URISchemeHTTPS)
	// standardContainerResources are the unqualified resource names a
	// container may request; hugepages-<size> is accepted too.
	standardContainerResources = sets.New(corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage)
	// downwardEnvFields are the pod fields an env var may reference.
	downwardEnvFields = sets.New("metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
		"spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs")
)

func validateContainers(spec *corev1.PodSpec, volumes sets.Set[string], names sets.Set[string], fld *field.Path) field.ErrorList {
	if len(spec.Containers) == 0 {
		return field.ErrorList{field.Required(fld, "")}
	}
	var errs field.ErrorList
	for i := range spec.Containers {
		c := &spec.Containers[i]
		f := fld.Index(i)
		errs = append(errs, validateContainerCommon(c, volumes, names, f)...)
		if c.RestartPolicy != nil {
			errs = append(errs, field.Forbidden(f.Child("restartPolicy"), "may not be set for non-init containers"))
		}
		errs = append(errs, validateProbe(c.LivenessProbe, f.Child("livenessProbe"), true)...)
		errs = append(errs, validateProbe(c.ReadinessProbe, f.Child("readinessProbe"), false)...)
		errs = append(errs, validateProbe(c.StartupProbe, f.Child("startupProbe"), true)...)
	}
	return errs
}

func validateInitContainers(spec *corev1.PodSpec, volumes sets.Set[string], names sets.Set[string], fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		f := fld.Index(i)
		errs = append(errs, validateContainerCommon(c, volumes, names, f)...)
		sidecar := c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		if c.RestartPolicy != nil && !sidecar {
			errs = append(errs, field.NotSupported(f.Child("restartPolicy"), *c.RestartPolicy, []corev1.ContainerRestartPolicy{corev1.ContainerRestartPolicyAlways}))
		}
		if !sidecar {
			for _, name := range setHooks(c, false) {
				errs = append(errs, field.Forbidden(f.Child(name), "may not be set for init containers without restartPolicy=Always"))
			}
			continue
		}
		errs = append(errs, validateProbe(c.LivenessProbe, f.Child("livenessProbe"), true)...)
		errs = append(errs, validateProbe(c.ReadinessProbe, f.Child("readinessProbe"), false)...)
		errs = append(errs, validateProbe(c.StartupProbe, f.Child("startupProbe"), true)...)
	}
	return errs
}

func validateEphemeralContainers(spec *corev1.PodSpec, volumes sets.Set[string], names sets.Set[string], fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i := range spec.EphemeralContainers {
		ec := &spec.EphemeralContainers[i]
		f := fld.Index(i)
		c := (*corev1.Container)(&ec.EphemeralContainerCommon)
		errs = append(errs, validateContainerCommon(c, volumes, names, f)...)
		if len(c.Ports) > 0 {
			errs = append(errs, field.Forbidden(f.Child("ports"), "cannot be set for an Ephemeral Container"))
		}
		for _, name := range setHooks(c, true) {
			errs = append(errs, field.Forbidden(f.Child(name), "cannot be set for an Ephemeral Container"))
		}
	}
	return errs
}

// validateContainerCommon checks what every kind of container shares. names
// collects container names across the pod, to find duplicates.
func validateContainerCommon(c *corev1.Container, volumes sets.Set[string], names sets.Set[string], f *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case c.Name == "":
		errs = append(errs, field.Required(f.Child("name"), ""))
	case names.Has(c.Name):
		errs = append(errs, field.Duplicate(f.Child("name"), c.Name))
	default:
		for _, msg := range validation.IsDNS1123Label(c.Name) {
			errs = append(errs, field.Invalid(f.Child("name"), c.Name, msg))
		}
	}
	names.Insert(c.Name)
	switch {
	case c.Image == "":
		errs = append(errs, field.Required(f.Child("image"), ""))
	case c.Image != strings.TrimSpace(c.Image):
		errs = append(errs, field.Invalid(f.Child("image"), c.Image, "must not have leading or trailing whitespace"))
	}
	switch {
	case c.ImagePullPolicy == "":
		errs = append(errs, field.Required(f.Child("imagePullPolicy"), ""))
	case !pullPolicies.Has(c.ImagePullPolicy):
		errs = append(errs, field.NotSupported(f.Child("imagePullPolicy"), c.ImagePullPolicy, sets.List(pullPolicies)))
	}
	switch {
	case c.TerminationMessagePolicy == "":
		errs = append(errs, field.Required(f.Child("terminationMessagePolicy"), ""))
	case !terminationPolices.Has(c.TerminationMessagePolicy):
		errs = append(errs, field.NotSupported(f.Child("terminationMessagePolicy"), c.TerminationMessagePolicy, sets.List(terminationPolices)))
	}
	errs = append(errs, validateContainerPorts(c.Ports, f.Child("ports"))...)
	errs = append(errs, validateEnv(c.Env, f.Child("env"))...)
	errs = append(errs, validateEnvFrom(c.EnvFrom, f.Child("envFrom"))...)
	errs = append(errs, validateVolumeMounts(c.VolumeMounts, volumes, f.Child("volumeMounts"))...)
	errs = append(errs, validateResources(&c.Resources, f.Child("resources"))...)
	if c.Lifecycle != nil {
		errs = append(errs, validateLifecycleHandler(c.Lifecycle.PostStart, f.Child("lifecycle", "postStart"))...)
		errs = append(errs, validateLifecycleHandler(c.Lifecycle.PreStop, f.Child("lifecycle", "preStop"))...)
	}
	return errs
}

func validateContainerPorts(ports []corev1.ContainerPort, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for i, p := range ports {
		f := fld.Index(i)
		if p.Name != "" {
			for _, msg := range validation.IsValidPortName(p.Name) {
				errs = append(errs, field.Invalid(f.Child("name"), p.Name, msg))
			}
			if names.Has(p.Name) {
				errs = append(errs, field.Duplicate(f.Child("name"), p.Name))
			}
			names.Insert(p.Name)
		}
		if p.ContainerPort == 0 {
			errs = append(errs, field.Required(f.Child("containerPort"), ""))
		} else {
			errs = append(errs, portNumErrors(int(p.ContainerPort), f.Child("containerPort"))...)
		}
		if p.HostPort != 0 {
			errs = append(errs, portNumErrors(int(p.HostPort), f.Child("hostPort"))...)
		}
		errs = append(errs, validateProtocol(p.Protocol, f.Child("protocol"))...)
	}
	return errs
}

func portNumErrors(port int, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsValidPortNum(port) {
		errs = append(errs, field.Invalid(fld, port, msg))
	}
	return errs
}

func validateProtocol(p corev1.Protocol, fld *field.Path) field.ErrorList {
	switch {
	case p == "":
		return field.ErrorList{field.Required(fld, "")}
	case !protocols.Has(p):
		return field.ErrorList{field.NotSupported(fld, p, sets.List(protocols))}
	}
	return nil
}

func validateVolumeMounts(mounts []corev1.VolumeMount, volumes sets.Set[string], fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	paths := sets.New[string]()
	for i, m := range mounts {
		f := fld.Index(i)
		switch {
		case m.Name == "":
			errs = append(errs, field.Required(f.Child("name"), ""))
		case !volumes.Has(m.Name):
			errs = append(errs, field.NotFound(f.Child("name"), m.Name))
		}
		switch {
		case m.MountPath == "":
			errs = append(errs, field.Required(f.Child("mountPath"), ""))
		case paths.Has(m.MountPath):
			errs = append(errs, field.Invalid(f.Child("mountPath"), m.MountPath, "must be unique"))
		}
		paths.Insert(m.MountPath)
		if m.SubPath != "" {
			errs = append(errs, validateRelativePath(m.SubPath, f.Child("subPath"))...)
		}
		if m.SubPath != "" && m.SubPathExpr != "" {
			errs = append(errs, field.Invalid(f.Child("subPathExpr"), m.SubPathExpr, "subPathExpr and subPath are mutually exclusive"))
		}
	}
	return errs
}

// validateRelativePath rejects absolute paths and paths that climb with "..".
func validateRelativePath(p string, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if strings.HasPrefix(p, "/") {
		errs = append(errs, field.Invalid(fld, p, "must be a relative path"))
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			errs = append(errs, field.Invalid(fld, p, "must not contain '..'"))
			break
		}
	}
	return errs
}

func validateResources(r *corev1.ResourceRequirements, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	lf, rf := fld.Child("limits"), fld.Child("requests")
	for _, name := range sortedResourceNames(r.Limits) {
		q := r.Limits[name]
		errs = append(errs, validateResourceName(name, lf.Key(string(name)))...)
		errs = append(errs, nonNegativeQuantity(q, lf.Key(string(name)))...)
	}
	for _, name := range sortedResourceNames(r.Requests) {
		q := r.Requests[name]
		f := rf.Key(string(name))
		errs = append(errs, validateResourceName(name, f)...)
		errs = append(errs, nonNegativeQuantity(q, f)...)
		limit, ok := r.Limits[name]
		switch {
		case !ok:
		case isExtendedResource(name) && q.Cmp(limit) != 0:
			errs = append(errs, field.Invalid(f, q.String(), fmt.Sprintf("must be equal to %s limit of %s", name, limit.String())))
		case q.Cmp(limit) > 0:
			errs = append(errs, field.Invalid(f, q.String(), fmt.Sprintf("must be less than or equal to %s limit of %s", name, limit.String())))
		}
	}
	return errs
}

func sortedResourceNames(l corev1.ResourceList) []corev1.ResourceName {
	return sets.List(sets.KeySet(l))
}

func nonNegativeQuantity(q resource.Quantity, fld *field.Path) field.ErrorList {
	if q.Sign() < 0 {
		return field.ErrorList{field.Invalid(fld, q.String(), "must be greater than or equal to 0")}
	}
	return nil
}

func isExtendedResource(name corev1.ResourceName) bool {
	s := string(name)
	return strings.Contains(s, "/") && !strings.HasPrefix(s, "kubernetes.io/") && !strings.HasPrefix(s, corev1.ResourceDefaultNamespacePrefix)
}

func validateResourceName(name corev1.ResourceName, fld *field.Path) field.ErrorList {
	s := string(name)
	var errs field.ErrorList
	for _, msg := range validation.IsQualifiedName(s) {
		errs = append(errs, field.Invalid(fld, s, msg))
	}
	if len(errs) == 0 && !strings.Contains(s, "/") && !standardContainerResources.Has(name) && !strings.HasPrefix(s, corev1.ResourceHugePagesPrefix) {
		errs = append(errs, field.Invalid(fld, s, "must be a standard resource for containers"))
	}
	return errs
}

// setHooks names the lifecycle and probe fields (and, with resources, the
// resources field) that c sets, in field order.
func setHooks(c *corev1.Container, resources bool) []string {
	var names []string
	if c.Lifecycle != nil {
		names = append(names, "lifecycle")
	}
	if c.LivenessProbe != nil {
		names = append(names, "livenessProbe")
	}
	if c.ReadinessProbe != nil {
		names = append(names, "readinessProbe")
	}
	if resources && len(c.Resources.Limits)+len(c.Resources.Requests) > 0 {
		names = append(names, "resources")
	}
	if c.StartupProbe != nil {
		names = append(names, "startupProbe")
	}
	return names
}
