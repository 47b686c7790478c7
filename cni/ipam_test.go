package cni

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func addrs(all []Allocation) []string {
	var out []string
	for _, a := range all {
		out = append(out, a.Addr.String()+"="+a.ContainerID)
	}
	slices.Sort(out)
	return out
}

func TestStore_allocateReleaseRestart(t *testing.T) {
	dir := t.TempDir()
	p := netip.MustParsePrefix("10.1.0.0/29") // pods .2 to .6
	s, err := OpenStore(dir, "keel", p)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		op, id string
		want   string // address or error text
	}{
		{"alloc", "a", "10.1.0.2"},
		{"alloc", "b", "10.1.0.3"},
		{"alloc", "a", "10.1.0.2"}, // idempotent
		{"release", "a", ""},
		{"alloc", "c", "10.1.0.4"}, // round-robin, not the freed .2
		{"restart", "", ""},
		{"alloc", "b", "10.1.0.3"}, // survives a restart
		{"alloc", "d", "10.1.0.5"},
		{"alloc", "e", "10.1.0.6"},
		{"alloc", "f", "10.1.0.2"}, // wraps around to the freed one
		{"alloc", "g", "no free address"},
		{"release", "zzz", ""}, // releasing nothing is fine
	}
	for i, st := range steps {
		switch st.op {
		case "alloc":
			a, err := s.Allocate(st.id, "eth0")
			got := a.String()
			if err != nil {
				got = err.Error()
				if !errors.Is(err, ErrExhausted) {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			if got != st.want && (err == nil || !strings.Contains(got, st.want)) {
				t.Fatalf("step %d: alloc %s = %s, want %s", i, st.id, got, st.want)
			}
		case "release":
			if err := s.Release(st.id, "eth0"); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		case "restart":
			if s, err = OpenStore(dir, "keel", p); err != nil {
				t.Fatal(err)
			}
		}
	}
	all, err := s.Allocations()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.1.0.2=f", "10.1.0.3=b", "10.1.0.4=c", "10.1.0.5=d", "10.1.0.6=e"}
	if got := addrs(all); !slices.Equal(got, want) {
		t.Fatalf("allocations = %v, want %v", got, want)
	}
	if a, ok, err := s.Lookup("c", "eth0"); err != nil || !ok || a.String() != "10.1.0.4" {
		t.Fatalf("lookup c = %v %v %v", a, ok, err)
	}
	if _, ok, err := s.Lookup("c", "eth1"); err != nil || ok {
		t.Fatalf("lookup c/eth1 = %v %v", ok, err)
	}
}

func TestStore_gcKeepsValidAndFreesTorn(t *testing.T) {
	s, err := OpenStore(t.TempDir(), "keel", netip.MustParsePrefix("10.2.0.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"keep", "drop"} {
		if _, err := s.Allocate(id, "eth0"); err != nil {
			t.Fatal(err)
		}
	}
	// A file a crash cut short before its owner was written.
	if err := os.WriteFile(filepath.Join(s.Dir(), "10.2.0.9"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	freed, err := s.GC(func(id string) bool { return id == "keep" })
	if err != nil {
		t.Fatal(err)
	}
	if got := addrs(freed); !slices.Equal(got, []string{"10.2.0.3=drop", "10.2.0.9="}) {
		t.Fatalf("freed = %v", got)
	}
	all, _ := s.Allocations()
	if got := addrs(all); !slices.Equal(got, []string{"10.2.0.2=keep"}) {
		t.Fatalf("left = %v", got)
	}
}

func TestStore_concurrentStoresNeverShareAnAddress(t *testing.T) {
	dir := t.TempDir()
	p := netip.MustParsePrefix("10.3.0.0/24")
	const n = 50
	got := make([]netip.Addr, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// Each goroutine opens its own store, as separate plugin
			// processes do; only the file lock orders them.
			s, err := OpenStore(dir, "keel", p)
			if err == nil {
				got[i], err = s.Allocate(fmt.Sprintf("c%d", i), "eth0")
			}
			errs[i] = err
		})
	}
	wg.Wait()
	seen := map[netip.Addr]bool{}
	for i, a := range got {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if seen[a] {
			t.Fatalf("%s allocated twice", a)
		}
		seen[a] = true
	}
}

func TestHostRange_families(t *testing.T) {
	tests := []struct {
		prefix, first, last string
		capacity            int
	}{
		{"10.0.0.0/24", "10.0.0.2", "10.0.0.254", 253},
		{"10.0.0.0/30", "10.0.0.2", "10.0.0.2", 1},
		{"fd00::/120", "fd00::2", "fd00::ff", 254},
		{"fd00::/64", "fd00::2", "fd00::ffff:ffff:ffff:ffff", maxScan},
	}
	for _, tt := range tests {
		p := netip.MustParsePrefix(tt.prefix)
		first, last := hostRange(p)
		s := &Store{prefix: p}
		if first.String() != tt.first || last.String() != tt.last || s.Capacity() != tt.capacity {
			t.Errorf("%s: %s..%s cap %d, want %s..%s cap %d", tt.prefix, first, last, s.Capacity(), tt.first, tt.last, tt.capacity)
		}
	}
}
