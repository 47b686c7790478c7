package kinds

import (
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Columns shared by the workload tables.
var (
	containersColumn = wide(column("Containers", "Names of each container in the template."))
	imagesColumn     = wide(column("Images", "Images referenced by each container in the template."))
	readyColumn      = column("Ready", "Number of the pod with ready state")
)

var deploymentColumns = []metav1.TableColumnDefinition{
	readyColumn,
	column("Up-to-date", appsv1.DeploymentStatus{}.SwaggerDoc()["updatedReplicas"]),
	column("Available", appsv1.DeploymentStatus{}.SwaggerDoc()["availableReplicas"]),
	ageColumn(),
	containersColumn,
	imagesColumn,
	wide(column("Selector", appsv1.DeploymentSpec{}.SwaggerDoc()["selector"])),
}

// deploymentRow is READY (ready/desired), UP-TO-DATE, AVAILABLE, AGE, then
// CONTAINERS, IMAGES and SELECTOR for -o wide.
func deploymentRow(d *appsv1.Deployment, now time.Time) []any {
	names, images := containerCells(d.Spec.Template.Spec.Containers)
	return []any{
		fmt.Sprintf("%d/%d", int64(d.Status.ReadyReplicas), int64(replicasOrZero(d.Spec.Replicas))),
		int64(d.Status.UpdatedReplicas),
		int64(d.Status.AvailableReplicas),
		ageSince(d.CreationTimestamp, now),
		names, images, selectorText(d.Spec.Selector, "<invalid>"),
	}
}

var replicaSetColumns = []metav1.TableColumnDefinition{
	intColumn("Desired", appsv1.ReplicaSetSpec{}.SwaggerDoc()["replicas"]),
	intColumn("Current", appsv1.ReplicaSetStatus{}.SwaggerDoc()["replicas"]),
	intColumn("Ready", appsv1.ReplicaSetStatus{}.SwaggerDoc()["readyReplicas"]),
	ageColumn(),
	containersColumn,
	imagesColumn,
	wide(column("Selector", appsv1.ReplicaSetSpec{}.SwaggerDoc()["selector"])),
}

// replicaSetRow is DESIRED, CURRENT, READY, AGE, then CONTAINERS, IMAGES
// and SELECTOR for -o wide.
func replicaSetRow(rs *appsv1.ReplicaSet, now time.Time) []any {
	names, images := containerCells(rs.Spec.Template.Spec.Containers)
	return []any{
		int64(replicasOrZero(rs.Spec.Replicas)),
		int64(rs.Status.Replicas),
		int64(rs.Status.ReadyReplicas),
		ageSince(rs.CreationTimestamp, now),
		names, images, metav1.FormatLabelSelector(rs.Spec.Selector),
	}
}

var daemonSetColumns = []metav1.TableColumnDefinition{
	intColumn("Desired", appsv1.DaemonSetStatus{}.SwaggerDoc()["desiredNumberScheduled"]),
	intColumn("Current", appsv1.DaemonSetStatus{}.SwaggerDoc()["currentNumberScheduled"]),
	intColumn("Ready", appsv1.DaemonSetStatus{}.SwaggerDoc()["numberReady"]),
	intColumn("Up-to-date", appsv1.DaemonSetStatus{}.SwaggerDoc()["updatedNumberScheduled"]),
	intColumn("Available", appsv1.DaemonSetStatus{}.SwaggerDoc()["numberAvailable"]),
	column("Node Selector", corev1.PodSpec{}.SwaggerDoc()["nodeSelector"]),
	ageColumn(),
	containersColumn,
	imagesColumn,
	wide(column("Selector", appsv1.DaemonSetSpec{}.SwaggerDoc()["selector"])),
}

// daemonSetRow is DESIRED, CURRENT, READY, UP-TO-DATE, AVAILABLE, NODE
// SELECTOR, AGE, then CONTAINERS, IMAGES and SELECTOR for -o wide.
func daemonSetRow(ds *appsv1.DaemonSet, now time.Time) []any {
	names, images := containerCells(ds.Spec.Template.Spec.Containers)
	st := ds.Status
	return []any{
		int64(st.DesiredNumberScheduled),
		int64(st.CurrentNumberScheduled),
		int64(st.NumberReady),
		int64(st.UpdatedNumberScheduled),
		int64(st.NumberAvailable),
		labels.FormatLabels(ds.Spec.Template.Spec.NodeSelector),
		ageSince(ds.CreationTimestamp, now),
		names, images, metav1.FormatLabelSelector(ds.Spec.Selector),
	}
}

var statefulSetColumns = []metav1.TableColumnDefinition{
	readyColumn,
	ageColumn(),
	containersColumn,
	imagesColumn,
}

// statefulSetRow is READY (ready/desired), AGE, then CONTAINERS and IMAGES
// for -o wide.
func statefulSetRow(s *appsv1.StatefulSet, now time.Time) []any {
	names, images := containerCells(s.Spec.Template.Spec.Containers)
	return []any{
		fmt.Sprintf("%d/%d", int64(s.Status.ReadyReplicas), int64(replicasOrZero(s.Spec.Replicas))),
		ageSince(s.CreationTimestamp, now),
		names, images,
	}
}

var controllerRevisionColumns = []metav1.TableColumnDefinition{
	column("Controller", "Controller of the object"),
	column("Revision", appsv1.ControllerRevision{}.SwaggerDoc()["revision"]),
	ageColumn(),
}

// controllerRevisionRow is CONTROLLER (kind.group/name of the owner, or
// "<none>"), REVISION and AGE.
func controllerRevisionRow(cr *appsv1.ControllerRevision, now time.Time) []any {
	controller := "<none>"
	if ref := metav1.GetControllerOf(cr); ref != nil {
		gv, err := schema.ParseGroupVersion(ref.APIVersion)
		if err != nil {
			controller = ref.Name
		} else if gk := gv.WithKind(ref.Kind).GroupKind(); gk.Empty() {
			controller = ref.Name
		} else {
			controller = strings.ToLower(gk.String()) + "/" + ref.Name
		}
	}
	return []any{controller, cr.Revision, ageSince(cr.CreationTimestamp, now)}
}

// containerCells joins a template's container names and images with
// commas, as the CONTAINERS and IMAGES columns show them.
func containerCells(cs []corev1.Container) (names, images string) {
	n := make([]string, len(cs))
	im := make([]string, len(cs))
	for i, c := range cs {
		n[i], im[i] = c.Name, c.Image
	}
	return strings.Join(n, ","), strings.Join(im, ",")
}

// selectorText renders a selector in label-selector syntax; nil and
// empty selectors render as "" (kubectl prints <none>), and a selector that
// cannot be converted renders as invalid.
func selectorText(sel *metav1.LabelSelector, invalid string) string {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return invalid
	}
	return s.String()
}

// replicasOrZero reads an optional replica count for display; an unset
// count (not yet defaulted) shows as 0.
func replicasOrZero(r *int32) int32 {
	if r == nil {
		return 0
	}
	return *r
}
