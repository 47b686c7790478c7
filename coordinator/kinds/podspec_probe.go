package kinds

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateProbe checks a probe: exactly one handler, non-negative timings,
// and a success threshold of 1 for liveness and startup probes.
func validateProbe(p *corev1.Probe, fld *field.Path, oneSuccess bool) field.ErrorList {
	if p == nil {
		return nil
	}
	var errs field.ErrorList
	var set []string
	h := &p.ProbeHandler
	if h.Exec != nil {
		set = append(set, "exec")
		if len(h.Exec.Command) == 0 {
			errs = append(errs, field.Required(fld.Child("exec", "command"), ""))
		}
	}
	if h.HTTPGet != nil {
		set = append(set, "httpGet")
		errs = append(errs, validateHTTPGet(h.HTTPGet, fld.Child("httpGet"))...)
	}
	if h.TCPSocket != nil {
		set = append(set, "tcpSocket")
		errs = append(errs, validatePortRef(h.TCPSocket.Port, fld.Child("tcpSocket", "port"))...)
	}
	if h.GRPC != nil {
		set = append(set, "grpc")
		errs = append(errs, portNumErrors(int(h.GRPC.Port), fld.Child("grpc", "port"))...)
	}
	switch {
	case len(set) == 0:
		errs = append(errs, field.Required(fld, "must specify a handler type"))
	case len(set) > 1:
		errs = append(errs, field.Forbidden(fld.Child(set[1]), "may not specify more than 1 handler type"))
	}
	for _, n := range []struct {
		name string
		v    int32
	}{{"initialDelaySeconds", p.InitialDelaySeconds}, {"timeoutSeconds", p.TimeoutSeconds},
		{"periodSeconds", p.PeriodSeconds}, {"successThreshold", p.SuccessThreshold}, {"failureThreshold", p.FailureThreshold}} {
		if n.v < 0 {
			errs = append(errs, field.Invalid(fld.Child(n.name), n.v, "must be greater than or equal to 0"))
		}
	}
	if oneSuccess && p.SuccessThreshold != 1 {
		errs = append(errs, field.Invalid(fld.Child("successThreshold"), p.SuccessThreshold, "must be 1"))
	}
	if g := p.TerminationGracePeriodSeconds; g != nil && *g <= 0 {
		errs = append(errs, field.Invalid(fld.Child("terminationGracePeriodSeconds"), *g, "must be greater than 0"))
	}
	return errs
}

func validateLifecycleHandler(h *corev1.LifecycleHandler, fld *field.Path) field.ErrorList {
	if h == nil {
		return nil
	}
	var errs field.ErrorList
	n := 0
	if h.Exec != nil {
		n++
		if len(h.Exec.Command) == 0 {
			errs = append(errs, field.Required(fld.Child("exec", "command"), ""))
		}
	}
	if h.HTTPGet != nil {
		n++
		errs = append(errs, validateHTTPGet(h.HTTPGet, fld.Child("httpGet"))...)
	}
	if h.Sleep != nil {
		n++
		if h.Sleep.Seconds < 0 {
			errs = append(errs, field.Invalid(fld.Child("sleep", "seconds"), h.Sleep.Seconds, "must be greater than or equal to 0"))
		}
	}
	if h.TCPSocket != nil {
		errs = append(errs, field.Forbidden(fld.Child("tcpSocket"), "may not be used as a lifecycle handler"))
	}
	switch {
	case n == 0 && h.TCPSocket == nil:
		errs = append(errs, field.Required(fld, "must specify a handler type"))
	case n > 1:
		errs = append(errs, field.Forbidden(fld, "may not specify more than 1 handler type"))
	}
	return errs
}

func validateHTTPGet(g *corev1.HTTPGetAction, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if g.Path == "" {
		errs = append(errs, field.Required(fld.Child("path"), ""))
	}
	errs = append(errs, validatePortRef(g.Port, fld.Child("port"))...)
	if !uriSchemes.Has(g.Scheme) {
		errs = append(errs, field.NotSupported(fld.Child("scheme"), g.Scheme, sets.List(uriSchemes)))
	}
	for i, h := range g.HTTPHeaders {
		for _, msg := range validation.IsHTTPHeaderName(h.Name) {
			errs = append(errs, field.Invalid(fld.Child("httpHeaders").Index(i).Child("name"), h.Name, msg))
		}
	}
	return errs
}

// validatePortRef checks a port given by number or by container port name.
func validatePortRef(p intstr.IntOrString, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if p.Type == intstr.String {
		for _, msg := range validation.IsValidPortName(p.StrVal) {
			errs = append(errs, field.Invalid(fld, p.StrVal, msg))
		}
		return errs
	}
	return portNumErrors(int(p.IntVal), fld)
}
