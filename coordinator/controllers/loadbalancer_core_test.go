package controllers

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// lbSvc is a test service: "name" of type LoadBalancer created at minute
// age, holding ip when it is set.
type lbSvc struct {
	name  string
	age   int
	typ   corev1.ServiceType
	class string
	req   string
	held  string
	v6    bool
}

func (s lbSvc) build() *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: s.name,
			CreationTimestamp: metav1.NewTime(time.Date(2026, 1, 1, 0, s.age, 0, 0, time.UTC))},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerIP: s.req},
	}
	if s.typ != "" {
		svc.Spec.Type = s.typ
	}
	if s.class != "" {
		svc.Spec.LoadBalancerClass = ptr.To(s.class)
	}
	if s.v6 {
		svc.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol}
	}
	if s.held != "" {
		svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: s.held, IPMode: ptr.To(corev1.LoadBalancerIPModeVIP)}}
	}
	return svc
}

// lbSummary renders decisions as "name=ip" (or "name=-"), with "!" when the
// status changes and the event's reason after a colon, sorted by name.
func lbSummary(ds []lbDecision) string {
	var out []string
	for _, d := range ds {
		ip := "-"
		if len(d.Ingress) > 0 {
			ip = d.Ingress[0].IP
		}
		s := d.Service.Name + "=" + ip
		if d.Changed {
			s += "!"
		}
		if d.Event != nil {
			s += ":" + d.Event.Reason
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func TestDecideLoadBalancers(t *testing.T) {
	tests := []struct {
		name string
		pool string
		svcs []lbSvc
		want string
		msg  string // a substring of some event's message
	}{
		{name: "lowest free addresses, oldest first", pool: "10.0.0.1-10.0.0.3",
			svcs: []lbSvc{{name: "b", age: 2}, {name: "a", age: 1}, {name: "c", age: 3, typ: corev1.ServiceTypeClusterIP}},
			want: "a=10.0.0.1!:IPAllocated b=10.0.0.2!:IPAllocated", msg: `Assigned IP ["10.0.0.1"]`},
		{name: "held addresses are kept and skipped", pool: "10.0.0.1-10.0.0.3",
			svcs: []lbSvc{{name: "a", age: 1, held: "10.0.0.2"}, {name: "b", age: 2}},
			want: "b=10.0.0.1!:IPAllocated"},
		{name: "nothing to do when every service holds its address", pool: "10.0.0.0/30",
			svcs: []lbSvc{{name: "a", held: "10.0.0.0"}, {name: "b", held: "10.0.0.3"}}, want: ""},
		{name: "no pool", pool: "",
			svcs: []lbSvc{{name: "a"}}, want: "a=-:AllocationFailed", msg: "no load balancer address pool is configured"},
		{name: "exhausted", pool: "10.0.0.1",
			svcs: []lbSvc{{name: "a", age: 1}, {name: "b", age: 2}},
			want: "a=10.0.0.1!:IPAllocated b=-:AllocationFailed", msg: `Failed to allocate IP for "default/b": no available IPs`},
		{name: "requested address in the pool and free", pool: "10.0.0.1-10.0.0.3",
			svcs: []lbSvc{{name: "a", age: 1}, {name: "b", age: 2, req: "10.0.0.1"}},
			want: "a=10.0.0.2!:IPAllocated b=10.0.0.1!:IPAllocated"},
		{name: "requested address held by another", pool: "10.0.0.1-10.0.0.3",
			svcs: []lbSvc{{name: "a", age: 1, held: "10.0.0.1"}, {name: "b", age: 2, req: "10.0.0.1"}},
			want: "b=-:AllocationFailed", msg: "requested IP 10.0.0.1 is already in use by default/a"},
		{name: "requested address outside the pool", pool: "10.0.0.1-10.0.0.3",
			svcs: []lbSvc{{name: "a", req: "192.168.0.1"}},
			want: "a=-:AllocationFailed", msg: "requested IP 192.168.0.1 is not allowed in config"},
		{name: "requested address changed", pool: "10.0.0.1-10.0.0.3",
			svcs: []lbSvc{{name: "a", held: "10.0.0.1", req: "10.0.0.3"}},
			want: "a=10.0.0.3!:IPAllocated"},
		{name: "garbage requested", pool: "10.0.0.1-10.0.0.3",
			svcs: []lbSvc{{name: "a", req: "ten"}}, want: "a=-:AllocationFailed", msg: `requested IP "ten" is not an IP address`},
		{name: "held address no longer in the pool is replaced", pool: "10.0.1.0/24",
			svcs: []lbSvc{{name: "a", held: "10.0.0.1"}}, want: "a=10.0.1.0!:IPAllocated"},
		{name: "two holders of one address: the older keeps it", pool: "10.0.0.1-10.0.0.2",
			svcs: []lbSvc{{name: "young", age: 5, held: "10.0.0.1"}, {name: "old", age: 1, held: "10.0.0.1"}},
			want: "young=10.0.0.2!:IPAllocated"},
		{name: "same age: by name", pool: "10.0.0.1-10.0.0.2",
			svcs: []lbSvc{{name: "z"}, {name: "m"}},
			want: "m=10.0.0.1!:IPAllocated z=10.0.0.2!:IPAllocated"},
		{name: "type change releases", pool: "10.0.0.1-10.0.0.2",
			svcs: []lbSvc{{name: "a", typ: corev1.ServiceTypeClusterIP, held: "10.0.0.1"}, {name: "b", age: 1}},
			want: "a=-!:IPReleased b=10.0.0.1!:IPAllocated", msg: `Released ["10.0.0.1"]`},
		{name: "another class is left alone, ours is served", pool: "10.0.0.1-10.0.0.2",
			svcs: []lbSvc{{name: "theirs", class: "example.com/lb", held: "10.0.0.1"}, {name: "ours", class: LoadBalancerClass}},
			want: "ours=10.0.0.1!:IPAllocated"},
		{name: "IPv6 services get IPv6 addresses", pool: "10.0.0.1,fd00::10-fd00::11",
			svcs: []lbSvc{{name: "four", age: 1}, {name: "six", age: 2, v6: true}, {name: "six-held", v6: true, held: "10.0.0.1"}},
			want: "four=10.0.0.1!:IPAllocated six-held=fd00::10!:IPAllocated six=fd00::11!:IPAllocated"},
		{name: "IPv6 exhausted", pool: "10.0.0.1",
			svcs: []lbSvc{{name: "six", v6: true}}, want: "six=-:AllocationFailed", msg: "every IPv6 address of the pool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool, err := ParseLoadBalancerPool(tt.pool)
			if err != nil {
				t.Fatal(err)
			}
			var svcs []*corev1.Service
			for _, s := range tt.svcs {
				svcs = append(svcs, s.build())
			}
			ds := decideLoadBalancers(svcs, pool)
			if got := lbSummary(ds); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if tt.msg != "" {
				var msgs []string
				for _, d := range ds {
					if d.Event != nil {
						msgs = append(msgs, d.Event.Message)
					}
				}
				if !strings.Contains(strings.Join(msgs, "\n"), tt.msg) {
					t.Errorf("events %q, want one containing %q", msgs, tt.msg)
				}
			}
		})
	}
}

// TestDecideLoadBalancers_startOver checks that a coordinator starting from
// the stored services, after any sequence of creations and deletions
// applied one decision at a time, never holds one address twice, and that
// deciding again changes nothing.
func TestDecideLoadBalancers_startOver(t *testing.T) {
	pool, _ := ParseLoadBalancerPool("10.0.0.1-10.0.0.4")
	var svcs []*corev1.Service
	apply := func() {
		for _, d := range decideLoadBalancers(svcs, pool) {
			if d.Changed {
				d.Service.Status.LoadBalancer.Ingress = d.Ingress
			}
		}
	}
	for step := range 30 {
		switch {
		case step%3 == 2 && len(svcs) > 0:
			svcs = append(svcs[:step%len(svcs)], svcs[step%len(svcs)+1:]...)
		default:
			svcs = append(svcs, lbSvc{name: fmt.Sprintf("s%02d", step), age: step}.build())
		}
		apply()
		seen := map[string]string{}
		held := 0
		for _, s := range svcs {
			for _, in := range s.Status.LoadBalancer.Ingress {
				if other, dup := seen[in.IP]; dup {
					t.Fatalf("step %d: %s held by %s and %s", step, in.IP, other, s.Name)
				}
				seen[in.IP] = s.Name
				held++
			}
		}
		if want := min(len(svcs), 4); held != want {
			t.Fatalf("step %d: %d addresses held by %d services, want %d", step, held, len(svcs), want)
		}
		for _, d := range decideLoadBalancers(svcs, pool) {
			if d.Changed {
				t.Fatalf("step %d: deciding again changes %s", step, d.Service.Name)
			}
		}
	}
}
