package kinds

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// wantFieldErrs compares errors as sorted "path: type" strings.
func wantFieldErrs(t *testing.T, errs field.ErrorList, want ...string) {
	t.Helper()
	got := make([]string, 0, len(errs))
	for _, e := range errs {
		got = append(got, e.Field+": "+e.Type.String())
	}
	slices.Sort(got)
	w := slices.Clone(want)
	slices.Sort(w)
	if !slices.Equal(got, w) {
		t.Errorf("errors:\n got  %q\n want %q\n full: %v", got, w, errs.ToAggregate())
	}
}

func TestValidateDeployment_rules(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(d *appsv1.Deployment)
		want   []string
	}{
		{"valid", func(*appsv1.Deployment) {}, nil},
		{"bad name", func(d *appsv1.Deployment) { d.Name = "Web" }, []string{"metadata.name: Invalid value"}},
		{"no namespace", func(d *appsv1.Deployment) { d.Namespace = "" }, []string{"metadata.namespace: Required value"}},
		{"no selector", func(d *appsv1.Deployment) { d.Spec.Selector = nil },
			[]string{"spec.selector: Required value", "spec.template.metadata.labels: Invalid value"}},
		{"empty selector", func(d *appsv1.Deployment) { d.Spec.Selector = &metav1.LabelSelector{} },
			[]string{"spec.selector: Invalid value"}},
		{"selector mismatch", func(d *appsv1.Deployment) { d.Spec.Selector.MatchLabels["app"] = "api" },
			[]string{"spec.template.metadata.labels: Invalid value"}},
		{"malformed selector", func(d *appsv1.Deployment) {
			d.Spec.Selector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "tier", Operator: "Near"}}
		}, []string{"spec.selector.matchExpressions[0].operator: Invalid value", "spec.selector: Invalid value"}},
		{"negative replicas", func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](-1) }, []string{"spec.replicas: Invalid value"}},
		{"zero replicas", func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](0) }, nil},
		{"unknown strategy", func(d *appsv1.Deployment) { d.Spec.Strategy.Type = "BlueGreen" }, []string{"spec.strategy.type: Unsupported value"}},
		{"recreate with rolling params", func(d *appsv1.Deployment) { d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType },
			[]string{"spec.strategy.rollingUpdate: Forbidden"}},
		{"recreate", func(d *appsv1.Deployment) {
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
		}, nil},
		{"rolling without params", func(d *appsv1.Deployment) { d.Spec.Strategy.RollingUpdate = nil },
			[]string{"spec.strategy.rollingUpdate: Required value"}},
		{"both zero", func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate.MaxSurge = ptr.To(intstr.FromInt32(0))
			d.Spec.Strategy.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromString("0%"))
		}, []string{"spec.strategy.rollingUpdate.maxUnavailable: Invalid value"}},
		{"surge zero is fine", func(d *appsv1.Deployment) { d.Spec.Strategy.RollingUpdate.MaxSurge = ptr.To(intstr.FromInt32(0)) }, nil},
		{"unavailable over 100%", func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromString("150%"))
		}, []string{"spec.strategy.rollingUpdate.maxUnavailable: Invalid value"}},
		{"surge over 100% is fine", func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate.MaxSurge = ptr.To(intstr.FromString("150%"))
		}, nil},
		{"malformed percent", func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate.MaxSurge = ptr.To(intstr.FromString("ten%"))
		}, []string{"spec.strategy.rollingUpdate.maxSurge: Invalid value"}},
		{"negative int", func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate.MaxSurge = ptr.To(intstr.FromInt32(-1))
		}, []string{"spec.strategy.rollingUpdate.maxSurge: Invalid value"}},
		{"restart policy", func(d *appsv1.Deployment) { d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever },
			[]string{"spec.template.spec.restartPolicy: Unsupported value"}},
		{"active deadline", func(d *appsv1.Deployment) { d.Spec.Template.Spec.ActiveDeadlineSeconds = ptr.To[int64](5) },
			[]string{"spec.template.spec.activeDeadlineSeconds: Forbidden"}},
		{"negative minReadySeconds", func(d *appsv1.Deployment) { d.Spec.MinReadySeconds = -1 }, []string{"spec.minReadySeconds: Invalid value"}},
		{"deadline not above minReady", func(d *appsv1.Deployment) {
			d.Spec.MinReadySeconds = 30
			d.Spec.ProgressDeadlineSeconds = ptr.To[int32](30)
		}, []string{"spec.progressDeadlineSeconds: Invalid value"}},
		{"negative history", func(d *appsv1.Deployment) { d.Spec.RevisionHistoryLimit = ptr.To[int32](-1) },
			[]string{"spec.revisionHistoryLimit: Invalid value"}},
		{"pod spec checked", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "" },
			[]string{"spec.template.spec.containers[0].image: Required value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := webDeployment()
			defaultDeployment(d)
			tt.mutate(d)
			wantFieldErrs(t, validateDeployment(d), tt.want...)
		})
	}
}

