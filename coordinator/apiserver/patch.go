package apiserver

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/keel-edge/keel/coordinator/kinds"
)

// patchType is a PATCH body's content type.
type patchType string

const (
	patchJSON      patchType = "application/json-patch+json"
	patchMerge     patchType = "application/merge-patch+json"
	patchStrategic patchType = "application/strategic-merge-patch+json"
	patchApply     patchType = "application/apply-patch+yaml"
)

// applyPatch applies a patch document to the JSON of an object; schema is
// the Go type strategic merge reads its patch strategies from.
func applyPatch(pt patchType, current, patch []byte, schema any) ([]byte, error) {
	switch pt {
	case patchJSON:
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("json patch: %v", err))
		}
		out, err := p.Apply(current)
		if err != nil {
			return nil, statusError(http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, fmt.Sprintf("json patch: %v", err))
		}
		return out, nil
	case patchMerge:
		out, err := jsonpatch.MergePatch(current, patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("merge patch: %v", err))
		}
		return out, nil
	case patchStrategic:
		var probe map[string]any
		if err := json.Unmarshal(patch, &probe); err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("strategic merge patch is not a JSON object: %v", err))
		}
		out, err := strategicpatch.StrategicMergePatch(current, patch, schema)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("strategic merge patch: %v", err))
		}
		return out, nil
	case patchApply:
		return nil, errUnsupportedMediaType(string(pt) + " (server-side apply is not served; use client-side kubectl apply)")
	}
	return nil, errUnsupportedMediaType(string(pt))
}

func (s *Server) patch(w http.ResponseWriter, r *http.Request, rq *req) error {
	k := rq.kind
	opts, err := readWrite(r, false)
	if err != nil {
		return err
	}
	validation, dry, body := opts.validation, opts.dry, opts.body
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	pt := patchType(mt)
	if pt == patchApply {
		_, err := applyPatch(pt, nil, body, nil)
		return err
	}
	if rq.Subresource == "scale" {
		return s.writeScale(w, r, rq, dry, func(cur kinds.Object) (int32, string, error) {
			view, err := json.Marshal(k.ScaleOf(cur))
			if err != nil {
				return 0, "", apierrors.NewInternalError(err)
			}
			out, err := applyPatch(pt, view, body, &autoscalingv1.Scale{})
			if err != nil {
				return 0, "", err
			}
			sc, err := decodeScale(out)
			if err != nil {
				return 0, "", err
			}
			return sc.Spec.Replicas, changedRV(sc.ResourceVersion, cur), nil
		})
	}
	var warnings []string
	out, err := s.guaranteedUpdate(r.Context(), rq, dry, func(cur kinds.Object) (kinds.Object, string, error) {
		current, err := json.Marshal(cur)
		if err != nil {
			return nil, "", apierrors.NewInternalError(err)
		}
		patched, err := applyPatch(pt, current, body, k.New())
		if err != nil {
			return nil, "", err
		}
		next, warns, err := decodeObject(k, patched, validation)
		if err != nil {
			return nil, "", err
		}
		warnings = warns
		return next, changedRV(next.GetResourceVersion(), cur), nil
	})
	if err != nil {
		return err
	}
	warn(w, warnings)
	return s.writeObjects(w, r, rq, http.StatusOK, []kinds.Object{out}, "", true)
}

// changedRV is the resourceVersion a patch asks for as a precondition: one
// it wrote that differs from the current one.
func changedRV(patched string, cur kinds.Object) string {
	if patched == cur.GetResourceVersion() {
		return ""
	}
	if patched == "" {
		return ""
	}
	return patched
}
