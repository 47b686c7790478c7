package kinds

import (
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

func columnNames(cols []metav1.TableColumnDefinition) (names []string, wideFrom int) {
	wideFrom = -1
	for i, c := range cols {
		names = append(names, c.Name)
		if c.Priority == 1 && wideFrom < 0 {
			wideFrom = i
		}
	}
	return names, wideFrom
}

func TestAppsTable_columns(t *testing.T) {
	tests := []struct {
		resource string
		names    []string
		wideFrom int
	}{
		{"deployments", []string{"Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector"}, 4},
		{"replicasets", []string{"Desired", "Current", "Ready", "Age", "Containers", "Images", "Selector"}, 4},
		{"daemonsets", []string{"Desired", "Current", "Ready", "Up-to-date", "Available", "Node Selector", "Age", "Containers", "Images", "Selector"}, 7},
		{"statefulsets", []string{"Ready", "Age", "Containers", "Images"}, 2},
		{"controllerrevisions", []string{"Controller", "Revision", "Age"}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.resource, func(t *testing.T) {
			names, wideFrom := columnNames(appsKind(t, tt.resource).Columns)
			if !reflect.DeepEqual(names, tt.names) || wideFrom != tt.wideFrom {
				t.Fatalf("columns %q (wide from %d), want %q (wide from %d)", names, wideFrom, tt.names, tt.wideFrom)
			}
		})
	}
}

func TestAppsTable_rows(t *testing.T) {
	deploy := webDeployment()
	deploy.Spec.Replicas = ptr.To[int32](3)
	deploy.Status = appsv1.DeploymentStatus{Replicas: 3, ReadyReplicas: 2, UpdatedReplicas: 3, AvailableReplicas: 2}

	rs := webReplicaSet()
	rs.Spec.Replicas = ptr.To[int32](3)
	rs.Spec.Selector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpExists}}
	rs.Status = appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 1}

	ds := webDaemonSet()
	ds.Spec.Template.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "linux"}
	ds.Status = appsv1.DaemonSetStatus{DesiredNumberScheduled: 4, CurrentNumberScheduled: 4, NumberReady: 3, UpdatedNumberScheduled: 2, NumberAvailable: 3}

	dsNoNodeSel := webDaemonSet()
	dsNoNodeSel.Spec.Selector = &metav1.LabelSelector{}

	sts := webStatefulSet()
	sts.Spec.Replicas = ptr.To[int32](2)
	sts.Status.ReadyReplicas = 1

	cr := &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{Name: "agent-6b7c", CreationTimestamp: workloadCreated, OwnerReferences: []metav1.OwnerReference{
			{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "agent", UID: "u1", Controller: ptr.To(true)},
		}},
		Data:     runtime.RawExtension{Raw: []byte(`{}`)},
		Revision: 4,
	}
	orphan := &appsv1.ControllerRevision{Revision: 1}
	coreOwned := cr.DeepCopy()
	coreOwned.OwnerReferences[0].APIVersion, coreOwned.OwnerReferences[0].Kind = "v1", "Pod"

	tests := []struct {
		name, resource string
		obj            Object
		want           []any
	}{
		{"deployment", "deployments", deploy, []any{"2/3", int64(3), int64(2), "3d4h", "nginx,sidecar", "nginx:1.27,busybox", "app=web"}},
		{"deployment without anything", "deployments", &appsv1.Deployment{}, []any{"0/0", int64(0), int64(0), "<unknown>", "", "", ""}},
		{"replicaset", "replicasets", rs, []any{int64(3), int64(3), int64(1), "3d4h", "nginx,sidecar", "nginx:1.27,busybox", "app=web,tier"}},
		{"replicaset nil selector", "replicasets", &appsv1.ReplicaSet{}, []any{int64(0), int64(0), int64(0), "<unknown>", "", "", "<none>"}},
		{"daemonset", "daemonsets", ds, []any{int64(4), int64(4), int64(3), int64(2), int64(3), "kubernetes.io/os=linux", "3d4h", "nginx,sidecar", "nginx:1.27,busybox", "app=web"}},
		{"daemonset empty selectors", "daemonsets", dsNoNodeSel, []any{int64(0), int64(0), int64(0), int64(0), int64(0), "<none>", "3d4h", "nginx,sidecar", "nginx:1.27,busybox", "<none>"}},
		{"statefulset", "statefulsets", sts, []any{"1/2", "3d4h", "nginx,sidecar", "nginx:1.27,busybox"}},
		{"controllerrevision", "controllerrevisions", cr, []any{"daemonset.apps/agent", int64(4), "3d4h"}},
		{"controllerrevision core owner", "controllerrevisions", coreOwned, []any{"pod/agent", int64(4), "3d4h"}},
		{"controllerrevision orphan", "controllerrevisions", orphan, []any{"<none>", int64(1), "<unknown>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := appsKind(t, tt.resource).Row(tt.obj, workloadNow)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("row\n got  %#v\n want %#v", got, tt.want)
			}
		})
	}
}
