package controllers

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// podRef names one pod by namespace, name and UID.
type podRef struct {
	ns, name string
	uid      types.UID
}

// expectations remembers, per ReplicaSet key, the pods a sync created or
// deleted until the informer cache shows them, so that a stale cache never
// makes the controller create or delete the same replicas twice.
type expectations struct {
	mu  sync.Mutex
	ops map[string]*pendingOps
}

type pendingOps struct {
	adds  []podRef // created, not yet seen
	dels  []podRef // deleted, still seen
	until time.Time
}

func newExpectations() *expectations { return &expectations{ops: map[string]*pendingOps{}} }

// expect records the creations and deletions of a sync on key.
func (e *expectations) expect(key string, adds, dels []podRef, until time.Time) {
	if len(adds) == 0 && len(dels) == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.ops[key]
	if p == nil {
		p = &pendingOps{}
		e.ops[key] = p
	}
	p.adds = append(p.adds, adds...)
	p.dels = append(p.dels, dels...)
	p.until = until
}

// satisfied reports whether the cache, asked through seen, shows every
// recorded write of key, or the wait for them ran out at now.
func (e *expectations) satisfied(key string, now time.Time, seen func(podRef) bool) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.ops[key]
	if p == nil {
		return true
	}
	if now.After(p.until) {
		delete(e.ops, key)
		return true
	}
	var adds, dels []podRef
	for _, r := range p.adds {
		if !seen(r) {
			adds = append(adds, r)
		}
	}
	for _, r := range p.dels {
		if seen(r) {
			dels = append(dels, r)
		}
	}
	p.adds, p.dels = adds, dels
	if len(adds) == 0 && len(dels) == 0 {
		delete(e.ops, key)
		return true
	}
	return false
}

// forget drops what is recorded for key.
func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.ops, key)
}
