package kinds

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Labels that name a node's roles: node-role.kubernetes.io/<role>, or the
// older kubernetes.io/role=<role>.
const (
	nodeRolePrefix = "node-role.kubernetes.io/"
	nodeRoleLabel  = "kubernetes.io/role"
)

func nodeKind() *Kind {
	return &Kind{
		GVK:                corev1.SchemeGroupVersion.WithKind("Node"),
		Resource:           "nodes",
		Singular:           "node",
		ShortNames:         []string{"no"},
		HasStatus:          true,
		KeepStatusOnCreate: true,
		New:                func() Object { return &corev1.Node{} },
		NewList:            func() runtime.Object { return &corev1.NodeList{} },
		Default:            func(obj Object) { defaultNode(obj.(*corev1.Node)) },
		Validate:           func(obj Object) field.ErrorList { return validateNode(obj.(*corev1.Node)) },
		ValidateUpdate: func(obj, old Object) field.ErrorList {
			return validateNodeUpdate(obj.(*corev1.Node), old.(*corev1.Node))
		},
		Columns: nodeColumns,
		Row:     nodeRow,
		Fields: func(obj Object) fields.Set {
			return fields.Set{"spec.unschedulable": strconv.FormatBool(obj.(*corev1.Node).Spec.Unschedulable)}
		},
	}
}

// defaultNode makes allocatable equal to capacity when only capacity is
// reported.
func defaultNode(n *corev1.Node) {
	if n.Status.Allocatable == nil && n.Status.Capacity != nil {
		n.Status.Allocatable = n.Status.Capacity.DeepCopy()
	}
}

func validateNode(n *corev1.Node) field.ErrorList {
	errs := ValidateObjectMeta(&n.ObjectMeta, false, field.NewPath("metadata"))
	spec := field.NewPath("spec")
	if n.Spec.PodCIDR != "" {
		errs = append(errs, validation.IsValidCIDR(spec.Child("podCIDR"), n.Spec.PodCIDR)...)
	}
	if len(n.Spec.PodCIDRs) > 0 && n.Spec.PodCIDRs[0] != n.Spec.PodCIDR {
		errs = append(errs, field.Invalid(spec.Child("podCIDRs"), n.Spec.PodCIDRs, "first value must match `podCIDR`"))
	}
	if len(n.Spec.PodCIDRs) > 2 {
		errs = append(errs, field.Invalid(spec.Child("podCIDRs"), n.Spec.PodCIDRs, "may specify no more than one CIDR for each IP family"))
	}
	for i, c := range n.Spec.PodCIDRs {
		if i > 0 {
			errs = append(errs, validation.IsValidCIDR(spec.Child("podCIDRs").Index(i), c)...)
		}
	}
	errs = append(errs, validateTaints(n.Spec.Taints, spec.Child("taints"))...)
	st := field.NewPath("status")
	for _, name := range sortedResourceNames(n.Status.Capacity) {
		errs = append(errs, nonNegativeQuantity(n.Status.Capacity[name], st.Child("capacity").Key(string(name)))...)
	}
	for _, name := range sortedResourceNames(n.Status.Allocatable) {
		errs = append(errs, nonNegativeQuantity(n.Status.Allocatable[name], st.Child("allocatable").Key(string(name)))...)
	}
	for i, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP || a.Type == corev1.NodeExternalIP {
			errs = append(errs, validation.IsValidIP(st.Child("addresses").Index(i).Child("address"), a.Address)...)
		}
	}
	return errs
}

