package controllers

import (
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func ref(uid types.UID, block bool) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: string(uid), UID: uid, BlockOwnerDeletion: ptr.To(block)}
}

func node(name string, deleting bool, fins []string, owners ...metav1.OwnerReference) gcNode {
	return gcNode{Resource: "pods", Namespace: "default", Name: name, UID: types.UID(name), Deleting: deleting, Finalizers: fins, Owners: owners}
}

// describe writes actions as "delete x Background", "unown x [a b]",
// "unfinalize x orphan", joined by "; ".
func describe(acts []gcAction) string {
	var out []string
	for _, a := range acts {
		switch a.Kind {
		case gcDelete:
			out = append(out, fmt.Sprintf("delete %s %s", a.Target.Name, a.Policy))
		case gcRemoveOwners:
			out = append(out, fmt.Sprintf("unown %s %v", a.Target.Name, a.OwnerUIDs))
		case gcRemoveFinalizer:
			out = append(out, fmt.Sprintf("unfinalize %s %s", a.Target.Name, a.Finalizer))
		}
	}
	return strings.Join(out, "; ")
}

func TestDecideGC_decisions(t *testing.T) {
	orphanFin := []string{metav1.FinalizerOrphanDependents}
	fgFin := []string{metav1.FinalizerDeleteDependents}
	for _, tc := range []struct {
		name   string
		obj    gcNode
		owners map[types.UID]ownerState
		deps   []gcNode
		want   string
	}{
		{name: "no owners", obj: node("p", false, nil), want: ""},
		{name: "owner present", obj: node("p", false, nil, ref("rs", true)),
			owners: map[types.UID]ownerState{"rs": ownerSolid}, want: ""},
		{name: "owner gone: background", obj: node("p", false, nil, ref("rs", true)),
			owners: map[types.UID]ownerState{"rs": ownerAbsent}, want: "delete p Background"},
		{name: "one of two owners gone: reference removed", obj: node("p", false, nil, ref("a", false), ref("b", false)),
			owners: map[types.UID]ownerState{"a": ownerSolid, "b": ownerAbsent}, want: "unown p [b]"},
		{name: "all owners gone", obj: node("p", false, nil, ref("a", false), ref("b", false)),
			owners: map[types.UID]ownerState{"a": ownerAbsent, "b": ownerAbsent}, want: "delete p Background"},
		{name: "owner waiting, dependent has dependents: foreground", obj: node("rs", false, nil, ref("d", true)),
			owners: map[types.UID]ownerState{"d": ownerWaiting}, deps: []gcNode{node("p", false, nil, ref("rs", true))},
			want: "delete rs Foreground"},
		{name: "owner waiting, leaf dependent: background", obj: node("p", false, nil, ref("rs", true)),
			owners: map[types.UID]ownerState{"rs": ownerWaiting}, want: "delete p Background"},
		{name: "owner waiting, another solid: reference removed", obj: node("p", false, nil, ref("a", true), ref("b", false)),
			owners: map[types.UID]ownerState{"a": ownerWaiting, "b": ownerSolid}, want: "unown p [a]"},
		{name: "orphaned owner's own policy kept", obj: node("rs", false, orphanFin, ref("d", true)),
			owners: map[types.UID]ownerState{"d": ownerAbsent}, want: "delete rs Orphan"},
		{name: "deleting with orphan: references removed, then the finalizer", obj: node("rs", true, orphanFin),
			deps: []gcNode{node("p1", false, nil, ref("rs", true)), node("p2", true, nil, ref("rs", true))},
			want: "unown p1 [rs]; unown p2 [rs]; unfinalize rs orphan"},
		{name: "deleting with orphan, no dependents", obj: node("rs", true, orphanFin), want: "unfinalize rs orphan"},
		{name: "foreground waits for blocking dependents", obj: node("rs", true, fgFin),
			deps: []gcNode{node("p1", true, nil, ref("rs", true))}, want: ""},
		{name: "foreground does not wait for non-blocking dependents", obj: node("rs", true, fgFin),
			deps: []gcNode{node("p1", false, nil, ref("rs", false))}, want: "unfinalize rs foregroundDeletion"},
		{name: "foreground done", obj: node("rs", true, fgFin), want: "unfinalize rs foregroundDeletion"},
		{name: "both finalizers: orphan wins", obj: node("rs", true, []string{"foregroundDeletion", "orphan"}),
			deps: []gcNode{node("p1", false, nil, ref("rs", true))}, want: "unown p1 [rs]; unfinalize rs orphan"},
		{name: "deleting without collector finalizers", obj: node("rs", true, []string{"example.com/x"}, ref("d", true)),
			owners: map[types.UID]ownerState{"d": ownerAbsent}, want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := describe(decideGC(tc.obj, tc.owners, tc.deps)); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestOwnerStateOf(t *testing.T) {
	now := metav1.Now()
	for _, tc := range []struct {
		meta metav1.ObjectMeta
		want ownerState
	}{
		{metav1.ObjectMeta{}, ownerSolid},
		{metav1.ObjectMeta{DeletionTimestamp: &now, Finalizers: []string{"orphan"}}, ownerSolid},
		{metav1.ObjectMeta{DeletionTimestamp: &now, Finalizers: []string{"foregroundDeletion"}}, ownerWaiting},
		{metav1.ObjectMeta{Finalizers: []string{"foregroundDeletion"}}, ownerSolid},
	} {
		if got := ownerStateOf(&tc.meta); got != tc.want {
			t.Errorf("%+v: got %v, want %v", tc.meta, got, tc.want)
		}
	}
}
