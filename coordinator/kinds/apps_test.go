package kinds

import (
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// workloadNow and workloadCreated fix the clock for table rows: the
// objects are 3 days and 4 hours old.
var (
	workloadNow     = time.Date(2025, 6, 10, 12, 0, 0, 0, time.UTC)
	workloadCreated = metav1.NewTime(workloadNow.Add(-76 * time.Hour))
)

// webTemplate is a pod template with two containers labelled app=web.
func webTemplate() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "nginx", Image: "nginx:1.27"},
			{Name: "sidecar", Image: "busybox"},
		}},
	}
}

func webSelector() *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
}

func webDeployment() *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", CreationTimestamp: workloadCreated},
		Spec:       appsv1.DeploymentSpec{Selector: webSelector(), Template: webTemplate()},
	}
}

func webReplicaSet() *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web-5d8f", Namespace: "default", CreationTimestamp: workloadCreated},
		Spec:       appsv1.ReplicaSetSpec{Selector: webSelector(), Template: webTemplate()},
	}
}

func webDaemonSet() *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "kube-system", CreationTimestamp: workloadCreated},
		Spec:       appsv1.DaemonSetSpec{Selector: webSelector(), Template: webTemplate()},
	}
}

func webStatefulSet() *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default", CreationTimestamp: workloadCreated},
		Spec: appsv1.StatefulSetSpec{
			Selector: webSelector(), Template: webTemplate(), ServiceName: "db",
		},
	}
}

func appsKind(t *testing.T, resource string) *Kind {
	t.Helper()
	for _, k := range appsKinds() {
		if k.Resource == resource {
			return k
		}
	}
	t.Fatalf("no apps kind %q", resource)
	return nil
}

func TestAppsKinds_names(t *testing.T) {
	type names struct {
		kind, singular string
		short, cats    []string
		status, gen    bool
		scale, fields  bool
	}
	want := map[string]names{
		"deployments":         {"Deployment", "deployment", []string{"deploy"}, []string{"all"}, true, true, true, false},
		"replicasets":         {"ReplicaSet", "replicaset", []string{"rs"}, []string{"all"}, true, true, true, true},
		"daemonsets":          {"DaemonSet", "daemonset", []string{"ds"}, []string{"all"}, true, true, false, false},
		"statefulsets":        {"StatefulSet", "statefulset", []string{"sts"}, []string{"all"}, true, true, true, false},
		"controllerrevisions": {"ControllerRevision", "controllerrevision", nil, nil, false, false, false, false},
	}
	ks := appsKinds()
	if len(ks) != len(want) {
		t.Fatalf("got %d kinds, want %d", len(ks), len(want))
	}
	if _, err := NewRegistry(ks...); err != nil {
		t.Fatalf("registry: %v", err)
	}
	for _, k := range ks {
		w, ok := want[k.Resource]
		if !ok {
			t.Fatalf("unexpected resource %q", k.Resource)
		}
		got := names{k.GVK.Kind, k.Singular, k.ShortNames, k.Categories, k.HasStatus, k.Generation, k.Scale != nil, k.Fields != nil}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s: got %+v, want %+v", k.Resource, got, w)
		}
		if k.GVK.Group != "apps" || k.GVK.Version != "v1" || !k.Namespaced {
			t.Errorf("%s: gvk %v namespaced %v", k.Resource, k.GVK, k.Namespaced)
		}
		if got := len(k.Row(k.New(), workloadNow)); got != len(k.Columns) {
			t.Errorf("%s: empty object row has %d cells for %d columns", k.Resource, got, len(k.Columns))
		}
	}
}

func TestAppsDefault_deployment(t *testing.T) {
	d := webDeployment()
	appsKind(t, "deployments").Default(d)
	want := appsv1.DeploymentSpec{
		Replicas: ptr.To[int32](1),
		Strategy: appsv1.DeploymentStrategy{
			Type: appsv1.RollingUpdateDeploymentStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxUnavailable: ptr.To(intstr.FromString("25%")),
				MaxSurge:       ptr.To(intstr.FromString("25%")),
			},
		},
		RevisionHistoryLimit:    ptr.To[int32](10),
		ProgressDeadlineSeconds: ptr.To[int32](600),
	}
	got := d.Spec
	got.Selector, got.Template = nil, corev1.PodTemplateSpec{}
	if !apiequality.Semantic.DeepEqual(got, want) {
		t.Errorf("defaulted spec:\n got  %+v\n want %+v", got, want)
	}
	if d.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways || d.Spec.Template.Spec.Containers[0].ImagePullPolicy == "" {
		t.Errorf("pod template not defaulted: %+v", d.Spec.Template.Spec)
	}
}