func TestValidateDeployment_messages(t *testing.T) {
	d := webDeployment()
	defaultDeployment(d)
	d.Spec.Selector.MatchLabels["app"] = "api"
	got := validateDeployment(d).ToAggregate().Error()
	want := "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`"
	if got != want {
		t.Errorf("message:\n got  %s\n want %s", got, want)
	}
}

func TestValidateDeploymentUpdate_selectorImmutable(t *testing.T) {
	old := webDeployment()
	defaultDeployment(old)
	old.ResourceVersion = "5"

	scaled := old.DeepCopy()
	scaled.Spec.Replicas = ptr.To[int32](5)
	scaled.Spec.Template.Spec.Containers[0].Image = "nginx:1.28"
	wantFieldErrs(t, validateDeploymentUpdate(scaled, old))

	reselected := old.DeepCopy()
	reselected.Spec.Selector.MatchLabels["tier"] = "front"
	reselected.Spec.Template.Labels["tier"] = "front"
	wantFieldErrs(t, validateDeploymentUpdate(reselected, old), "spec.selector: Invalid value")

	renamed := old.DeepCopy()
	renamed.Name = "other"
	wantFieldErrs(t, validateDeploymentUpdate(renamed, old), "metadata.name: Invalid value")
}

func TestValidateReplicaSet_rules(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(rs *appsv1.ReplicaSet)
		want   []string
	}{
		{"valid", func(*appsv1.ReplicaSet) {}, nil},
		{"no selector", func(rs *appsv1.ReplicaSet) { rs.Spec.Selector = nil },
			[]string{"spec.selector: Required value", "spec.template.metadata.labels: Invalid value"}},
		{"empty selector", func(rs *appsv1.ReplicaSet) { rs.Spec.Selector = &metav1.LabelSelector{} }, []string{"spec.selector: Invalid value"}},
		{"mismatch", func(rs *appsv1.ReplicaSet) { rs.Spec.Template.Labels = map[string]string{"app": "other"} },
			[]string{"spec.template.metadata.labels: Invalid value"}},
		{"negative replicas", func(rs *appsv1.ReplicaSet) { rs.Spec.Replicas = ptr.To[int32](-2) }, []string{"spec.replicas: Invalid value"}},
		{"negative minReadySeconds", func(rs *appsv1.ReplicaSet) { rs.Spec.MinReadySeconds = -1 }, []string{"spec.minReadySeconds: Invalid value"}},
		{"restart policy", func(rs *appsv1.ReplicaSet) { rs.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure },
			[]string{"spec.template.spec.restartPolicy: Unsupported value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := webReplicaSet()
			defaultReplicaSet(rs)
			tt.mutate(rs)
			wantFieldErrs(t, validateReplicaSet(rs), tt.want...)
		})
	}

	old := webReplicaSet()
	defaultReplicaSet(old)
	upd := old.DeepCopy()
	upd.Spec.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpExists}}}
	wantFieldErrs(t, validateReplicaSetUpdate(upd, old), "spec.selector: Invalid value")
}

