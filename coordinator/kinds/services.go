package kinds

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Node ports are allocated from this range.
const (
	nodePortMin = 30000
	nodePortMax = 32767
	// defaultAffinityTimeout is the ClientIP session affinity timeout: 3 hours.
	defaultAffinityTimeout = int32(10800)
	maxAffinityTimeout     = int32(86400)
)

var (
	serviceTypes        = sets.New(corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeExternalName)
	sessionAffinities   = sets.New(corev1.ServiceAffinityNone, corev1.ServiceAffinityClientIP)
	externalPolicies    = sets.New(corev1.ServiceExternalTrafficPolicyCluster, corev1.ServiceExternalTrafficPolicyLocal)
	internalPolicies    = sets.New(corev1.ServiceInternalTrafficPolicyCluster, corev1.ServiceInternalTrafficPolicyLocal)
	ipFamilyPolicies    = sets.New(corev1.IPFamilyPolicySingleStack, corev1.IPFamilyPolicyPreferDualStack, corev1.IPFamilyPolicyRequireDualStack)
	ipFamilies          = sets.New(corev1.IPv4Protocol, corev1.IPv6Protocol)
	serviceNameValidate = apivalidation.NameIsDNS1035Label
)

func serviceKind() *Kind {
	return &Kind{
		GVK:        corev1.SchemeGroupVersion.WithKind("Service"),
		Resource:   "services",
		Singular:   "service",
		ShortNames: []string{"svc"},
		Categories: []string{"all"},
		Namespaced: true,
		HasStatus:  true,
		New:        func() Object { return &corev1.Service{} },
		NewList:    func() runtime.Object { return &corev1.ServiceList{} },
		Default:    func(obj Object) { defaultService(obj.(*corev1.Service)) },
		Validate:   func(obj Object) field.ErrorList { return validateService(obj.(*corev1.Service)) },
		ValidateUpdate: func(obj, old Object) field.ErrorList {
			return validateServiceUpdate(obj.(*corev1.Service), old.(*corev1.Service))
		},
		Columns: serviceColumns,
		Row:     serviceRow,
		Fields: func(obj Object) fields.Set {
			s := obj.(*corev1.Service)
			return fields.Set{"spec.clusterIP": s.Spec.ClusterIP, "spec.type": string(s.Spec.Type)}
		},
	}
}

func defaultService(s *corev1.Service) {
	spec := &s.Spec
	if spec.Type == "" {
		spec.Type = corev1.ServiceTypeClusterIP
	}
	if spec.SessionAffinity == "" {
		spec.SessionAffinity = corev1.ServiceAffinityNone
	}
	if spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		if spec.SessionAffinityConfig == nil {
			spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{}
		}
		if spec.SessionAffinityConfig.ClientIP == nil {
			spec.SessionAffinityConfig.ClientIP = &corev1.ClientIPConfig{}
		}
		if spec.SessionAffinityConfig.ClientIP.TimeoutSeconds == nil {
			t := defaultAffinityTimeout
			spec.SessionAffinityConfig.ClientIP.TimeoutSeconds = &t
		}
	}
	for i := range spec.Ports {
		defaultServicePort(&spec.Ports[i])
	}
	if spec.Type == corev1.ServiceTypeExternalName {
		return
	}
	if (spec.Type == corev1.ServiceTypeNodePort || spec.Type == corev1.ServiceTypeLoadBalancer) && spec.ExternalTrafficPolicy == "" {
		spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	}
	if spec.Type == corev1.ServiceTypeLoadBalancer && spec.AllocateLoadBalancerNodePorts == nil {
		v := true
		spec.AllocateLoadBalancerNodePorts = &v
	}
	if spec.InternalTrafficPolicy == nil {
		p := corev1.ServiceInternalTrafficPolicyCluster
		spec.InternalTrafficPolicy = &p
	}
	if spec.ClusterIP == "" && len(spec.ClusterIPs) > 0 {
		spec.ClusterIP = spec.ClusterIPs[0]
	}
	if spec.ClusterIP != "" && len(spec.ClusterIPs) == 0 {
		spec.ClusterIPs = []string{spec.ClusterIP}
	}
	if spec.IPFamilyPolicy == nil {
		p := corev1.IPFamilyPolicySingleStack
		spec.IPFamilyPolicy = &p
	}
	if len(spec.IPFamilies) == 0 {
		family := corev1.IPv4Protocol
		if a, err := netip.ParseAddr(spec.ClusterIP); err == nil && a.Is6() && !a.Is4In6() {
			family = corev1.IPv6Protocol
		}
		spec.IPFamilies = []corev1.IPFamily{family}
	}
}

// defaultServicePort fills a service port's protocol and target port.
func defaultServicePort(p *corev1.ServicePort) {
	if p.Protocol == "" {
		p.Protocol = corev1.ProtocolTCP
	}
	if p.TargetPort == intstr.FromInt32(0) || p.TargetPort == intstr.FromString("") {
		p.TargetPort = intstr.FromInt32(p.Port)
	}
}

