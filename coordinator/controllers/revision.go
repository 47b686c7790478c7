package controllers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// templatePatch is the data of a ControllerRevision of a DaemonSet or
// StatefulSet: a strategic merge patch that puts template back, which is
// what `kubectl rollout undo` applies to the owner.
func templatePatch(template *corev1.PodTemplateSpec) []byte {
	type replace struct {
		corev1.PodTemplateSpec
		Patch string `json:"$patch"`
	}
	type spec struct {
		Template replace `json:"template"`
	}
	return mustJSON(map[string]spec{"spec": {Template: replace{*template, "replace"}}})
}

// newRevision is a ControllerRevision of owner holding data, labelled
// with the template's labels and extra, carrying owner's annotations (so
// that kubectl shows their change-cause).
func newRevision(owner metav1.Object, kind schema.GroupVersionKind, name string, data []byte,
	templateLabels map[string]string, extra map[string]string) *appsv1.ControllerRevision {
	labels := map[string]string{}
	for k, v := range templateLabels {
		labels[k] = v
	}
	for k, v := range extra {
		labels[k] = v
	}
	var ann map[string]string
	if len(owner.GetAnnotations()) > 0 {
		ann = map[string]string{}
		for k, v := range owner.GetAnnotations() {
			ann[k] = v
		}
	}
	return &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name:            name,
			Namespace:       owner.GetNamespace(),
			Labels:          labels,
			Annotations:     ann,
			OwnerReferences: []metav1.OwnerReference{controllerRef(owner, kind)},
		},
		Data: runtime.RawExtension{Raw: data},
	}
}

// RevisionPlan is what to do with an owner's ControllerRevisions so that
// one of them, Current, holds its template with the highest revision
// number.
type RevisionPlan struct {
	// Current is the revision of the owner's template: an existing one,
	// or Create when it must be created first.
	Current *appsv1.ControllerRevision
	// Create asks for Current to be created.
	Create bool
	// Renumber asks for Current, an older revision whose template came
	// back (a rollback), to be updated to its new revision number.
	Renumber bool
	// Delete are duplicates of Current and old revisions beyond the
	// history limit that no pod uses.
	Delete []*appsv1.ControllerRevision
}

// planRevisions compares the revisions owner controls (owned) with want,
// the revision of its template as newRevision makes it. inUse tells the
// revisions live pods (or the owner's status) still refer to; the oldest
// others beyond limit are deleted.
func planRevisions(owned []*appsv1.ControllerRevision, want *appsv1.ControllerRevision, inUse func(*appsv1.ControllerRevision) bool, limit int32) RevisionPlan {
	revs := append([]*appsv1.ControllerRevision(nil), owned...)
	sort.SliceStable(revs, func(i, j int) bool {
		if revs[i].Revision != revs[j].Revision {
			return revs[i].Revision < revs[j].Revision
		}
		return revs[i].Name < revs[j].Name
	})
	var maxRev int64
	var equal, old []*appsv1.ControllerRevision
	for _, r := range revs {
		maxRev = max(maxRev, r.Revision)
		if sameData(r.Data.Raw, want.Data.Raw) {
			equal = append(equal, r)
		} else {
			old = append(old, r)
		}
	}
	var plan RevisionPlan
	switch n := len(equal); {
	case n == 0:
		cur := want.DeepCopy()
		cur.Revision = maxRev + 1
		plan.Current, plan.Create = cur, true
	default:
		cur := equal[n-1].DeepCopy()
		plan.Delete = append(plan.Delete, equal[:n-1]...)
		if cur.Revision < maxRev {
			cur.Revision = maxRev + 1
			plan.Renumber = true
		}
		plan.Current = cur
	}
	var deletable []*appsv1.ControllerRevision
	for _, r := range old {
		if !inUse(r) {
			deletable = append(deletable, r)
		}
	}
	if extra := len(deletable) - int(max(limit, 0)); extra > 0 {
		plan.Delete = append(plan.Delete, deletable[:extra]...)
	}
	return plan
}

// sameData compares two revisions' data as JSON values.
func sameData(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return bytes.Equal(ja, jb)
}

// revisionName is the name of an owner's revision with hash.
func revisionName(owner, hash string) string { return fmt.Sprintf("%s-%s", owner, hash) }
