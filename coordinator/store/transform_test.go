package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"
)

// xorTransformer is a reversible stand-in for encryption: it tags and
// scrambles the value so that the plaintext never appears on disk.
type xorTransformer struct{}

var sealTag = []byte("xor1:")

func (xorTransformer) Seal(p []byte) ([]byte, error) {
	out := append([]byte{}, sealTag...)
	for _, b := range p {
		out = append(out, b^0x5a)
	}
	return out, nil
}

func (xorTransformer) Open(s []byte) ([]byte, error) {
	if !bytes.HasPrefix(s, sealTag) {
		return nil, errors.New("value not sealed")
	}
	out := make([]byte, 0, len(s)-len(sealTag))
	for _, b := range s[len(sealTag):] {
		out = append(out, b^0x5a)
	}
	return out, nil
}

func TestStore_transformerOnEveryPath(t *testing.T) {
	const (
		secret1 = "top-secret-plaintext-one"
		secret2 = "top-secret-plaintext-two"
		visible = "visible-plaintext-pod"
	)
	s := newTestStore(t, func(c *Config) {
		c.Transformers = map[string]Transformer{"secrets": xorTransformer{}}
	})
	live, err := s.Watch(context.Background(), "", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Stop()

	mustCommit(t, s, create("secrets", "ns/a", secret1), create("pods", "ns/p", visible))
	mustCommit(t, s, Op{Kind: Update, Bucket: "secrets", Key: "ns/a", Value: val(secret2)})
	mustCommit(t, s, create("secrets", "ns/b", secret1))
	mustCommit(t, s, Op{Kind: Delete, Bucket: "secrets", Key: "ns/b"})

	if kv, err := s.Get("secrets", "ns/a"); err != nil || string(kv.Value) != secret2 {
		t.Fatalf("Get = %q, %v", kv.Value, err)
	}
	if kvs, _, err := s.List("secrets", ""); err != nil || len(kvs) != 1 || string(kvs[0].Value) != secret2 {
		t.Fatalf("List = %+v, %v", kvs, err)
	}
	replay, err := s.Watch(context.Background(), "", "", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer replay.Stop()
	want := []struct{ key, value, prev string }{
		{"ns/a", secret1, ""},
		{"ns/p", visible, ""},
		{"ns/a", secret2, secret1},
		{"ns/b", secret1, ""},
		{"ns/b", "", secret1},
	}
	for name, w := range map[string]*Watcher{"live": live, "replay": replay} {
		for i, exp := range want {
			ev := next(t, w)
			if ev.Key != exp.key || string(ev.Value) != exp.value || string(ev.Prev) != exp.prev {
				t.Fatalf("%s event %d = %s %q prev %q, want %+v", name, i, ev.Key, ev.Value, ev.Prev, exp)
			}
		}
	}

	path := s.cfg.Path
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{secret1, secret2} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Fatalf("plaintext %q found in the store file", secret)
		}
	}
	// The check can see plaintext: the untransformed bucket's is there.
	if !bytes.Contains(raw, []byte(visible)) {
		t.Fatal("untransformed value missing from the store file")
	}
}

func TestStore_transformerErrors(t *testing.T) {
	errSeal := errors.New("seal refused")
	s := newTestStore(t, func(c *Config) {
		c.Transformers = map[string]Transformer{"secrets": failingTransformer{errSeal}}
	})
	_, err := s.Commit(context.Background(), create("secrets", "a", "x"))
	var opErr *OpError
	if !errors.As(err, &opErr) || !errors.Is(err, errSeal) {
		t.Fatalf("commit with a failing seal: %v", err)
	}
	if s.Revision() != 1 {
		t.Fatalf("failed seal moved the revision to %d", s.Revision())
	}
}

type failingTransformer struct{ err error }

func (f failingTransformer) Seal([]byte) ([]byte, error) { return nil, f.err }
func (f failingTransformer) Open([]byte) ([]byte, error) { return nil, f.err }
