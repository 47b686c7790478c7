package agent

import (
	"path/filepath"
	"reflect"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestLocalState_roundTripAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	l, err := openLocalState(path)
	if err != nil {
		t.Fatal(err)
	}
	st := admitted(testPod("u1", "Always", nil, "a"))
	st.Sandbox.PodIPs = []string{"10.244.0.2"}
	st.record("a").Streak = 3
	st.record("a").Failure = &failure{Reason: "ErrImagePull", Message: "m", At: t0}
	if err := l.save("u1", st); err != nil {
		t.Fatal(err)
	}
	if err := l.save("u2", admitted(testPod("u2", "Never", nil, "b"))); err != nil {
		t.Fatal(err)
	}
	if err := l.forget("u2"); err != nil {
		t.Fatal(err)
	}
	if err := l.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(podsBucket).Put([]byte("junk"), []byte("{")) }); err != nil {
		t.Fatal(err)
	}
	l.close()
	l, err = openLocalState(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	got, bad, err := l.load()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !reflect.DeepEqual(bad, []string{"junk"}) {
		t.Fatalf("loaded %v, bad %v", got, bad)
	}
	g := got["u1"]
	if g.Pod.Name != "p-u1" || !g.Admitted || g.Sandbox.PodIPs[0] != "10.244.0.2" || g.Containers["a"].Streak != 3 ||
		!g.Containers["a"].Failure.At.Equal(t0) {
		t.Fatalf("state %+v", g)
	}
}
