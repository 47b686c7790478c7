package kinds

import (
	"net/netip"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Limits Kubernetes puts on one endpoint slice.
const (
	maxSliceEndpoints = 1000
	maxSlicePorts     = 100
	maxSliceAddresses = 100
)

var addressTypes = sets.New(discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6, discoveryv1.AddressTypeFQDN)

func endpointSliceKind() *Kind {
	return &Kind{
		GVK:        discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice"),
		Resource:   "endpointslices",
		Singular:   "endpointslice",
		Namespaced: true,
		Generation: true,
		New:        func() Object { return &discoveryv1.EndpointSlice{} },
		NewList:    func() runtime.Object { return &discoveryv1.EndpointSliceList{} },
		Default:    func(obj Object) { defaultEndpointSlice(obj.(*discoveryv1.EndpointSlice)) },
		Validate:   func(obj Object) field.ErrorList { return validateEndpointSlice(obj.(*discoveryv1.EndpointSlice)) },
		ValidateUpdate: func(obj, old Object) field.ErrorList {
			return validateEndpointSliceUpdate(obj.(*discoveryv1.EndpointSlice), old.(*discoveryv1.EndpointSlice))
		},
		Columns: []metav1.TableColumnDefinition{
			column("AddressType", "Type of the addresses: IPv4, IPv6 or FQDN."),
			column("Ports", "Ports of the slice."),
			column("Endpoints", "Addresses of the endpoints in the slice."),
			ageColumn(),
		},
		Row: func(obj Object, now time.Time) []any {
			s := obj.(*discoveryv1.EndpointSlice)
			return []any{string(s.AddressType), slicePorts(s.Ports), sliceEndpoints(s.Endpoints), ageSince(s.CreationTimestamp, now)}
		},
	}
}

func defaultEndpointSlice(s *discoveryv1.EndpointSlice) {
	for i := range s.Ports {
		p := &s.Ports[i]
		if p.Name == nil {
			empty := ""
			p.Name = &empty
		}
		if p.Protocol == nil {
			tcp := corev1.ProtocolTCP
			p.Protocol = &tcp
		}
	}
}

func validateEndpointSlice(s *discoveryv1.EndpointSlice) field.ErrorList {
	errs := ValidateObjectMeta(&s.ObjectMeta, true, field.NewPath("metadata"))
	at := field.NewPath("addressType")
	switch {
	case s.AddressType == "":
		errs = append(errs, field.Required(at, ""))
	case !addressTypes.Has(s.AddressType):
		errs = append(errs, field.NotSupported(at, s.AddressType, sets.List(addressTypes)))
	}
	ef := field.NewPath("endpoints")
	if len(s.Endpoints) > maxSliceEndpoints {
		errs = append(errs, field.TooMany(ef, len(s.Endpoints), maxSliceEndpoints))
	}
	for i, e := range s.Endpoints {
		f := ef.Index(i)
		af := f.Child("addresses")
		switch {
		case len(e.Addresses) == 0:
			errs = append(errs, field.Required(af, "must contain at least 1 address"))
		case len(e.Addresses) > maxSliceAddresses:
			errs = append(errs, field.TooMany(af, len(e.Addresses), maxSliceAddresses))
		}
		for j, a := range e.Addresses {
			errs = append(errs, validateSliceAddress(s.AddressType, a, af.Index(j))...)
		}
		if e.Hostname != nil {
			errs = append(errs, validateDNSLabelField(*e.Hostname, f.Child("hostname"))...)
		}
		if e.NodeName != nil {
			errs = append(errs, validateDNSSubdomainField(*e.NodeName, f.Child("nodeName"))...)
		}
		if e.DeprecatedTopology != nil {
			errs = append(errs, metavalidation.ValidateLabels(e.DeprecatedTopology, f.Child("deprecatedTopology"))...)
		}
	}
	pf := field.NewPath("ports")
	if len(s.Ports) > maxSlicePorts {
		errs = append(errs, field.TooMany(pf, len(s.Ports), maxSlicePorts))
	}
	names := sets.New[string]()
	for i, p := range s.Ports {
		f := pf.Index(i)
		if p.Name != nil && *p.Name != "" {
			for _, msg := range validation.IsDNS1123Label(*p.Name) {
				errs = append(errs, field.Invalid(f.Child("name"), *p.Name, msg))
			}
		}
		name := ""
		if p.Name != nil {
			name = *p.Name
		}
		if names.Has(name) {
			errs = append(errs, field.Duplicate(f.Child("name"), name))
		}
		names.Insert(name)
		if p.Port != nil {
			errs = append(errs, portNumErrors(int(*p.Port), f.Child("port"))...)
		}
		if p.Protocol == nil {
			errs = append(errs, field.Required(f.Child("protocol"), ""))
		} else {
			errs = append(errs, validateProtocol(*p.Protocol, f.Child("protocol"))...)
		}
		if p.AppProtocol != nil {
			for _, msg := range validation.IsQualifiedName(*p.AppProtocol) {
				errs = append(errs, field.Invalid(f.Child("appProtocol"), *p.AppProtocol, msg))
			}
		}
	}
	return errs
}

// validateSliceAddress checks an address against the slice's address type.
func validateSliceAddress(t discoveryv1.AddressType, a string, f *field.Path) field.ErrorList {
	switch t {
	case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6:
		if errs := validateEndpointIP(a, f); len(errs) > 0 {
			return errs
		}
		ip, _ := netip.ParseAddr(a)
		if ip.Is4() != (t == discoveryv1.AddressTypeIPv4) {
			return field.ErrorList{field.Invalid(f, a, "must be an "+string(t)+" address")}
		}
	case discoveryv1.AddressTypeFQDN:
		var errs field.ErrorList
		for _, msg := range validation.IsDNS1123Subdomain(a) {
			errs = append(errs, field.Invalid(f, a, msg))
		}
		return errs
	}
	return nil
}

func validateEndpointSliceUpdate(s, old *discoveryv1.EndpointSlice) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&s.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	errs = append(errs, validateEndpointSlice(s)...)
	if s.AddressType != old.AddressType {
		errs = append(errs, field.Invalid(field.NewPath("addressType"), s.AddressType, "field is immutable"))
	}
	return errs
}

// slicePorts lists port numbers ("*" for a port without number or name),
// the first three, then "+ N more...", or "<unset>".
func slicePorts(ports []discoveryv1.EndpointPort) string {
	var list []string
	for _, p := range ports {
		if len(list) == maxListed {
			break
		}
		s := "*"
		switch {
		case p.Port != nil:
			s = strconv.Itoa(int(*p.Port))
		case p.Name != nil:
			s = *p.Name
		}
		list = append(list, s)
	}
	return orUnset(joinWithMore(list, len(ports), maxListed))
}

// sliceEndpoints lists endpoint addresses, the first three, then
// "+ N more...", or "<unset>".
func sliceEndpoints(eps []discoveryv1.Endpoint) string {
	var list []string
	count := 0
	for _, e := range eps {
		for _, a := range e.Addresses {
			count++
			if len(list) < maxListed {
				list = append(list, a)
			}
		}
	}
	return orUnset(joinWithMore(list, count, maxListed))
}

func orUnset(s string) string {
	if s == "" {
		return "<unset>"
	}
	return s
}
