package clusterdns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/miekg/dns"
	"github.com/vishvananda/netlink"
)

// requireNetNS skips without root and network namespaces, and fails
// instead on CI (CI=true), where they must be.
func requireNetNS(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("privileged: skipped under -short")
	}
	reason := ""
	if os.Geteuid() != 0 {
		reason = "needs root"
	} else if _, err := os.Stat("/proc/self/ns/net"); err != nil {
		reason = "needs network namespaces"
	}
	if reason == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: privileged tests must run)", reason)
	}
	t.Skip(reason)
}

// testNS is a fresh network namespace with loopback up, removed when the
// test ends.
func testNS(t *testing.T) ns.NetNS {
	t.Helper()
	n, err := testutils.NewNS()
	if err != nil {
		t.Fatalf("create netns: %v", err)
	}
	t.Cleanup(func() {
		n.Close()
		if err := testutils.UnmountNS(n); err != nil {
			t.Errorf("remove netns %s: %v", n.Path(), err)
		}
	})
	in(t, n, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		return netlink.LinkSetUp(lo)
	})
	return n
}

func in(t *testing.T, n ns.NetNS, f func() error) {
	t.Helper()
	if err := n.Do(func(ns.NetNS) error { return f() }); err != nil {
		t.Fatalf("in %s: %v", n.Path(), err)
	}
}

// upstream is another DNS server on the namespace's loopback standing
// for the node's resolver: www.example.com has one address, many.example.com
// has 80, more than fits 512 bytes.
func upstream(t *testing.T) string {
	t.Helper()
	h := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg).SetReply(req)
		q := req.Question[0]
		switch {
		case q.Name == "www.example.com." && q.Qtype == dns.TypeA:
			rr, _ := dns.NewRR("www.example.com. 60 IN A 192.0.2.80")
			m.Answer = append(m.Answer, rr)
		case q.Name == "many.example.com." && q.Qtype == dns.TypeA:
			for i := 1; i <= 80; i++ {
				rr, _ := dns.NewRR(fmt.Sprintf("many.example.com. 60 IN A 192.0.2.%d", i))
				m.Answer = append(m.Answer, rr)
			}
		default:
			m.Rcode = dns.RcodeNameError
		}
		if w.LocalAddr().Network() == "udp" {
			m.Truncate(dns.MinMsgSize)
		}
		w.WriteMsg(m)
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	udp, tcp := &dns.Server{PacketConn: pc, Handler: h}, &dns.Server{Listener: ln, Handler: h}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	t.Cleanup(func() { udp.Shutdown(); tcp.Shutdown() })
	return pc.LocalAddr().String()
}

// inNetNSEnv marks the test process re-run inside the test's network
// namespace: the whole process is, so every socket the server opens
// (listening and forwarding) lives there, as in the agent.
const inNetNSEnv = "KEEL_CLUSTERDNS_IN_NETNS"