func TestValidateDaemonSet_rules(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(ds *appsv1.DaemonSet)
		want   []string
	}{
		{"valid", func(*appsv1.DaemonSet) {}, nil},
		{"no selector", func(ds *appsv1.DaemonSet) { ds.Spec.Selector = nil },
			[]string{"spec.selector: Required value", "spec.template.metadata.labels: Invalid value"}},
		{"empty selector", func(ds *appsv1.DaemonSet) { ds.Spec.Selector = &metav1.LabelSelector{} }, []string{"spec.selector: Invalid value"}},
		{"mismatch", func(ds *appsv1.DaemonSet) { ds.Spec.Selector.MatchLabels["x"] = "y" }, []string{"spec.template.metadata.labels: Invalid value"}},
		{"unknown strategy", func(ds *appsv1.DaemonSet) { ds.Spec.UpdateStrategy.Type = "Rolling" }, []string{"spec.updateStrategy: Unsupported value"}},
		{"on delete", func(ds *appsv1.DaemonSet) {
			ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}
		}, nil},
		{"rolling without params", func(ds *appsv1.DaemonSet) { ds.Spec.UpdateStrategy.RollingUpdate = nil },
			[]string{"spec.updateStrategy.rollingUpdate: Required value"}},
		{"surge and unavailable", func(ds *appsv1.DaemonSet) {
			ds.Spec.UpdateStrategy.RollingUpdate.MaxSurge = ptr.To(intstr.FromInt32(1))
		},
			[]string{"spec.updateStrategy.rollingUpdate.maxSurge: Invalid value"}},
		{"surge only", func(ds *appsv1.DaemonSet) {
			ds.Spec.UpdateStrategy.RollingUpdate.MaxSurge = ptr.To(intstr.FromString("10%"))
			ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromInt32(0))
		}, nil},
		{"neither", func(ds *appsv1.DaemonSet) {
			ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromInt32(0))
		},
			[]string{"spec.updateStrategy.rollingUpdate.maxUnavailable: Required value"}},
		{"surge over 100%", func(ds *appsv1.DaemonSet) {
			ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromInt32(0))
			ds.Spec.UpdateStrategy.RollingUpdate.MaxSurge = ptr.To(intstr.FromString("101%"))
		}, []string{"spec.updateStrategy.rollingUpdate.maxSurge: Invalid value"}},
		{"restart policy", func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever },
			[]string{"spec.template.spec.restartPolicy: Unsupported value"}},
		{"active deadline", func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.ActiveDeadlineSeconds = ptr.To[int64](1) },
			[]string{"spec.template.spec.activeDeadlineSeconds: Invalid value"}},
		{"negative history", func(ds *appsv1.DaemonSet) { ds.Spec.RevisionHistoryLimit = ptr.To[int32](-1) },
			[]string{"spec.revisionHistoryLimit: Invalid value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := webDaemonSet()
			defaultDaemonSet(ds)
			tt.mutate(ds)
			wantFieldErrs(t, validateDaemonSet(ds), tt.want...)
		})
	}

	old := webDaemonSet()
	defaultDaemonSet(old)
	upd := old.DeepCopy()
	upd.Spec.Template.Spec.Containers[1].Image = "busybox:1.37"
	wantFieldErrs(t, validateDaemonSetUpdate(upd, old))
	upd.Spec.Selector.MatchLabels = map[string]string{"app": "web", "v": "2"}
	upd.Spec.Template.Labels["v"] = "2"
	wantFieldErrs(t, validateDaemonSetUpdate(upd, old), "spec.selector: Invalid value")
}

func TestValidateStatefulSet_rules(t *testing.T) {
	claim := func(name string) corev1.PersistentVolumeClaim {
		return corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			},
		}
	}
	tests := []struct {
		name   string
		mutate func(s *appsv1.StatefulSet)
		want   []string
	}{
		{"valid", func(*appsv1.StatefulSet) {}, nil},
		{"valid with claims and no service", func(s *appsv1.StatefulSet) {
			s.Spec.ServiceName = ""
			s.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{claim("data"), claim("logs")}
		}, nil},
		{"bad service name", func(s *appsv1.StatefulSet) { s.Spec.ServiceName = "DB_1" }, []string{"spec.serviceName: Invalid value"}},
		{"no pod management", func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = "" }, []string{"spec.podManagementPolicy: Required value"}},
		{"unknown pod management", func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = "Random" },
			[]string{"spec.podManagementPolicy: Invalid value"}},
		{"no strategy", func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{} },
			[]string{"spec.updateStrategy: Required value"}},
		{"unknown strategy", func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.Type = "Canary" }, []string{"spec.updateStrategy: Invalid value"}},
		{"on delete with rolling params", func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.Type = appsv1.OnDeleteStatefulSetStrategyType },
			[]string{"spec.updateStrategy.rollingUpdate: Invalid value"}},
		{"negative partition", func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To[int32](-1) },
			[]string{"spec.updateStrategy.rollingUpdate.partition: Invalid value"}},
		{"zero max unavailable", func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromInt32(0))
		}, []string{"spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value"}},
		{"retention", func(s *appsv1.StatefulSet) { s.Spec.PersistentVolumeClaimRetentionPolicy.WhenScaled = "Keep" },
			[]string{"spec.persistentVolumeClaimRetentionPolicy.whenScaled: Unsupported value"}},
		{"negative replicas", func(s *appsv1.StatefulSet) { s.Spec.Replicas = ptr.To[int32](-1) }, []string{"spec.replicas: Invalid value"}},
		{"negative ordinal", func(s *appsv1.StatefulSet) { s.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: -1} },
			[]string{"spec.ordinals.start: Invalid value"}},
		{"no selector", func(s *appsv1.StatefulSet) { s.Spec.Selector = nil },
			[]string{"spec.selector: Required value", "spec.template.metadata.labels: Invalid value"}},
		{"empty selector", func(s *appsv1.StatefulSet) { s.Spec.Selector = &metav1.LabelSelector{} }, []string{"spec.selector: Invalid value"}},
		{"mismatch", func(s *appsv1.StatefulSet) { s.Spec.Template.Labels = nil }, []string{"spec.template.metadata.labels: Invalid value"}},
		{"restart policy", func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever },
			[]string{"spec.template.spec.restartPolicy: Unsupported value"}},
		{"active deadline", func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.ActiveDeadlineSeconds = ptr.To[int64](1) },
			[]string{"spec.template.spec.activeDeadlineSeconds: Forbidden"}},
		{"bad claims", func(s *appsv1.StatefulSet) {
			dup, bare := claim("data"), corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "Bad_Name"}}
			s.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{claim("data"), dup, {}, bare}
		}, []string{
			"spec.volumeClaimTemplates[1].metadata.name: Duplicate value",
			"spec.volumeClaimTemplates[2].metadata.name: Required value",
			"spec.volumeClaimTemplates[2].spec.accessModes: Required value",
			"spec.volumeClaimTemplates[2].spec.resources[storage]: Required value",
			"spec.volumeClaimTemplates[3].metadata.name: Invalid value",
			"spec.volumeClaimTemplates[3].spec.accessModes: Required value",
			"spec.volumeClaimTemplates[3].spec.resources[storage]: Required value",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := webStatefulSet()
			defaultStatefulSet(s)
			tt.mutate(s)
			wantFieldErrs(t, validateStatefulSet(s), tt.want...)
		})
	}
}

