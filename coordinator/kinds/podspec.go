package kinds

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateObjectMeta checks an object's metadata on create: the name (or
// generateName) is a DNS-1123 subdomain, the namespace is set exactly when
// namespaced, and labels, annotations, owner references and finalizers are
// well formed. fld is usually field.NewPath("metadata").
func ValidateObjectMeta(meta *metav1.ObjectMeta, namespaced bool, fld *field.Path) field.ErrorList {
	return apivalidation.ValidateObjectMeta(meta, namespaced, apivalidation.NameIsDNSSubdomain, fld)
}

// ValidateObjectMetaUpdate checks metadata on update: name, namespace, uid
// and creation time are immutable, labels and annotations stay valid. A
// missing resourceVersion is not an error here: the server decides whether
// an unconditional update is allowed.
func ValidateObjectMetaUpdate(meta, old *metav1.ObjectMeta, fld *field.Path) field.ErrorList {
	m := meta
	if m.ResourceVersion == "" {
		m = meta.DeepCopy()
		m.ResourceVersion = old.ResourceVersion
		if m.ResourceVersion == "" {
			m.ResourceVersion = "0"
		}
	}
	return apivalidation.ValidateObjectMetaUpdate(m, old, fld)
}

// ValidatePodTemplateSpec checks a pod template: its labels and annotations
// and its pod spec. fld is the template's path, e.g.
// field.NewPath("spec", "template").
func ValidatePodTemplateSpec(t *corev1.PodTemplateSpec, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	mf := fld.Child("metadata")
	errs = append(errs, metavalidation.ValidateLabels(t.Labels, mf.Child("labels"))...)
	errs = append(errs, apivalidation.ValidateAnnotations(t.Annotations, mf.Child("annotations"))...)
	errs = append(errs, apivalidation.ValidateFinalizers(t.Finalizers, mf.Child("finalizers"))...)
	sf := fld.Child("spec")
	errs = append(errs, ValidatePodSpec(&t.Spec, sf)...)
	if len(t.Spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(sf.Child("ephemeralContainers"), "ephemeral containers not allowed in pod template"))
	}
	return errs
}

var (
	restartPolicies = sets.New(corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever)
	dnsPolicies     = sets.New(corev1.DNSClusterFirst, corev1.DNSClusterFirstWithHostNet, corev1.DNSDefault, corev1.DNSNone)
	taintEffects    = sets.New(corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute)
)

// ValidatePodSpec checks a (defaulted) pod spec the way Kubernetes does:
// containers, volumes and their mounts, restart and DNS policy, scheduling
// fields and tolerations. fld is the spec's path, e.g. field.NewPath("spec").
func ValidatePodSpec(spec *corev1.PodSpec, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	volumes, verrs := validateVolumes(spec.Volumes, fld.Child("volumes"))
	errs = append(errs, verrs...)

	names := sets.New[string]()
	errs = append(errs, validateInitContainers(spec, volumes, names, fld.Child("initContainers"))...)
	errs = append(errs, validateContainers(spec, volumes, names, fld.Child("containers"))...)
	errs = append(errs, validateEphemeralContainers(spec, volumes, names, fld.Child("ephemeralContainers"))...)

	switch {
	case spec.RestartPolicy == "":
		errs = append(errs, field.Required(fld.Child("restartPolicy"), ""))
	case !restartPolicies.Has(spec.RestartPolicy):
		errs = append(errs, field.NotSupported(fld.Child("restartPolicy"), spec.RestartPolicy, sets.List(restartPolicies)))
	}
	errs = append(errs, validateDNS(spec, fld)...)
	errs = append(errs, validatePodSecurityContext(spec.SecurityContext, fld.Child("securityContext"))...)

	if spec.ActiveDeadlineSeconds != nil && *spec.ActiveDeadlineSeconds <= 0 {
		errs = append(errs, field.Invalid(fld.Child("activeDeadlineSeconds"), *spec.ActiveDeadlineSeconds, "must be greater than 0"))
	}
	if g := spec.TerminationGracePeriodSeconds; g != nil && *g < 0 {
		errs = append(errs, field.Invalid(fld.Child("terminationGracePeriodSeconds"), *g, "must be greater than or equal to 0"))
	}
	errs = append(errs, metavalidation.ValidateLabels(spec.NodeSelector, fld.Child("nodeSelector"))...)
	errs = append(errs, validateDNSSubdomainField(spec.ServiceAccountName, fld.Child("serviceAccountName"))...)
	errs = append(errs, validateDNSSubdomainField(spec.DeprecatedServiceAccount, fld.Child("serviceAccount"))...)
	errs = append(errs, validateDNSSubdomainField(spec.NodeName, fld.Child("nodeName"))...)
	errs = append(errs, validateDNSLabelField(spec.Hostname, fld.Child("hostname"))...)
	errs = append(errs, validateDNSLabelField(spec.Subdomain, fld.Child("subdomain"))...)
	if spec.SchedulerName != "" {
		errs = append(errs, validateDNSSubdomainField(spec.SchedulerName, fld.Child("schedulerName"))...)
	}
	for i, s := range spec.ImagePullSecrets {
		if s.Name == "" {
			errs = append(errs, field.Required(fld.Child("imagePullSecrets").Index(i).Child("name"), ""))
		}
	}
	errs = append(errs, validateTolerations(spec.Tolerations, fld.Child("tolerations"))...)
	for i, g := range spec.ReadinessGates {
		for _, msg := range validation.IsQualifiedName(string(g.ConditionType)) {
			errs = append(errs, field.Invalid(fld.Child("readinessGates").Index(i).Child("conditionType"), g.ConditionType, msg))
		}
	}
	if spec.HostNetwork {
		errs = append(errs, validateHostNetworkPorts(spec, fld)...)
	}
	return errs
}

