package cni

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/keel-edge/keel/runtimeapi"
	"golang.org/x/sys/unix"
)

func TestParsePortMappings(t *testing.T) {
	tests := []struct {
		name    string
		in      []PortMapping
		want    []hostPort
		wantErr string
	}{
		{name: "none"},
		{name: "tcp by default", in: []PortMapping{{HostPort: 8080, ContainerPort: 80}},
			want: []hostPort{{Proto: unix.IPPROTO_TCP, HostPort: 8080, ContainerPort: 80}}},
		{name: "udp any case, host ip", in: []PortMapping{{HostPort: 53, ContainerPort: 5353, Protocol: "UDP", HostIP: "192.0.2.1"}},
			want: []hostPort{{Proto: unix.IPPROTO_UDP, HostPort: 53, ContainerPort: 5353, HostIP: netip.MustParseAddr("192.0.2.1")}}},
		{name: "unspecified host ip is every address", in: []PortMapping{{HostPort: 1, ContainerPort: 65535, Protocol: "tcp", HostIP: "0.0.0.0"}},
			want: []hostPort{{Proto: unix.IPPROTO_TCP, HostPort: 1, ContainerPort: 65535}}},
		{name: "sctp", in: []PortMapping{{HostPort: 1, ContainerPort: 1, Protocol: "sctp"}}, wantErr: `portMappings[0]: protocol "sctp"`},
		{name: "host port 0", in: []PortMapping{{HostPort: 0, ContainerPort: 1}}, wantErr: "hostPort 0"},
		{name: "container port too big", in: []PortMapping{{HostPort: 1, ContainerPort: 70000}}, wantErr: "containerPort 70000"},
		{name: "bad host ip", in: []PortMapping{{HostPort: 1, ContainerPort: 1, HostIP: "x"}}, wantErr: "hostIP"},
		{name: "ipv6 host ip", in: []PortMapping{{HostPort: 1, ContainerPort: 1, HostIP: "::1"}}, wantErr: "only IPv4"},
		{name: "every error named", in: []PortMapping{{HostPort: 1, ContainerPort: 1}, {HostPort: -1, ContainerPort: 1}}, wantErr: "portMappings[1]: hostPort -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePortMappings(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("= %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestRuntimeConfHostPorts(t *testing.T) {
	ports, err := runtimeConfHostPorts([]byte(`{"name":"keel","runtimeConfig":{"portMappings":[{"hostPort":18080,"containerPort":8080,"protocol":"tcp"}]}}`))
	if err != nil || len(ports) != 1 || ports[0].HostPort != 18080 || ports[0].ContainerPort != 8080 {
		t.Fatalf("= %+v, %v", ports, err)
	}
	if ports, err := runtimeConfHostPorts([]byte(`{"name":"keel"}`)); err != nil || len(ports) != 0 {
		t.Fatalf("without runtimeConfig = %+v, %v", ports, err)
	}
	if _, err := runtimeConfHostPorts([]byte(`{"runtimeConfig":{"portMappings":{}}}`)); err == nil {
		t.Fatal("portMappings of the wrong type accepted")
	}
}

func FuzzRuntimeConfHostPorts(f *testing.F) {
	f.Add([]byte(`{"runtimeConfig":{"portMappings":[{"hostPort":80,"containerPort":8080,"protocol":"udp","hostIP":"10.0.0.1"}]}}`))
	f.Add([]byte(`{"runtimeConfig":{"portMappings":[{"hostPort":-1,"containerPort":99999,"protocol":"sctp","hostIP":"::"}]}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ports, err := runtimeConfHostPorts(data)
		if err != nil {
			return
		}
		for _, p := range ports {
			if p.HostPort == 0 || p.ContainerPort == 0 || (p.Proto != unix.IPPROTO_TCP && p.Proto != unix.IPPROTO_UDP) ||
				(p.HostIP.IsValid() && !p.HostIP.Is4()) {
				t.Fatalf("accepted invalid mapping %+v", p)
			}
		}
	})
}

func TestHostPortRules(t *testing.T) {
	pod := netip.MustParseAddr("10.244.1.5")
	rules := hostPortRules("c1", pod, []hostPort{
		{Proto: unix.IPPROTO_TCP, HostPort: 18080, ContainerPort: 80},
		{Proto: unix.IPPROTO_UDP, HostPort: 53, ContainerPort: 53, HostIP: netip.MustParseAddr("192.0.2.1")},
	})
	if len(rules) != 2 {
		t.Fatalf("%d rules, want 2", len(rules))
	}
	for i, r := range rules {
		if r.Chain != chainHostPorts || r.Tag != "pod c1" {
			t.Errorf("rule %d in %s tagged %q", i, r.Chain, r.Tag)
		}
		nat, ok := r.Exprs[len(r.Exprs)-1].(*expr.NAT)
		if !ok || nat.Type != expr.NATTypeDestNAT {
			t.Errorf("rule %d does not end in dnat: %#v", i, r.Exprs[len(r.Exprs)-1])
		}
		if !slices.ContainsFunc(r.Exprs, func(e expr.Any) bool {
			im, ok := e.(*expr.Immediate)
			return ok && slices.Equal(im.Data, pod.AsSlice())
		}) {
			t.Errorf("rule %d does not load the pod address", i)
		}
	}
	// Only the mapping with a host IP matches the destination address.
	hasDaddr := func(r natRule) bool {
		return slices.ContainsFunc(r.Exprs, func(e expr.Any) bool {
			p, ok := e.(*expr.Payload)
			return ok && p.Base == expr.PayloadBaseNetworkHeader && p.Offset == offsetDaddr
		})
	}
	if hasDaddr(rules[0]) || !hasDaddr(rules[1]) {
		t.Errorf("destination address matches: %v %v, want false true", hasDaddr(rules[0]), hasDaddr(rules[1]))
	}
}

func TestRulesToDelete(t *testing.T) {
	rule := func(h uint64, tag string) *nftables.Rule {
		return &nftables.Rule{Handle: h, UserData: userdata.AppendString(nil, userdata.TypeComment, tag)}
	}
	rules := []*nftables.Rule{rule(1, "pod a"), rule(2, "pod b"), rule(3, "hostports"), rule(4, "pod a"), {Handle: 5}}
	handles := func(rs []*nftables.Rule) []uint64 {
		var out []uint64
		for _, r := range rs {
			out = append(out, r.Handle)
		}
		return out
	}
	if got := handles(rulesToDelete(rules, func(id string) bool { return id == "a" })); !slices.Equal(got, []uint64{1, 4}) {
		t.Errorf("pod a: %v, want [1 4]", got)
	}
	if got := handles(rulesToDelete(rules, func(id string) bool { return id != "a" })); !slices.Equal(got, []uint64{2}) {
		t.Errorf("all but a: %v, want [2]", got)
	}
	if got := rulesToDelete(rules, func(string) bool { return false }); len(got) != 0 {
		t.Errorf("none: %v", got)
	}
}

func TestCapabilityPorts(t *testing.T) {
	got := capabilityPorts([]runtimeapi.PortMapping{{HostPort: 18080, ContainerPort: 80, Protocol: "TCP"}, {HostPort: 53, ContainerPort: 53, Protocol: "UDP", HostIP: "192.0.2.1"}})
	want := []PortMapping{{HostPort: 18080, ContainerPort: 80, Protocol: "tcp"}, {HostPort: 53, ContainerPort: 53, Protocol: "udp", HostIP: "192.0.2.1"}}
	if !slices.Equal(got, want) {
		t.Fatalf("= %+v, want %+v", got, want)
	}
	if _, err := parsePortMappings(got); err != nil {
		t.Fatalf("the plugin rejects the driver's mappings: %v", err)
	}
}