// TestServer_inNetNS runs the server on its link in a network namespace
// and asks it over real UDP and TCP: cluster names from the view, other
// names through an upstream server on the namespace's loopback,
// truncation and TCP fallback.
func TestServer_inNetNS(t *testing.T) {
	if os.Getenv(inNetNSEnv) == "" {
		requireNetNS(t)
		n := testNS(t)
		cmd := exec.Command("nsenter", "--net="+n.Path(), "--", os.Args[0], "-test.run=^TestServer_inNetNS$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), inNetNSEnv+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestServer_inNetNS") {
			t.Fatalf("test inside %s: %v\n%s", n.Path(), err, out)
		}
		return
	}
	up := upstream(t)
	cfg := DefaultConfig([]string{up})
	cfg.Addr = netip.MustParseAddrPort("169.254.20.10:53")
	// The pod bridge's address, which no link holds yet.
	cfg.Also = []netip.AddrPort{netip.MustParseAddrPort("10.99.0.1:53")}
	v := testView()
	srv, err := NewServer(cfg, func() *View { return v })
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	check(func() error {
		l, err := netlink.LinkByName("keel.dns")
		if err != nil {
			return err
		}
		addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		if (l.Type() != "dummy" && l.Type() != "bridge") || len(addrs) != 1 || addrs[0].IPNet.String() != "169.254.20.10/32" {
			return fmt.Errorf("link keel.dns is a %s with %v; want a dummy (or portless bridge) with 169.254.20.10/32", l.Type(), addrs)
		}
		return nil
	}())

	ask := func(network, name string, qtype uint16, edns uint16) *dns.Msg {
		t.Helper()
		q := new(dns.Msg).SetQuestion(name, qtype)
		if edns > 0 {
			q.SetEdns0(edns, false)
		}
		c := &dns.Client{Net: network, Timeout: 5 * time.Second}
		r, _, err := c.Exchange(q, "169.254.20.10:53")
		if err != nil {
			t.Fatalf("%s %s: %v", network, name, err)
		}
		return r
	}
	addrs := func(m *dns.Msg) []string {
		var out []string
		for _, rr := range m.Answer {
			if a, ok := rr.(*dns.A); ok {
				out = append(out, a.A.String())
			}
		}
		return out
	}

	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			if r := ask(network, "web.default.svc.cluster.local.", dns.TypeA, 0); !slices.Equal(addrs(r), []string{"10.96.0.10"}) || !r.Authoritative {
				t.Errorf("cluster name: %v", r)
			}
			if r := ask(network, "nope.default.svc.cluster.local.", dns.TypeA, 0); r.Rcode != dns.RcodeNameError || len(r.Ns) != 1 {
				t.Errorf("unknown cluster name: %v", r)
			}
			if r := ask(network, "www.example.com.", dns.TypeA, 0); !slices.Equal(addrs(r), []string{"192.0.2.80"}) {
				t.Errorf("forwarded name: %v", r)
			}
			if r := ask(network, "nothing.example.com.", dns.TypeA, 0); r.Rcode != dns.RcodeNameError {
				t.Errorf("forwarded NXDOMAIN: %v", r)
			}
			r := ask(network, "ext.default.svc.cluster.local.", dns.TypeA, 0)
			if len(r.Answer) != 2 || r.Answer[0].Header().Rrtype != dns.TypeCNAME || !slices.Equal(addrs(r), []string{"192.0.2.80"}) {
				t.Errorf("ExternalName chased upstream: %v", r)
			}
		})
	}
	// The upstream truncates many.example.com over UDP: the server asks
	// again over TCP and gives a UDP client what fits, with TC set.
	if r := ask("udp", "many.example.com.", dns.TypeA, 0); !r.Truncated || len(r.Answer) >= 80 {
		t.Errorf("over UDP without EDNS: truncated %v, %d answers; want truncated", r.Truncated, len(r.Answer))
	}
	if r := ask("udp", "many.example.com.", dns.TypeA, 4096); !r.Truncated || len(r.Answer) <= 30 || r.IsEdns0() == nil {
		t.Errorf("over UDP with EDNS 4096: truncated %v, %d answers; want up to 1232 bytes with an OPT", r.Truncated, len(r.Answer))
	}
	if r := ask("tcp", "many.example.com.", dns.TypeA, 0); r.Truncated || len(r.Answer) != 80 {
		t.Errorf("over TCP: truncated %v, %d answers; want all 80", r.Truncated, len(r.Answer))
	}
	// The bridge appears after the server started: the server answers
	// at its address too.
	check(func() error {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "gw0"}}
		if err := netlink.LinkAdd(br); err != nil {
			return err
		}
		a, _ := netlink.ParseAddr("10.99.0.1/24")
		if err := netlink.AddrAdd(br, a); err != nil {
			return err
		}
		return netlink.LinkSetUp(br)
	}())
	for _, network := range []string{"udp", "tcp"} {
		c := &dns.Client{Net: network, Timeout: 5 * time.Second}
		r, _, err := c.Exchange(new(dns.Msg).SetQuestion("web.default.svc.cluster.local.", dns.TypeA), "10.99.0.1:53")
		if err != nil || !slices.Equal(addrs(r), []string{"10.96.0.10"}) {
			t.Errorf("%s at the bridge's address: %v %v", network, r, err)
		}
	}
	// Bound to its addresses only.
	check(func() error {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:53", time.Second); err == nil {
			c.Close()
			return fmt.Errorf("the server answers on 127.0.0.1:53; it must bind 169.254.20.10 only")
		}
		return nil
	}())
}

func TestServer_noViewYet(t *testing.T) {
	srv, err := NewServer(DefaultConfig(nil), func() *View { return nil })
	if err != nil {
		t.Fatal(err)
	}
	r := srv.Respond(context.Background(), query("web.default.svc.cluster.local.", dns.TypeA), false)
	if r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("cluster name before the first view: %v; want SERVFAIL", r)
	}
	r = srv.Respond(context.Background(), query("www.example.com.", dns.TypeA), false)
	if r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("no upstreams: %v; want SERVFAIL", r)
	}
}

func TestConfig_validate(t *testing.T) {
	for _, tt := range []struct {
		name string
		mod  func(*Config)
	}{
		{"wildcard", func(c *Config) { c.Addr = netip.MustParseAddrPort("0.0.0.0:53") }},
		{"no address", func(c *Config) { c.Addr = netip.AddrPort{} }},
		{"upstream without port", func(c *Config) { c.Upstreams = []string{"10.0.0.1"} }},
		{"no timeout", func(c *Config) { c.ForwardTimeout = 0 }},
		{"also at the wildcard", func(c *Config) { c.Also = []netip.AddrPort{netip.MustParseAddrPort("0.0.0.0:53")} }},
		{"also without port", func(c *Config) { c.Also = []netip.AddrPort{netip.MustParseAddrPort("10.244.0.1:0")} }},
	} {
		c := DefaultConfig([]string{"10.0.0.1:53"})
		tt.mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: valid", tt.name)
		}
	}
	if err := DefaultConfig([]string{"10.0.0.1:53"}).Validate(); err != nil {
		t.Errorf("default: %v", err)
	}
}
