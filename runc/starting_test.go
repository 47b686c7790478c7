package runc

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestRuntime_containersLeaveOutOnesBeingStarted(t *testing.T) {
	r, err := New(TestConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	// What StartContainer records before its shim reports: no start time,
	// no exit.
	id := "0123456789abcdef01234567"
	if err := os.MkdirAll(r.ctrDir(id), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeJSONAtomic(filepath.Join(r.ctrDir(id), "meta.json"), record{ID: id, PodUID: "p", Name: "c"}); err != nil {
		t.Fatal(err)
	}
	r.setStarting(id, true)
	if got, err := r.Containers(context.Background()); err != nil || len(got) != 0 {
		t.Fatalf("while starting: %+v %v, want none (neither running nor exited yet)", got, err)
	}
	r.setStarting(id, false)
	if got, err := r.Containers(context.Background()); err != nil || len(got) != 1 || got[0].ID != id {
		t.Fatalf("after starting: %+v %v", got, err)
	}
}
