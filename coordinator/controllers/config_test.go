package controllers

import (
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"
)

func TestConfig_validate(t *testing.T) {
	cs := fake.NewClientset()
	if err := DefaultConfig(cs).Validate(); err != nil {
		t.Fatalf("default: %v", err)
	}
	if err := TestConfig(cs).Validate(); err != nil {
		t.Fatalf("test config: %v", err)
	}
	for name, mutate := range map[string]func(*Config){
		"no client":  func(c *Config) { c.Client = nil },
		"no workers": func(c *Config) { c.Workers = 0 },
		"no timeout": func(c *Config) { c.ExpectationTimeout = 0 },
	} {
		c := DefaultConfig(cs)
		mutate(&c)
		if c.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestExpectations_waitForTheCache(t *testing.T) {
	e := newExpectations()
	cache := map[string]bool{"old": true}
	seen := func(r podRef) bool { return cache[r.name] }
	e.expect("ns/rs", []podRef{{ns: "ns", name: "new"}}, []podRef{{ns: "ns", name: "old"}}, t0.Add(time.Minute))
	if e.satisfied("ns/rs", t0, seen) {
		t.Fatal("satisfied before the cache saw anything")
	}
	cache["new"] = true
	if e.satisfied("ns/rs", t0, seen) {
		t.Fatal("satisfied while the deleted pod is still cached")
	}
	delete(cache, "old")
	if !e.satisfied("ns/rs", t0, seen) {
		t.Fatal("not satisfied once the cache caught up")
	}
	e.expect("ns/rs", []podRef{{ns: "ns", name: "never"}}, nil, t0.Add(time.Minute))
	if !e.satisfied("ns/rs", t0.Add(2*time.Minute), seen) {
		t.Fatal("an expired wait still blocks")
	}
}
