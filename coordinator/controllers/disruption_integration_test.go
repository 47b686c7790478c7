package controllers_test

import (
	"context"
	"testing"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func TestDisruption_budgetStatusAndEviction(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	if _, err := c.cs.AppsV1().Deployments("default").Create(ctx, webDeployment("web", 3), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "3 available", rolledOut(c.cs, "web", 3))
	pdbs := c.cs.PolicyV1().PodDisruptionBudgets("default")
	if _, err := pdbs.Create(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr.To(intstr.FromInt32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	allows := func(n int32) func(ctx context.Context) (bool, error) {
		return func(ctx context.Context) (bool, error) {
			p, err := pdbs.Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			s := p.Status
			return s.ObservedGeneration == p.Generation && s.ExpectedPods == 3 && s.DesiredHealthy == 2 &&
				s.CurrentHealthy == 3 && s.DisruptionsAllowed == n && len(s.Conditions) == 1 &&
				s.Conditions[0].Type == policyv1.DisruptionAllowedCondition && s.Conditions[0].Reason == policyv1.SufficientPodsReason, nil
		}
	}
	waitFor(t, "budget allows one disruption", allows(1))
	victim := podsOf(t, c.cs, "web")[0]
	if err := c.cs.CoreV1().Pods("default").EvictV1(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: victim.Name, Namespace: "default"}}); err != nil {
		t.Fatalf("eviction: %v", err)
	}
	// The ReplicaSet replaces the pod and the budget recovers.
	waitFor(t, "budget recovered with a replacement", func(ctx context.Context) (bool, error) {
		ok, err := allows(1)(ctx)
		if !ok || err != nil {
			return false, err
		}
		for _, p := range podsOf(t, c.cs, "web") {
			if p.UID == victim.UID {
				return false, nil
			}
		}
		return true, nil
	})
}
