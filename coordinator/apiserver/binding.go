package apiserver

import (
	"encoding/json"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/keel-edge/keel/coordinator/kinds"
)

// bind serves POST pods/NAME/binding: it sets spec.nodeName of a pod that
// has none, once, as the scheduler's decision. The answer is a Success
// Status, as Kubernetes gives.
func (s *Server) bind(w http.ResponseWriter, r *http.Request, rq *req) error {
	opts, err := readWrite(r, true)
	if err != nil {
		return err
	}
	var b corev1.Binding
	if err := json.Unmarshal(opts.body, &b); err != nil {
		return apierrors.NewBadRequest(fmt.Sprintf("Binding in version \"v1\" cannot be handled as a Binding: %v", err))
	}
	if b.Name != "" && b.Name != rq.Name {
		return apierrors.NewBadRequest(fmt.Sprintf("the name of the binding (%s) does not match the pod (%s)", b.Name, rq.Name))
	}
	gk := corev1.SchemeGroupVersion.WithKind("Binding").GroupKind()
	if b.Target.Name == "" {
		return apierrors.NewInvalid(gk, rq.Name, field.ErrorList{field.Required(field.NewPath("target", "name"), "")})
	}
	if b.Target.Kind != "" && b.Target.Kind != "Node" {
		return apierrors.NewInvalid(gk, rq.Name, field.ErrorList{field.NotSupported(field.NewPath("target", "kind"), b.Target.Kind, []string{"Node"})})
	}
	_, err = s.guaranteedUpdate(r.Context(), rq, opts.dry, func(cur kinds.Object) (kinds.Object, string, error) {
		pod := cur.(*corev1.Pod)
		if b.UID != "" && b.UID != pod.UID {
			return nil, "", apierrors.NewConflict(qualifiedResource(rq.kind), rq.Name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", b.UID, pod.UID))
		}
		if pod.Spec.NodeName != "" {
			return nil, "", apierrors.NewConflict(qualifiedResource(rq.kind), rq.Name, fmt.Errorf("pod %s is already assigned to node %q", rq.Name, pod.Spec.NodeName))
		}
		if pod.DeletionTimestamp != nil {
			return nil, "", apierrors.NewConflict(qualifiedResource(rq.kind), rq.Name, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", rq.Name))
		}
		pod.Spec.NodeName = b.Target.Name
		setCondition(pod, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(s.cfg.Now().Truncate(1e9))})
		return pod, "", nil
	})
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusCreated, metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess, Code: http.StatusCreated})
	return nil
}

// setCondition replaces or adds a pod condition. Binding writes the
// PodScheduled condition with the node, as the scheduler's binding does.
func setCondition(pod *corev1.Pod, c corev1.PodCondition) {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == c.Type {
			pod.Status.Conditions[i] = c
			return
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, c)
}
