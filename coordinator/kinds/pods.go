package kinds

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/kubectl/pkg/util/qos"
)

const defaultServiceAccountName = "default"

// podUpdatableFields is the message Kubernetes gives when a pod update
// touches an immutable part of the spec.
const podUpdatableFields = "pod updates may not change fields other than `spec.containers[*].image`, " +
	"`spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, " +
	"`spec.tolerations` (only additions to existing tolerations), " +
	"`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative), " +
	"`spec.schedulingGates` (only removals) or `spec.nodeName` (only when unset)"

func podKind() *Kind {
	return &Kind{
		GVK:        corev1.SchemeGroupVersion.WithKind("Pod"),
		Resource:   "pods",
		Singular:   "pod",
		ShortNames: []string{"po"},
		Categories: []string{"all"},
		Namespaced: true,
		HasStatus:  true,
		Generation: true,
		New:        func() Object { return &corev1.Pod{} },
		NewList:    func() runtime.Object { return &corev1.PodList{} },
		InitStatus: func(obj Object) { initPodStatus(obj.(*corev1.Pod)) },
		Default:    func(obj Object) { defaultPod(obj.(*corev1.Pod)) },
		Validate:   func(obj Object) field.ErrorList { return validatePod(obj.(*corev1.Pod)) },
		ValidateUpdate: func(obj, old Object) field.ErrorList {
			return validatePodUpdate(obj.(*corev1.Pod), old.(*corev1.Pod))
		},
		Columns: podColumns,
		Row:     podRow,
		Fields:  func(obj Object) fields.Set { return podFields(obj.(*corev1.Pod)) },
	}
}

// defaultPod applies the pod spec defaults plus what Kubernetes adds to pods
// only: service links, requests from limits, host ports on the host network,
// and the service account its admission adds on create. The default
// not-ready and unreachable tolerations are the coordinator's admission.
func defaultPod(p *corev1.Pod) {
	spec := &p.Spec
	DefaultPodSpec(spec)
	if spec.EnableServiceLinks == nil {
		v := corev1.DefaultEnableServiceLinks
		spec.EnableServiceLinks = &v
	}
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			defaultRequestsFromLimits(&cs[i].Resources)
			if spec.HostNetwork {
				for j := range cs[i].Ports {
					if cs[i].Ports[j].HostPort == 0 {
						cs[i].Ports[j].HostPort = cs[i].Ports[j].ContainerPort
					}
				}
			}
		}
	}
	if spec.ServiceAccountName == "" {
		spec.ServiceAccountName = spec.DeprecatedServiceAccount
	}
	if spec.ServiceAccountName == "" {
		spec.ServiceAccountName = defaultServiceAccountName
	}
	if spec.DeprecatedServiceAccount == "" {
		spec.DeprecatedServiceAccount = spec.ServiceAccountName
	}
}

// defaultRequestsFromLimits sets a request equal to the limit for every
// resource that has a limit and no request.
func defaultRequestsFromLimits(r *corev1.ResourceRequirements) {
	for name, limit := range r.Limits {
		if _, ok := r.Requests[name]; ok {
			continue
		}
		if r.Requests == nil {
			r.Requests = corev1.ResourceList{}
		}
		r.Requests[name] = limit.DeepCopy()
	}
}

func initPodStatus(p *corev1.Pod) {
	p.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: qos.ComputePodQOS(p)}
}

func validatePod(p *corev1.Pod) field.ErrorList {
	errs := ValidateObjectMeta(&p.ObjectMeta, true, field.NewPath("metadata"))
	errs = append(errs, ValidatePodSpec(&p.Spec, field.NewPath("spec"))...)
	if len(p.Spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "ephemeralContainers"), "cannot be set on create"))
	}
	return errs
}

func validatePodUpdate(p, old *corev1.Pod) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&p.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	spec := field.NewPath("spec")
	errs = append(errs, ValidatePodSpec(&p.Spec, spec)...)

	if a, o := p.Spec.ActiveDeadlineSeconds, old.Spec.ActiveDeadlineSeconds; o != nil {
		switch {
		case a == nil:
			errs = append(errs, field.Invalid(spec.Child("activeDeadlineSeconds"), a, "must not update from a positive integer to nil value"))
		case *a > *o:
			errs = append(errs, field.Invalid(spec.Child("activeDeadlineSeconds"), *a, "must be less than or equal to previous value"))
		}
	}
	for _, ot := range old.Spec.Tolerations {
		if !hasToleration(p.Spec.Tolerations, ot) {
			errs = append(errs, field.Forbidden(spec.Child("tolerations"), "existing toleration can not be modified except its tolerationSeconds"))
			break
		}
	}

	// Compare the specs with every mutable field taken from the old pod.
	m := p.Spec.DeepCopy()
	if len(m.Containers) == len(old.Spec.Containers) {
		for i := range m.Containers {
			m.Containers[i].Image = old.Spec.Containers[i].Image
		}
	}
	if len(m.InitContainers) == len(old.Spec.InitContainers) {
		for i := range m.InitContainers {
			m.InitContainers[i].Image = old.Spec.InitContainers[i].Image
		}
	}
	m.ActiveDeadlineSeconds = old.Spec.ActiveDeadlineSeconds
	m.Tolerations = old.Spec.Tolerations
	if g, og := m.TerminationGracePeriodSeconds, old.Spec.TerminationGracePeriodSeconds; g != nil && og != nil && *og < 0 && *g == 1 {
		m.TerminationGracePeriodSeconds = og
	}
	if len(m.SchedulingGates) <= len(old.Spec.SchedulingGates) {
		m.SchedulingGates = old.Spec.SchedulingGates
	}
	// Binding a pending pod to a node is an update of spec.nodeName.
	if old.Spec.NodeName == "" {
		m.NodeName = ""
	}
	if !apiequality.Semantic.DeepEqual(m, &old.Spec) {
		errs = append(errs, field.Forbidden(spec, podUpdatableFields))
	}
	return errs
}

// hasToleration reports whether ts holds t, ignoring tolerationSeconds.
func hasToleration(ts []corev1.Toleration, t corev1.Toleration) bool {
	for _, c := range ts {
		if c.Key == t.Key && c.Operator == t.Operator && c.Value == t.Value && c.Effect == t.Effect {
			return true
		}
	}
	return false
}

func podFields(p *corev1.Pod) fields.Set {
	ip := p.Status.PodIP
	if len(p.Status.PodIPs) > 0 {
		ip = p.Status.PodIPs[0].IP
	}
	return fields.Set{
		"spec.nodeName":            p.Spec.NodeName,
		"spec.restartPolicy":       string(p.Spec.RestartPolicy),
		"spec.schedulerName":       p.Spec.SchedulerName,
		"spec.serviceAccountName":  p.Spec.ServiceAccountName,
		"spec.hostNetwork":         strconv.FormatBool(p.Spec.HostNetwork),
		"status.phase":             string(p.Status.Phase),
		"status.podIP":             ip,
		"status.nominatedNodeName": p.Status.NominatedNodeName,
	}
}

var podColumns = []metav1.TableColumnDefinition{
	column("Ready", "Ready containers out of all containers."),
	column("Status", "Summary of the pod and container states."),
	column("Restarts", "Container restarts, and how long ago the last one was."),
	ageColumn(),
	wide(column("IP", "IP address of the pod.")),
	wide(column("Node", "Node the pod is bound to.")),
	wide(column("Nominated Node", "Node the scheduler nominated for a preemption.")),
	wide(column("Readiness Gates", "Readiness gates that are true out of all gates.")),
}