func validateService(s *corev1.Service) field.ErrorList {
	errs := apivalidation.ValidateObjectMeta(&s.ObjectMeta, true, serviceNameValidate, field.NewPath("metadata"))
	spec, fld := &s.Spec, field.NewPath("spec")
	headless := spec.ClusterIP == corev1.ClusterIPNone

	switch {
	case spec.Type == "":
		errs = append(errs, field.Required(fld.Child("type"), ""))
	case !serviceTypes.Has(spec.Type):
		errs = append(errs, field.NotSupported(fld.Child("type"), spec.Type, sets.List(serviceTypes)))
	}
	if len(spec.Ports) == 0 && !headless && spec.Type != corev1.ServiceTypeExternalName {
		errs = append(errs, field.Required(fld.Child("ports"), ""))
	}
	errs = append(errs, validateServicePorts(spec, fld.Child("ports"))...)
	errs = append(errs, metavalidation.ValidateLabels(spec.Selector, fld.Child("selector"))...)
	errs = append(errs, validateClusterIPs(spec, fld)...)

	if spec.Type == corev1.ServiceTypeExternalName {
		ef := fld.Child("externalName")
		if spec.ExternalName == "" {
			errs = append(errs, field.Required(ef, ""))
		} else {
			for _, msg := range validation.IsDNS1123Subdomain(strings.TrimSuffix(spec.ExternalName, ".")) {
				errs = append(errs, field.Invalid(ef, spec.ExternalName, msg))
			}
		}
	}

	switch {
	case spec.SessionAffinity == "":
		errs = append(errs, field.Required(fld.Child("sessionAffinity"), ""))
	case !sessionAffinities.Has(spec.SessionAffinity):
		errs = append(errs, field.NotSupported(fld.Child("sessionAffinity"), spec.SessionAffinity, sets.List(sessionAffinities)))
	case spec.SessionAffinity == corev1.ServiceAffinityClientIP:
		tf := fld.Child("sessionAffinityConfig", "clientIP", "timeoutSeconds")
		c := spec.SessionAffinityConfig
		if c == nil || c.ClientIP == nil || c.ClientIP.TimeoutSeconds == nil {
			errs = append(errs, field.Required(tf, ""))
		} else if t := *c.ClientIP.TimeoutSeconds; t <= 0 || t > maxAffinityTimeout {
			errs = append(errs, field.Invalid(tf, t, fmt.Sprintf("must be greater than 0 and less than %d", maxAffinityTimeout)))
		}
	case spec.SessionAffinityConfig != nil:
		errs = append(errs, field.Invalid(fld.Child("sessionAffinityConfig"), spec.SessionAffinityConfig,
			fmt.Sprintf("must not be set when session affinity is %s", corev1.ServiceAffinityNone)))
	}

	external := spec.Type == corev1.ServiceTypeNodePort || spec.Type == corev1.ServiceTypeLoadBalancer
	etp := fld.Child("externalTrafficPolicy")
	switch {
	case !external && spec.ExternalTrafficPolicy != "" && len(spec.ExternalIPs) == 0:
		errs = append(errs, field.Invalid(etp, spec.ExternalTrafficPolicy, "may only be set for externally-accessible services"))
	case external && spec.ExternalTrafficPolicy == "":
		errs = append(errs, field.Required(etp, ""))
	case spec.ExternalTrafficPolicy != "" && !externalPolicies.Has(spec.ExternalTrafficPolicy):
		errs = append(errs, field.NotSupported(etp, spec.ExternalTrafficPolicy, sets.List(externalPolicies)))
	}
	if spec.Type != corev1.ServiceTypeExternalName {
		itp := fld.Child("internalTrafficPolicy")
		switch p := spec.InternalTrafficPolicy; {
		case p == nil:
			errs = append(errs, field.Required(itp, ""))
		case !internalPolicies.Has(*p):
			errs = append(errs, field.NotSupported(itp, *p, sets.List(internalPolicies)))
		}
	}
	for i, ip := range spec.ExternalIPs {
		errs = append(errs, validation.IsValidIP(fld.Child("externalIPs").Index(i), ip)...)
	}
	for i, r := range spec.LoadBalancerSourceRanges {
		errs = append(errs, validation.IsValidCIDR(fld.Child("loadBalancerSourceRanges").Index(i), strings.TrimSpace(r))...)
	}
	return errs
}

