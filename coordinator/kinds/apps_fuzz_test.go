package kinds

import (
	"encoding/json"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// workloadKinds are the kinds this fuzz target exercises: apps/v1 and
// batch/v1.
func workloadKinds() []*Kind { return append(appsKinds(), batchKinds()...) }

// FuzzWorkloadKinds decodes arbitrary JSON into every workload kind and
// runs each of its hooks; none may panic, and a Scale Set must be read back.
func FuzzWorkloadKinds(f *testing.F) {
	dep := webDeployment()
	dep.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{}
	sts := webStatefulSet()
	sts.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: 2}
	job := piJob()
	job.Spec.PodFailurePolicy = nil
	cj := nightlyCronJob()
	cj.Spec.TimeZone = ptr.To("Asia/Tokyo")
	cr := &appsv1.ControllerRevision{Data: runtime.RawExtension{Raw: []byte(`{"a":1}`)}, Revision: 3}
	seeds := []any{dep, webReplicaSet(), webDaemonSet(), sts, cr, job, cj}
	for i, s := range seeds {
		b, err := json.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), b)
	}
	for i := range len(seeds) {
		f.Add(uint8(i), []byte(`{}`))
		f.Add(uint8(i), []byte(`{"spec":{"selector":{"matchExpressions":[{"key":"a","operator":"In"}]},"replicas":-1}}`))
		f.Add(uint8(i), []byte(`{"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"x%","maxUnavailable":"%"}},`+
			`"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"200%","partition":-3}},`+
			`"schedule":"TZ=Nowhere * * * * *","timeZone":"","completionMode":"Indexed",`+
			`"podFailurePolicy":{"rules":[{"onExitCodes":{"values":[]}}]},"successPolicy":{"rules":[{}]},`+
			`"jobTemplate":{"spec":{"selector":{}}}},"status":{"lastScheduleTime":null,"startTime":"2024-01-01T00:00:00Z"}}`))
	}
	kinds := workloadKinds()
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		k := kinds[int(which)%len(kinds)]
		obj := k.New()
		if err := json.Unmarshal(data, obj); err != nil {
			return
		}
		old := obj.DeepCopyObject().(Object)
		if k.Default != nil {
			k.Default(obj)
		}
		_ = k.Validate(obj)
		if k.ValidateUpdate != nil {
			_ = k.ValidateUpdate(obj, old)
			_ = k.ValidateUpdate(old, obj)
		}
		if cells := k.Row(obj, workloadNow); len(cells) != len(k.Columns) {
			t.Fatalf("%s: %d cells for %d columns", k.Resource, len(cells), len(k.Columns))
		}
		if k.Fields != nil {
			_ = k.Fields(obj)
		}
		if k.Scale != nil {
			_ = k.ScaleOf(obj)
			k.Scale.Set(obj, 4)
			if spec, _, _ := k.Scale.Get(obj); spec != 4 {
				t.Fatalf("%s: scale set 4, read %d", k.Resource, spec)
			}
		}
	})
}
