package kinds

import (
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestLease_validate(t *testing.T) {
	tests := []struct {
		name string
		spec coordinationv1.LeaseSpec
		want string
	}{
		{"valid", coordinationv1.LeaseSpec{HolderIdentity: ptr.To("n1"), LeaseDurationSeconds: ptr.To[int32](40)}, ""},
		{"zero duration", coordinationv1.LeaseSpec{LeaseDurationSeconds: ptr.To[int32](0)}, "spec.leaseDurationSeconds"},
		{"negative transitions", coordinationv1.LeaseSpec{LeaseTransitions: ptr.To[int32](-1)}, "spec.leaseTransitions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := validateLease(&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "n1", Namespace: "kube-node-lease"}, Spec: tt.spec})
			switch {
			case tt.want == "" && len(errs) > 0:
				t.Fatalf("unexpected: %v", errs)
			case tt.want != "" && (len(errs) != 1 || errs[0].Field != tt.want):
				t.Fatalf("got %v, want one error at %s", errs, tt.want)
			}
		})
	}
}
