package kinds

import (
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// appsKinds returns the apps/v1 kinds: Deployment, ReplicaSet, DaemonSet,
// StatefulSet and ControllerRevision.
func appsKinds() []*Kind {
	gv := appsv1.SchemeGroupVersion
	return []*Kind{
		{
			GVK:        gv.WithKind("Deployment"),
			Resource:   "deployments",
			Singular:   "deployment",
			ShortNames: []string{"deploy"},
			Categories: []string{"all"},
			Namespaced: true,
			HasStatus:  true,
			Generation: true,
			Scale: &Scale{
				Get: func(obj Object) (int32, int32, string) {
					d := obj.(*appsv1.Deployment)
					return replicasOrOne(d.Spec.Replicas), d.Status.Replicas, scaleSelector(d.Spec.Selector)
				},
				Set: func(obj Object, n int32) { obj.(*appsv1.Deployment).Spec.Replicas = &n },
			},
			New:     func() Object { return &appsv1.Deployment{} },
			NewList: func() runtime.Object { return &appsv1.DeploymentList{} },
			Default: func(obj Object) { defaultDeployment(obj.(*appsv1.Deployment)) },
			Validate: func(obj Object) field.ErrorList {
				return validateDeployment(obj.(*appsv1.Deployment))
			},
			ValidateUpdate: func(obj, old Object) field.ErrorList {
				return validateDeploymentUpdate(obj.(*appsv1.Deployment), old.(*appsv1.Deployment))
			},
			Columns: deploymentColumns,
			Row:     func(obj Object, now time.Time) []any { return deploymentRow(obj.(*appsv1.Deployment), now) },
		},
		{
			GVK:        gv.WithKind("ReplicaSet"),
			Resource:   "replicasets",
			Singular:   "replicaset",
			ShortNames: []string{"rs"},
			Categories: []string{"all"},
			Namespaced: true,
			HasStatus:  true,
			Generation: true,
			Scale: &Scale{
				Get: func(obj Object) (int32, int32, string) {
					rs := obj.(*appsv1.ReplicaSet)
					return replicasOrOne(rs.Spec.Replicas), rs.Status.Replicas, scaleSelector(rs.Spec.Selector)
				},
				Set: func(obj Object, n int32) { obj.(*appsv1.ReplicaSet).Spec.Replicas = &n },
			},
			New:     func() Object { return &appsv1.ReplicaSet{} },
			NewList: func() runtime.Object { return &appsv1.ReplicaSetList{} },
			Default: func(obj Object) { defaultReplicaSet(obj.(*appsv1.ReplicaSet)) },
			Validate: func(obj Object) field.ErrorList {
				return validateReplicaSet(obj.(*appsv1.ReplicaSet))
			},
			ValidateUpdate: func(obj, old Object) field.ErrorList {
				return validateReplicaSetUpdate(obj.(*appsv1.ReplicaSet), old.(*appsv1.ReplicaSet))
			},
			Columns: replicaSetColumns,
			Row:     func(obj Object, now time.Time) []any { return replicaSetRow(obj.(*appsv1.ReplicaSet), now) },
			Fields: func(obj Object) fields.Set {
				return fields.Set{"status.replicas": strconv.Itoa(int(obj.(*appsv1.ReplicaSet).Status.Replicas))}
			},
		},
		{
			GVK:        gv.WithKind("DaemonSet"),
			Resource:   "daemonsets",
			Singular:   "daemonset",
			ShortNames: []string{"ds"},
			Categories: []string{"all"},
			Namespaced: true,
			HasStatus:  true,
			Generation: true,
			New:        func() Object { return &appsv1.DaemonSet{} },
			NewList:    func() runtime.Object { return &appsv1.DaemonSetList{} },
			Default:    func(obj Object) { defaultDaemonSet(obj.(*appsv1.DaemonSet)) },
			Validate: func(obj Object) field.ErrorList {
				return validateDaemonSet(obj.(*appsv1.DaemonSet))
			},
			ValidateUpdate: func(obj, old Object) field.ErrorList {
				return validateDaemonSetUpdate(obj.(*appsv1.DaemonSet), old.(*appsv1.DaemonSet))
			},
			Columns: daemonSetColumns,
			Row:     func(obj Object, now time.Time) []any { return daemonSetRow(obj.(*appsv1.DaemonSet), now) },
		},
		{
			GVK:        gv.WithKind("StatefulSet"),
			Resource:   "statefulsets",
			Singular:   "statefulset",
			ShortNames: []string{"sts"},
			Categories: []string{"all"},
			Namespaced: true,
			HasStatus:  true,
			Generation: true,
			Scale: &Scale{
				Get: func(obj Object) (int32, int32, string) {
					s := obj.(*appsv1.StatefulSet)
					return replicasOrOne(s.Spec.Replicas), s.Status.Replicas, scaleSelector(s.Spec.Selector)
				},
				Set: func(obj Object, n int32) { obj.(*appsv1.StatefulSet).Spec.Replicas = &n },
			},
			New:     func() Object { return &appsv1.StatefulSet{} },
			NewList: func() runtime.Object { return &appsv1.StatefulSetList{} },
			Default: func(obj Object) { defaultStatefulSet(obj.(*appsv1.StatefulSet)) },
			Validate: func(obj Object) field.ErrorList {
				return validateStatefulSet(obj.(*appsv1.StatefulSet))
			},
			ValidateUpdate: func(obj, old Object) field.ErrorList {
				return validateStatefulSetUpdate(obj.(*appsv1.StatefulSet), old.(*appsv1.StatefulSet))
			},
			Columns: statefulSetColumns,
			Row:     func(obj Object, now time.Time) []any { return statefulSetRow(obj.(*appsv1.StatefulSet), now) },
		},
		{
			// ControllerRevision has no status and no generation in Kubernetes.
			GVK:        gv.WithKind("ControllerRevision"),
			Resource:   "controllerrevisions",
			Singular:   "controllerrevision",
			Namespaced: true,
			New:        func() Object { return &appsv1.ControllerRevision{} },
			NewList:    func() runtime.Object { return &appsv1.ControllerRevisionList{} },
			Validate: func(obj Object) field.ErrorList {
				return validateControllerRevision(obj.(*appsv1.ControllerRevision))
			},
			ValidateUpdate: func(obj, old Object) field.ErrorList {
				return validateControllerRevisionUpdate(obj.(*appsv1.ControllerRevision), old.(*appsv1.ControllerRevision))
			},
			Columns: controllerRevisionColumns,
			Row: func(obj Object, now time.Time) []any {
				return controllerRevisionRow(obj.(*appsv1.ControllerRevision), now)
			},
		},
	}
}

// replicasOrOne reads spec.replicas the way the scale subresource does:
// unset means the default of one.
func replicasOrOne(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// scaleSelector renders a workload's selector for status.selector of its
// Scale: the label-selector string form, empty when it cannot be converted.
func scaleSelector(sel *metav1.LabelSelector) string { return selectorText(sel, "") }