func validateServicePorts(spec *corev1.ServiceSpec, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	type key struct {
		port  int32
		proto corev1.Protocol
	}
	ports, nodePorts := map[key]bool{}, map[key]bool{}
	for i, p := range spec.Ports {
		f := fld.Index(i)
		switch {
		case p.Name == "" && len(spec.Ports) > 1:
			errs = append(errs, field.Required(f.Child("name"), ""))
		case p.Name != "":
			for _, msg := range validation.IsDNS1123Label(p.Name) {
				errs = append(errs, field.Invalid(f.Child("name"), p.Name, msg))
			}
			if names.Has(p.Name) {
				errs = append(errs, field.Duplicate(f.Child("name"), p.Name))
			}
			names.Insert(p.Name)
		}
		errs = append(errs, portNumErrors(int(p.Port), f.Child("port"))...)
		errs = append(errs, validateProtocol(p.Protocol, f.Child("protocol"))...)
		errs = append(errs, validatePortRef(p.TargetPort, f.Child("targetPort"))...)
		if p.AppProtocol != nil {
			for _, msg := range validation.IsQualifiedName(*p.AppProtocol) {
				errs = append(errs, field.Invalid(f.Child("appProtocol"), *p.AppProtocol, msg))
			}
		}
		k := key{p.Port, p.Protocol}
		if ports[k] {
			errs = append(errs, field.Duplicate(f, p))
		}
		ports[k] = true
		if p.NodePort == 0 {
			continue
		}
		nf := f.Child("nodePort")
		switch {
		case spec.Type == corev1.ServiceTypeClusterIP || spec.Type == corev1.ServiceTypeExternalName:
			errs = append(errs, field.Forbidden(nf, fmt.Sprintf("may not be used when `type` is '%s'", spec.Type)))
		case p.NodePort < nodePortMin || p.NodePort > nodePortMax:
			errs = append(errs, field.Invalid(nf, p.NodePort,
				fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", nodePortMin, nodePortMax)))
		}
		nk := key{p.NodePort, p.Protocol}
		if nodePorts[nk] {
			errs = append(errs, field.Duplicate(nf, p.NodePort))
		}
		nodePorts[nk] = true
	}
	return errs
}

func validateClusterIPs(spec *corev1.ServiceSpec, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	cf := fld.Child("clusterIP")
	if spec.Type == corev1.ServiceTypeExternalName {
		if spec.ClusterIP != "" {
			errs = append(errs, field.Forbidden(cf, "may not be set for ExternalName services"))
		}
		if len(spec.IPFamilies) > 0 {
			errs = append(errs, field.Forbidden(fld.Child("ipFamilies"), "may not be set for ExternalName services"))
		}
		if spec.IPFamilyPolicy != nil {
			errs = append(errs, field.Forbidden(fld.Child("ipFamilyPolicy"), "may not be set for ExternalName services"))
		}
		return errs
	}
	if spec.ClusterIP == corev1.ClusterIPNone {
		if spec.Type == corev1.ServiceTypeNodePort || spec.Type == corev1.ServiceTypeLoadBalancer {
			errs = append(errs, field.Invalid(cf, spec.ClusterIP, fmt.Sprintf("may not be set to 'None' for %s services", spec.Type)))
		}
	} else if spec.ClusterIP != "" {
		errs = append(errs, validation.IsValidIP(cf, spec.ClusterIP)...)
	}
	ipsf := fld.Child("clusterIPs")
	if len(spec.ClusterIPs) > 0 && spec.ClusterIPs[0] != spec.ClusterIP {
		errs = append(errs, field.Invalid(ipsf, spec.ClusterIPs, "first value must match `clusterIP`"))
	}
	if len(spec.ClusterIPs) > 2 {
		errs = append(errs, field.Invalid(ipsf, spec.ClusterIPs, "may only hold up to 2 values"))
	}
	for i, ip := range spec.ClusterIPs {
		if i > 0 && ip != corev1.ClusterIPNone {
			errs = append(errs, validation.IsValidIP(ipsf.Index(i), ip)...)
		}
	}
	if p := spec.IPFamilyPolicy; p != nil && !ipFamilyPolicies.Has(*p) {
		errs = append(errs, field.NotSupported(fld.Child("ipFamilyPolicy"), *p, sets.List(ipFamilyPolicies)))
	}
	seen := sets.New[corev1.IPFamily]()
	for i, f := range spec.IPFamilies {
		ff := fld.Child("ipFamilies").Index(i)
		switch {
		case !ipFamilies.Has(f):
			errs = append(errs, field.NotSupported(ff, f, sets.List(ipFamilies)))
		case seen.Has(f):
			errs = append(errs, field.Duplicate(ff, f))
		}
		seen.Insert(f)
	}
	if p := spec.IPFamilyPolicy; p != nil && *p == corev1.IPFamilyPolicySingleStack && len(spec.IPFamilies) > 1 {
		errs = append(errs, field.Invalid(fld.Child("ipFamilies"), spec.IPFamilies, "must be a single value when `ipFamilyPolicy` is 'SingleStack'"))
	}
	return errs
}

func validateServiceUpdate(s, old *corev1.Service) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&s.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	errs = append(errs, validateService(s)...)
	fld := field.NewPath("spec")
	ext := corev1.ServiceTypeExternalName
	if s.Spec.Type != ext && old.Spec.Type != ext && old.Spec.ClusterIP != "" {
		errs = append(errs, apivalidation.ValidateImmutableField(s.Spec.ClusterIP, old.Spec.ClusterIP, fld.Child("clusterIP"))...)
		if len(old.Spec.IPFamilies) > 0 && len(s.Spec.IPFamilies) > 0 {
			errs = append(errs, apivalidation.ValidateImmutableField(s.Spec.IPFamilies[0], old.Spec.IPFamilies[0], fld.Child("ipFamilies").Index(0))...)
		}
	}
	return errs
}