func TestValidateStatefulSetUpdate_mutableFields(t *testing.T) {
	old := webStatefulSet()
	defaultStatefulSet(old)
	old.ResourceVersion = "3"

	ok := old.DeepCopy()
	ok.Spec.Replicas = ptr.To[int32](5)
	ok.Spec.Template.Spec.Containers[0].Image = "postgres:17"
	ok.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
	ok.Spec.MinReadySeconds = 10
	ok.Spec.RevisionHistoryLimit = ptr.To[int32](3)
	ok.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: 1}
	ok.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted = appsv1.DeletePersistentVolumeClaimRetentionPolicyType
	wantFieldErrs(t, validateStatefulSetUpdate(ok, old))

	for name, mutate := range map[string]func(s *appsv1.StatefulSet){
		"service name":    func(s *appsv1.StatefulSet) { s.Spec.ServiceName = "other" },
		"pod management":  func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement },
		"claim templates": func(s *appsv1.StatefulSet) { s.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{}} },
	} {
		t.Run(name, func(t *testing.T) {
			s := old.DeepCopy()
			mutate(s)
			errs := validateStatefulSetUpdate(s, old)
			var forbidden field.ErrorList
			for _, e := range errs {
				if e.Field == "spec" {
					forbidden = append(forbidden, e)
				}
			}
			wantFieldErrs(t, forbidden, "spec: Forbidden")
			if !strings.Contains(forbidden.ToAggregate().Error(), "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden") {
				t.Errorf("message: %v", forbidden.ToAggregate())
			}
		})
	}
}

func TestValidateControllerRevision_rules(t *testing.T) {
	cr := &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{Name: "agent-6b7c", Namespace: "kube-system"},
		Data:       runtime.RawExtension{Raw: []byte(`{"spec": {"template": {}}}`)},
		Revision:   2,
	}
	wantFieldErrs(t, validateControllerRevision(cr))

	bad := cr.DeepCopy()
	bad.Data = runtime.RawExtension{}
	bad.Revision = -1
	wantFieldErrs(t, validateControllerRevision(bad), "data: Required value", "revision: Invalid value")

	reformatted := cr.DeepCopy()
	reformatted.Data.Raw = []byte(`{"spec":{"template":{}}}`)
	reformatted.Revision = 3
	wantFieldErrs(t, validateControllerRevisionUpdate(reformatted, cr))

	changed := cr.DeepCopy()
	changed.Data.Raw = []byte(`{"spec":{"template":{"metadata":{}}}}`)
	wantFieldErrs(t, validateControllerRevisionUpdate(changed, cr), "data: Invalid value")
}
