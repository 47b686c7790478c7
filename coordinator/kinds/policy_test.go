package kinds

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func validPDB() *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromInt32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}
}

func TestValidatePDB(t *testing.T) {
	for _, tt := range []struct {
		name   string
		mutate func(*policyv1.PodDisruptionBudget)
		want   string
	}{
		{"valid", func(*policyv1.PodDisruptionBudget) {}, ""},
		{"both bounds", func(p *policyv1.PodDisruptionBudget) { p.Spec.MaxUnavailable = ptr.To(intstr.FromString("10%")) }, "spec"},
		{"negative", func(p *policyv1.PodDisruptionBudget) { p.Spec.MinAvailable = ptr.To(intstr.FromInt32(-1)) }, "spec.minAvailable"},
		{"over 100%", func(p *policyv1.PodDisruptionBudget) {
			p.Spec.MinAvailable, p.Spec.MaxUnavailable = nil, ptr.To(intstr.FromString("150%"))
		}, "spec.maxUnavailable"},
		{"bad percent", func(p *policyv1.PodDisruptionBudget) { p.Spec.MinAvailable = ptr.To(intstr.FromString("ten")) }, "spec.minAvailable"},
		{"bad selector", func(p *policyv1.PodDisruptionBudget) { p.Spec.Selector.MatchLabels = map[string]string{"a b": "c"} }, "spec.selector.matchLabels"},
		{"bad policy", func(p *policyv1.PodDisruptionBudget) {
			p.Spec.UnhealthyPodEvictionPolicy = ptr.To(policyv1.UnhealthyPodEvictionPolicyType("Never"))
		}, "spec.unhealthyPodEvictionPolicy"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := validPDB()
			tt.mutate(p)
			errs := validatePDB(p)
			got := ""
			if len(errs) > 0 {
				got = errs[0].Field
			}
			if got != tt.want {
				t.Fatalf("errors %v, want the first on %q", errs, tt.want)
			}
		})
	}
}

func TestPDBRow(t *testing.T) {
	reg, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	k, ok := reg.ByResource(policyv1.SchemeGroupVersion.WithResource("poddisruptionbudgets"))
	if !ok || k.ShortNames[0] != "pdb" {
		t.Fatal("poddisruptionbudgets not registered as pdb")
	}
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	p := validPDB()
	p.CreationTimestamp = metav1.NewTime(now.Add(-time.Hour))
	p.Status.DisruptionsAllowed = 2
	if got := fmt.Sprint(k.Row(p, now)); got != "[1 N/A 2 60m]" {
		t.Fatalf("row %s", got)
	}
	p.Spec.MinAvailable, p.Spec.MaxUnavailable = nil, ptr.To(intstr.FromString("25%"))
	if got := fmt.Sprint(k.Row(p, now)); got != "[N/A 25% 2 60m]" {
		t.Fatalf("row %s", got)
	}
}

// FuzzPDB decodes arbitrary JSON into a PodDisruptionBudget and runs its
// validation and table row; none may panic.
func FuzzPDB(f *testing.F) {
	for _, s := range []string{
		`{"metadata":{"name":"web"},"spec":{"minAvailable":1,"selector":{"matchLabels":{"app":"web"}}}}`,
		`{"spec":{"minAvailable":"50%","maxUnavailable":"x%","selector":{"matchExpressions":[{"key":"a","operator":"In"}]},"unhealthyPodEvictionPolicy":"Never"}}`,
		`{"spec":{"maxUnavailable":-1},"status":{"disruptionsAllowed":-3,"disruptedPods":{"a":"2024-01-01T00:00:00Z"}}}`,
		`{}`,
	} {
		f.Add([]byte(s))
	}
	k := policyKinds()[0]
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		obj := k.New()
		if err := json.Unmarshal(data, obj); err != nil {
			return
		}
		old := obj.DeepCopyObject().(Object)
		_ = k.Validate(obj)
		_ = k.ValidateUpdate(obj, old)
		if cells := k.Row(obj, now); len(cells) != len(k.Columns) {
			t.Fatalf("%d cells for %d columns", len(cells), len(k.Columns))
		}
	})
}
