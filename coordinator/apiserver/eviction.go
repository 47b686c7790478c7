package apiserver

import (
	"encoding/json"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/keel-edge/keel/coordinator/kinds"
)

var pdbGVR = policyv1.SchemeGroupVersion.WithResource("poddisruptionbudgets")

// readEviction decodes the body of POST pods/NAME/eviction: a policy/v1
// or policy/v1beta1 Eviction naming the pod.
func readEviction(data []byte, pod string) (*policyv1.Eviction, error) {
	var ev policyv1.Eviction
	if err := json.Unmarshal(data, &ev); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("Eviction in version \"v1\" cannot be handled as a Eviction: %v", err))
	}
	switch ev.APIVersion {
	case "", "policy/v1", "policy/v1beta1":
	default:
		return nil, apierrors.NewBadRequest(fmt.Sprintf("apiVersion %q of an Eviction is not policy/v1 or policy/v1beta1", ev.APIVersion))
	}
	if ev.Kind != "" && ev.Kind != "Eviction" {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("kind %q is not Eviction", ev.Kind))
	}
	if ev.Name != "" && ev.Name != pod {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("name in URL does not match name in Eviction object"))
	}
	return &ev, nil
}

// evict serves POST pods/NAME/eviction: the pod is deleted, gracefully
// as any delete, unless a PodDisruptionBudget forbids it now (429). An
// allowed eviction of a ready pod takes one disruption from its budget
// first.
func (s *Server) evict(w http.ResponseWriter, r *http.Request, rq *req) error {
	opts, err := readWrite(r, true)
	if err != nil {
		return err
	}
	ev, err := readEviction(opts.body, rq.Name)
	if err != nil {
		return err
	}
	pk, ok := s.cfg.Kinds.ByResource(pdbGVR)
	if !ok {
		return statusError(http.StatusNotFound, metav1.StatusReasonNotFound, "poddisruptionbudgets are not served: evictions are refused")
	}
	del := &metav1.DeleteOptions{}
	if ev.DeleteOptions != nil {
		del = ev.DeleteOptions.DeepCopy()
	}
	for attempt := 0; ; attempt++ {
		obj, _, err := s.read(rq.kind, rq.Namespace, rq.Name)
		if err != nil {
			return err
		}
		pod := obj.(*corev1.Pod)
		budgets, revs, err := s.budgets(pk, rq.Namespace)
		if err != nil {
			return err
		}
		d, err := decideEviction(pod, budgets, s.cfg.Now())
		if err != nil {
			return err
		}
		if d.Budget != nil {
			d.Budget.GetObjectKind().SetGroupVersionKind(pk.GVK)
			if _, err := s.commit(r.Context(), pk, "update", d.Budget, revs[d.Budget.Name], opts.dry, nil); err != nil {
				if apierrors.IsConflict(err) && attempt < updateRetries {
					continue
				}
				return err
			}
		}
		if del.Preconditions == nil {
			uid := pod.UID
			del.Preconditions = &metav1.Preconditions{UID: &uid}
		}
		if _, err := s.deleteOne(r.Context(), rq.kind, rq.Namespace, rq.Name, del, opts.dry); err != nil {
			return err
		}
		break
	}
	s.writeJSON(w, http.StatusCreated, metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status: metav1.StatusSuccess, Code: http.StatusCreated})
	return nil
}

// budgets lists the PodDisruptionBudgets of namespace ns with their
// modification revisions by name.
func (s *Server) budgets(pk *kinds.Kind, ns string) ([]*policyv1.PodDisruptionBudget, map[string]int64, error) {
	kvs, _, err := s.cfg.Store.List(Bucket(pk), listPrefix(pk, ns))
	if err != nil {
		return nil, nil, apierrors.NewInternalError(err)
	}
	out := make([]*policyv1.PodDisruptionBudget, 0, len(kvs))
	revs := make(map[string]int64, len(kvs))
	for _, kv := range kvs {
		obj, err := decodeStored(pk, kv.Value)
		if err != nil {
			return nil, nil, apierrors.NewInternalError(err)
		}
		b := obj.(*policyv1.PodDisruptionBudget)
		out = append(out, b)
		revs[b.Name] = kv.ModRevision
	}
	return out, revs, nil
}

// evictionResource is the pods/eviction entry of core discovery: kubectl
// drain looks for it, with its group and version, before evicting.
func evictionResource() metav1.APIResource {
	gv := schema.GroupVersion{Group: policyv1.GroupName, Version: "v1"}
	return metav1.APIResource{Name: "pods/eviction", Namespaced: true, Group: gv.Group, Version: gv.Version,
		Kind: "Eviction", Verbs: metav1.Verbs{"create"}}
}