func TestAppsDefault_keepsGivenValues(t *testing.T) {
	d := webDeployment()
	d.Spec.Replicas = ptr.To[int32](0)
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	d.Spec.RevisionHistoryLimit = ptr.To[int32](2)
	defaultDeployment(d)
	if *d.Spec.Replicas != 0 || d.Spec.Strategy.RollingUpdate != nil || *d.Spec.RevisionHistoryLimit != 2 {
		t.Errorf("given values changed: %+v", d.Spec)
	}

	ds := webDaemonSet()
	ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}
	defaultDaemonSet(ds)
	if ds.Spec.UpdateStrategy.RollingUpdate != nil {
		t.Errorf("OnDelete daemonset got rollingUpdate %+v", ds.Spec.UpdateStrategy.RollingUpdate)
	}

	s := webStatefulSet()
	s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
	s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
	defaultStatefulSet(s)
	if s.Spec.UpdateStrategy.RollingUpdate != nil || s.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("statefulset given values changed: %+v", s.Spec)
	}
}

func TestAppsDefault_otherKinds(t *testing.T) {
	rs := webReplicaSet()
	defaultReplicaSet(rs)
	if *rs.Spec.Replicas != 1 || rs.Spec.Template.Spec.DNSPolicy != corev1.DNSClusterFirst {
		t.Errorf("replicaset: %+v", rs.Spec)
	}

	ds := webDaemonSet()
	defaultDaemonSet(ds)
	wantDS := appsv1.DaemonSetUpdateStrategy{
		Type: appsv1.RollingUpdateDaemonSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDaemonSet{
			MaxUnavailable: ptr.To(intstr.FromInt32(1)),
			MaxSurge:       ptr.To(intstr.FromInt32(0)),
		},
	}
	if !apiequality.Semantic.DeepEqual(ds.Spec.UpdateStrategy, wantDS) || *ds.Spec.RevisionHistoryLimit != 10 {
		t.Errorf("daemonset: %+v", ds.Spec)
	}

	s := webStatefulSet()
	s.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}}}
	defaultStatefulSet(s)
	wantSTS := appsv1.StatefulSetSpec{
		Replicas:            ptr.To[int32](1),
		PodManagementPolicy: appsv1.OrderedReadyPodManagement,
		UpdateStrategy: appsv1.StatefulSetUpdateStrategy{
			Type:          appsv1.RollingUpdateStatefulSetStrategyType,
			RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](0)},
		},
		RevisionHistoryLimit: ptr.To[int32](10),
		PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
			WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
			WhenScaled:  appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
		},
		ServiceName: "db",
	}
	got := s.Spec
	got.Selector, got.Template, got.VolumeClaimTemplates = nil, corev1.PodTemplateSpec{}, nil
	if !apiequality.Semantic.DeepEqual(got, wantSTS) {
		t.Errorf("statefulset:\n got  %+v\n want %+v", got, wantSTS)
	}
	pvc := s.Spec.VolumeClaimTemplates[0]
	if pvc.Spec.VolumeMode == nil || *pvc.Spec.VolumeMode != corev1.PersistentVolumeFilesystem || pvc.Status.Phase != corev1.ClaimPending {
		t.Errorf("claim template: %+v", pvc)
	}
}

func TestAppsScale_getAndSet(t *testing.T) {
	tests := []struct {
		resource string
		obj      Object
		spec     int32
	}{
		{"deployments", &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Selector: webSelector()}, Status: appsv1.DeploymentStatus{Replicas: 2}}, 1},
		{"replicasets", &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](3), Selector: webSelector()}, Status: appsv1.ReplicaSetStatus{Replicas: 2}}, 3},
		{"statefulsets", &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](0), Selector: webSelector()}, Status: appsv1.StatefulSetStatus{Replicas: 2}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.resource, func(t *testing.T) {
			k := appsKind(t, tt.resource)
			spec, status, sel := k.Scale.Get(tt.obj)
			if spec != tt.spec || status != 2 || sel != "app=web" {
				t.Fatalf("Get = %d, %d, %q; want %d, 2, app=web", spec, status, sel, tt.spec)
			}
			k.Scale.Set(tt.obj, 7)
			if spec, _, _ := k.Scale.Get(tt.obj); spec != 7 {
				t.Fatalf("after Set(7), spec = %d", spec)
			}
			sc := k.ScaleOf(tt.obj)
			if sc.Spec.Replicas != 7 || sc.Status.Replicas != 2 || sc.Status.Selector != "app=web" {
				t.Fatalf("ScaleOf = %+v", sc)
			}
		})
	}
}

func TestAppsScale_selectorForms(t *testing.T) {
	expr := &metav1.LabelSelector{
		MatchLabels:      map[string]string{"app": "web"},
		MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "b"}}},
	}
	for sel, want := range map[*metav1.LabelSelector]string{
		expr: "app=web,tier in (a,b)",
		{}:   "",
		nil:  "",
		{MatchLabels: map[string]string{"bad key!": "x"}}: "",
	} {
		if got := scaleSelector(sel); got != want {
			t.Errorf("scaleSelector(%v) = %q, want %q", sel, got, want)
		}
	}
}

func TestAppsFields_replicaSetReplicas(t *testing.T) {
	rs := webReplicaSet()
	rs.Status.Replicas = 3
	got := appsKind(t, "replicasets").Fields(rs)
	if want := (fields.Set{"status.replicas": "3"}); !reflect.DeepEqual(got, want) {
		t.Fatalf("Fields = %v, want %v", got, want)
	}
}
