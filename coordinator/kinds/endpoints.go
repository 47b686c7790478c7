package kinds

import (
	"net"
	"net/netip"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxListed is how many endpoints or ports a table cell lists before it
// says "+ N more...".
const maxListed = 3

func endpointsKind() *Kind {
	return &Kind{
		GVK:        corev1.SchemeGroupVersion.WithKind("Endpoints"),
		Resource:   "endpoints",
		Singular:   "endpoints",
		ShortNames: []string{"ep"},
		Namespaced: true,
		New:        func() Object { return &corev1.Endpoints{} },
		NewList:    func() runtime.Object { return &corev1.EndpointsList{} },
		Default:    func(obj Object) { defaultEndpoints(obj.(*corev1.Endpoints)) },
		Validate:   func(obj Object) field.ErrorList { return validateEndpoints(obj.(*corev1.Endpoints)) },
		ValidateUpdate: func(obj, old Object) field.ErrorList {
			e, o := obj.(*corev1.Endpoints), old.(*corev1.Endpoints)
			errs := ValidateObjectMetaUpdate(&e.ObjectMeta, &o.ObjectMeta, field.NewPath("metadata"))
			return append(errs, validateEndpoints(e)...)
		},
		Columns: []metav1.TableColumnDefinition{
			column("Endpoints", "Ready addresses and ports behind the service."),
			ageColumn(),
		},
		Row: func(obj Object, now time.Time) []any {
			e := obj.(*corev1.Endpoints)
			return []any{formatEndpoints(e), ageSince(e.CreationTimestamp, now)}
		},
	}
}

func defaultEndpoints(e *corev1.Endpoints) {
	for i := range e.Subsets {
		for j := range e.Subsets[i].Ports {
			if p := &e.Subsets[i].Ports[j]; p.Protocol == "" {
				p.Protocol = corev1.ProtocolTCP
			}
		}
	}
}

func validateEndpoints(e *corev1.Endpoints) field.ErrorList {
	errs := ValidateObjectMeta(&e.ObjectMeta, true, field.NewPath("metadata"))
	for i, ss := range e.Subsets {
		f := field.NewPath("subsets").Index(i)
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			errs = append(errs, field.Required(f, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j, a := range ss.Addresses {
			errs = append(errs, validateEndpointAddress(a, f.Child("addresses").Index(j))...)
		}
		for j, a := range ss.NotReadyAddresses {
			errs = append(errs, validateEndpointAddress(a, f.Child("notReadyAddresses").Index(j))...)
		}
		names := sets.New[string]()
		for j, p := range ss.Ports {
			pf := f.Child("ports").Index(j)
			switch {
			case p.Name == "" && len(ss.Ports) > 1:
				errs = append(errs, field.Required(pf.Child("name"), ""))
			case p.Name != "":
				for _, msg := range validation.IsDNS1123Label(p.Name) {
					errs = append(errs, field.Invalid(pf.Child("name"), p.Name, msg))
				}
				if names.Has(p.Name) {
					errs = append(errs, field.Duplicate(pf.Child("name"), p.Name))
				}
				names.Insert(p.Name)
			}
			errs = append(errs, portNumErrors(int(p.Port), pf.Child("port"))...)
			errs = append(errs, validateProtocol(p.Protocol, pf.Child("protocol"))...)
		}
	}
	return errs
}

func validateEndpointAddress(a corev1.EndpointAddress, f *field.Path) field.ErrorList {
	errs := validateEndpointIP(a.IP, f.Child("ip"))
	errs = append(errs, validateDNSLabelField(a.Hostname, f.Child("hostname"))...)
	if a.NodeName != nil {
		errs = append(errs, validateDNSSubdomainField(*a.NodeName, f.Child("nodeName"))...)
	}
	return errs
}

// validateEndpointIP accepts a valid IP that a pod or node could have: not
// unspecified, loopback or link-local.
func validateEndpointIP(ip string, f *field.Path) field.ErrorList {
	if errs := validation.IsValidIP(f, ip); len(errs) > 0 {
		return errs
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return field.ErrorList{field.Invalid(f, ip, "must be a valid IP address")}
	}
	a = a.Unmap()
	var msg string
	switch {
	case a.IsUnspecified():
		msg = "may not be unspecified (0.0.0.0, ::)"
	case a.IsLoopback():
		msg = "may not be in the loopback range (127.0.0.0/8, ::1/128)"
	case a.IsLinkLocalUnicast():
		msg = "may not be in the link-local range (169.254.0.0/16, fe80::/10)"
	case a.IsLinkLocalMulticast():
		msg = "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"
	default:
		return nil
	}
	return field.ErrorList{field.Invalid(f, ip, msg)}
}

// formatEndpoints lists ready "ip:port" pairs (bare IPs for a subset without
// ports), the first three of them, then "+ N more...".
func formatEndpoints(e *corev1.Endpoints) string {
	if len(e.Subsets) == 0 {
		return "<none>"
	}
	var list []string
	count := 0
	add := func(s string) {
		count++
		if len(list) < maxListed {
			list = append(list, s)
		}
	}
	for _, ss := range e.Subsets {
		if len(ss.Ports) == 0 {
			for _, a := range ss.Addresses {
				add(a.IP)
			}
			continue
		}
		for _, p := range ss.Ports {
			for _, a := range ss.Addresses {
				add(net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
			}
		}
	}
	return joinWithMore(list, count, maxListed)
}