func validateDNS(spec *corev1.PodSpec, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case spec.DNSPolicy == "":
		errs = append(errs, field.Required(fld.Child("dnsPolicy"), ""))
	case !dnsPolicies.Has(spec.DNSPolicy):
		errs = append(errs, field.NotSupported(fld.Child("dnsPolicy"), spec.DNSPolicy, sets.List(dnsPolicies)))
	case spec.DNSPolicy == corev1.DNSNone && (spec.DNSConfig == nil || len(spec.DNSConfig.Nameservers) == 0):
		errs = append(errs, field.Required(fld.Child("dnsConfig", "nameservers"), fmt.Sprintf("must provide at least one DNS nameserver when DNSPolicy is %s", corev1.DNSNone)))
	}
	if spec.DNSConfig != nil {
		cf := fld.Child("dnsConfig")
		if len(spec.DNSConfig.Nameservers) > 3 {
			errs = append(errs, field.Invalid(cf.Child("nameservers"), spec.DNSConfig.Nameservers, "must not have more than 3 nameservers"))
		}
		for i, ns := range spec.DNSConfig.Nameservers {
			errs = append(errs, validation.IsValidIP(cf.Child("nameservers").Index(i), ns)...)
		}
		for i, s := range spec.DNSConfig.Searches {
			for _, msg := range validation.IsDNS1123Subdomain(trimDot(s)) {
				errs = append(errs, field.Invalid(cf.Child("searches").Index(i), s, msg))
			}
		}
		for i, o := range spec.DNSConfig.Options {
			if o.Name == "" {
				errs = append(errs, field.Required(cf.Child("options").Index(i), "must not be empty"))
			}
		}
	}
	return errs
}

func trimDot(s string) string {
	if len(s) > 1 && s[len(s)-1] == '.' {
		return s[:len(s)-1]
	}
	return s
}

func validateTolerations(ts []corev1.Toleration, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, t := range ts {
		f := fld.Index(i)
		if t.Key != "" {
			errs = append(errs, metavalidation.ValidateLabelName(t.Key, f.Child("key"))...)
		}
		if t.Key == "" && t.Operator != corev1.TolerationOpExists {
			errs = append(errs, field.Invalid(f.Child("operator"), t.Operator, "operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
		}
		if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
			errs = append(errs, field.Invalid(f.Child("effect"), t.Effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
		}
		switch t.Operator {
		case corev1.TolerationOpEqual, "":
			for _, msg := range validation.IsValidLabelValue(t.Value) {
				errs = append(errs, field.Invalid(f.Child("value"), t.Value, msg))
			}
		case corev1.TolerationOpExists:
			if t.Value != "" {
				errs = append(errs, field.Invalid(f.Child("operator"), t, "value must be empty when `operator` is 'Exists'"))
			}
		default:
			errs = append(errs, field.NotSupported(f.Child("operator"), t.Operator, []corev1.TolerationOperator{corev1.TolerationOpEqual, corev1.TolerationOpExists}))
		}
		if t.Effect != "" && !taintEffects.Has(t.Effect) {
			errs = append(errs, field.NotSupported(f.Child("effect"), t.Effect, sets.List(taintEffects)))
		}
	}
	return errs
}

func validateHostNetworkPorts(spec *corev1.PodSpec, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	check := func(cs []corev1.Container, cf *field.Path) {
		for i, c := range cs {
			for j, p := range c.Ports {
				if p.HostPort != p.ContainerPort {
					errs = append(errs, field.Invalid(cf.Index(i).Child("ports").Index(j).Child("containerPort"), p.ContainerPort, "must match `hostPort` when `hostNetwork` is true"))
				}
			}
		}
	}
	check(spec.InitContainers, fld.Child("initContainers"))
	check(spec.Containers, fld.Child("containers"))
	return errs
}

func validateDNSSubdomainField(v string, fld *field.Path) field.ErrorList {
	if v == "" {
		return nil
	}
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Subdomain(v) {
		errs = append(errs, field.Invalid(fld, v, msg))
	}
	return errs
}

func validateDNSLabelField(v string, fld *field.Path) field.ErrorList {
	if v == "" {
		return nil
	}
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Label(v) {
		errs = append(errs, field.Invalid(fld, v, msg))
	}
	return errs
}