func validateTaints(taints []corev1.Taint, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	type key struct {
		key    string
		effect corev1.TaintEffect
	}
	seen := map[key]bool{}
	for i, t := range taints {
		f := fld.Index(i)
		errs = append(errs, metavalidation.ValidateLabelName(t.Key, f.Child("key"))...)
		for _, msg := range validation.IsValidLabelValue(t.Value) {
			errs = append(errs, field.Invalid(f.Child("value"), t.Value, msg))
		}
		switch {
		case t.Effect == "":
			errs = append(errs, field.Required(f.Child("effect"), ""))
		case !taintEffects.Has(t.Effect):
			errs = append(errs, field.NotSupported(f.Child("effect"), t.Effect, sets.List(taintEffects)))
		}
		k := key{t.Key, t.Effect}
		if seen[k] {
			errs = append(errs, field.Duplicate(f, "taints must be unique by key and effect pair"))
		}
		seen[k] = true
	}
	return errs
}

func validateNodeUpdate(n, old *corev1.Node) field.ErrorList {
	errs := ValidateObjectMetaUpdate(&n.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	errs = append(errs, validateNode(n)...)
	spec := field.NewPath("spec")
	if len(old.Spec.PodCIDRs) > 0 {
		if !slices.Equal(old.Spec.PodCIDRs, n.Spec.PodCIDRs) {
			errs = append(errs, field.Forbidden(spec.Child("podCIDRs"), "node updates may not change podCIDR except from \"\" to valid"))
		}
	} else if old.Spec.PodCIDR != "" && n.Spec.PodCIDR != old.Spec.PodCIDR {
		errs = append(errs, field.Forbidden(spec.Child("podCIDR"), "node updates may not change podCIDR except from \"\" to valid"))
	}
	if old.Spec.ProviderID != "" {
		errs = append(errs, apivalidation.ValidateImmutableField(n.Spec.ProviderID, old.Spec.ProviderID, spec.Child("providerID"))...)
	}
	return errs
}

var nodeColumns = []metav1.TableColumnDefinition{
	column("Status", "Whether the node is ready, and whether it takes new pods."),
	column("Roles", "Roles the node has, from its node-role labels."),
	ageColumn(),
	column("Version", "Version of the node agent."),
	wide(column("Internal-IP", "First internal IP address of the node.")),
	wide(column("External-IP", "First external IP address of the node.")),
	wide(column("OS-Image", "Operating system image of the node.")),
	wide(column("Kernel-Version", "Kernel version of the node.")),
	wide(column("Container-Runtime", "Container runtime name and version.")),
}

// nodeRow renders STATUS (Ready, NotReady or Unknown, plus
// SchedulingDisabled when cordoned), ROLES, AGE and VERSION, then the wide
// columns.
func nodeRow(obj Object, now time.Time) []any {
	n := obj.(*corev1.Node)
	status := "Unknown"
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			status = "NotReady"
			if c.Status == corev1.ConditionTrue {
				status = "Ready"
			}
		}
	}
	if n.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	info := n.Status.NodeInfo
	return []any{
		status, orNone(strings.Join(nodeRoles(n), ",")), ageSince(n.CreationTimestamp, now), info.KubeletVersion,
		nodeAddress(n, corev1.NodeInternalIP), nodeAddress(n, corev1.NodeExternalIP),
		orUnknown(info.OSImage), orUnknown(info.KernelVersion), orUnknown(info.ContainerRuntimeVersion),
	}
}

// nodeRoles returns the node's roles, sorted.
func nodeRoles(n *corev1.Node) []string {
	roles := sets.New[string]()
	for k, v := range n.Labels {
		switch {
		case strings.HasPrefix(k, nodeRolePrefix):
			if r := strings.TrimPrefix(k, nodeRolePrefix); r != "" {
				roles.Insert(r)
			}
		case k == nodeRoleLabel && v != "":
			roles.Insert(v)
		}
	}
	out := roles.UnsortedList()
	sort.Strings(out)
	return out
}

// nodeAddress returns the node's first address of type t, or "<none>".
func nodeAddress(n *corev1.Node, t corev1.NodeAddressType) string {
	for _, a := range n.Status.Addresses {
		if a.Type == t {
			return a.Address
		}
	}
	return "<none>"
}
