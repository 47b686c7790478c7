package cni

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
)

func TestPlugin_addConnectCheckDel(t *testing.T) {
	tn := newTestNet(t, "10.99.0.0/24")
	podA, podB := newNS(t), newNS(t)
	ipA := tn.add(t, "pod-a", podA)
	ipB := tn.add(t, "pod-b", podB)
	if ipA.String() != "10.99.0.2" || ipB.String() != "10.99.0.3" {
		t.Fatalf("addresses = %s, %s; want 10.99.0.2, 10.99.0.3", ipA, ipB)
	}
	// A repeated ADD rebuilds the attachment with the same address.
	if again := tn.add(t, "pod-a", podA); !again.Equal(ipA) {
		t.Fatalf("repeated ADD = %s, want %s", again, ipA)
	}

	// The bridge holds the gateway in the node netns.
	err := tn.node.Do(func(ns.NetNS) error {
		br, err := netlink.LinkByName("keel0")
		if err != nil {
			return err
		}
		ok, err := hasAddr(br, netip.MustParsePrefix("10.99.0.1/24"))
		if err == nil && !ok {
			t.Errorf("bridge lacks 10.99.0.1/24")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// eth0 carries the configured MTU.
	err = podA.Do(func(ns.NetNS) error {
		l, err := netlink.LinkByName("eth0")
		if err == nil && l.Attrs().MTU != 1400 {
			t.Errorf("eth0 MTU = %d, want 1400", l.Attrs().MTU)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	addrA := serve(t, podA, ipA)
	if err := dial(tn.node, addrA); err != nil {
		t.Fatalf("node -> pod A: %v", err)
	}
	if err := dial(podB, addrA); err != nil {
		t.Fatalf("pod B -> pod A: %v", err)
	}
	if err := dial(podA, serve(t, tn.node, netip.MustParseAddr("10.99.0.1").AsSlice())); err != nil {
		t.Fatalf("pod A -> gateway: %v", err)
	}

	if _, err := tn.run("CHECK", "pod-a", podA.Path(), tn.conf("1.1.0")); err != nil {
		t.Fatalf("CHECK healthy pod: %v", err)
	}
	// CHECK notices a removed address.
	err = podB.Do(func(ns.NetNS) error {
		l, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		return netlink.AddrDel(l, &netlink.Addr{IPNet: ipNet(netip.MustParsePrefix(ipB.String() + "/24"))})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tn.run("CHECK", "pod-b", podB.Path(), tn.conf("1.1.0")); err == nil || !strings.Contains(err.Error(), "lacks address") {
		t.Fatalf("CHECK after removing the address: %v, want lacks address", err)
	}

	// DEL removes both veth ends and the allocation, and may repeat.
	host := hostVethName("pod-a", "eth0")
	for i := range 2 {
		if _, err := tn.run("DEL", "pod-a", podA.Path(), tn.conf("1.1.0")); err != nil {
			t.Fatalf("DEL #%d: %v", i+1, err)
		}
	}
	if linkExists(t, tn.node, host) || linkExists(t, podA, "eth0") {
		t.Fatalf("DEL left a veth end")
	}
	if got := allocated(t, tn); !slices.Equal(got, []string{ipB.String()}) {
		t.Fatalf("allocations after DEL = %v, want [%s]", got, ipB)
	}
	// DEL of a pod whose netns is gone.
	if _, err := tn.run("DEL", "pod-b", "/run/netns/keel-test-gone", tn.conf("1.1.0")); err != nil {
		t.Fatalf("DEL with missing netns: %v", err)
	}
	if got := allocated(t, tn); len(got) != 0 {
		t.Fatalf("allocations after both DELs = %v", got)
	}
	// A new pod gets the next address, not a freed one (round-robin).
	if ip := tn.add(t, "pod-c", podA); ip.String() != "10.99.0.4" {
		t.Fatalf("next address = %s, want 10.99.0.4", ip)
	}
}

func allocated(t *testing.T, tn *testNet) []string {
	t.Helper()
	s, err := OpenStore(tn.dataDir, "keel", netip.MustParsePrefix(tn.subnet))
	if err != nil {
		t.Fatal(err)
	}
	all, err := s.Allocations()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range all {
		out = append(out, a.Addr.String())
	}
	return out
}

func TestPlugin_concurrentAddsGetDistinctAddresses(t *testing.T) {
	tn := newTestNet(t, "10.98.0.0/24")
	const n = 20
	pods := make([]ns.NetNS, n)
	for i := range pods {
		pods[i] = newNS(t)
	}
	cmds := make([]*exec.Cmd, n)
	outs := make([]strings.Builder, n)
	// Start all plugin processes from the node netns, then wait: they
	// race for the bridge and the IPAM lock.
	err := tn.node.Do(func(ns.NetNS) error {
		for i := range cmds {
			c := exec.Command(tn.bin)
			c.Env = append(os.Environ(),
				"CNI_COMMAND=ADD", "CNI_CONTAINERID=pod-"+string(rune('a'+i)), "CNI_NETNS="+pods[i].Path(),
				"CNI_IFNAME=eth0", "CNI_PATH="+filepath.Dir(tn.bin))
			c.Stdin = strings.NewReader(string(tn.conf("1.1.0")))
			c.Stdout = &outs[i]
			c.Stderr = &outs[i]
			if err := c.Start(); err != nil {
				return err
			}
			cmds[i] = c
		}
		return nil
	})
	for _, c := range cmds {
		if c != nil {
			if werr := c.Wait(); werr != nil && err == nil {
				err = werr
			}
		}
	}
	if err != nil {
		for i := range outs {
			t.Logf("plugin %d: %s", i, outs[i].String())
		}
		t.Fatalf("concurrent ADDs: %v", err)
	}
	got := allocated(t, tn)
	if len(got) != n {
		t.Fatalf("allocations = %v, want %d distinct", got, n)
	}
	seen := map[string]bool{}
	for i := range outs {
		out := outs[i].String()
		for _, a := range got {
			if strings.Contains(out, `"`+a+`/24"`) {
				if seen[a] {
					t.Fatalf("address %s handed out twice", a)
				}
				seen[a] = true
			}
		}
	}
	if len(seen) != n {
		t.Fatalf("results name %d distinct addresses, want %d", len(seen), n)
	}
}

func TestPlugin_gcReleasesInvalidAttachments(t *testing.T) {
	tn := newTestNet(t, "10.97.0.0/24")
	for _, id := range []string{"keep", "drop1", "drop2"} {
		tn.add(t, id, newNS(t))
	}
	gc := strings.TrimSuffix(string(tn.conf("1.1.0")), "}") +
		`,"cni.dev/valid-attachments":[{"containerID":"keep","ifname":"eth0"}]}`
	if _, err := tn.run("GC", "", "", []byte(gc)); err != nil {
		t.Fatalf("GC: %v", err)
	}
	if got := allocated(t, tn); !slices.Equal(got, []string{"10.97.0.2"}) {
		t.Fatalf("allocations after GC = %v, want [10.97.0.2]", got)
	}
	for id, want := range map[string]bool{"keep": true, "drop1": false, "drop2": false} {
		if got := linkExists(t, tn.node, hostVethName(id, "eth0")); got != want {
			t.Errorf("host veth of %s exists = %v, want %v", id, got, want)
		}
	}
}

func TestPlugin_statusAndVersion(t *testing.T) {
	tn := newTestNet(t, "10.96.0.0/30")
	if _, err := tn.run("STATUS", "", "", tn.conf("1.1.0")); err != nil {
		t.Fatalf("STATUS of an empty /30: %v", err)
	}
	tn.add(t, "only", newNS(t)) // a /30 has room for one pod
	if _, err := tn.run("STATUS", "", "", tn.conf("1.1.0")); err == nil || !strings.Contains(err.Error(), "no free address") {
		t.Fatalf("STATUS of a full /30: %v, want no free address", err)
	}
	if _, err := tn.run("ADD", "second", newNS(t).Path(), tn.conf("1.1.0")); err == nil || !strings.Contains(err.Error(), "no free address") {
		t.Fatalf("ADD into a full /30: %v, want no free address", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := invoke.GetVersionInfo(ctx, tn.bin, nil)
	if err != nil {
		t.Fatalf("VERSION: %v", err)
	}
	if got := info.SupportedVersions(); !slices.Contains(got, "1.1.0") || !slices.Contains(got, "1.0.0") {
		t.Fatalf("VERSION = %v, want 1.0.0 and 1.1.0", got)
	}
	// A 1.0.0 config gets a 1.0.0 result.
	pod := newNS(t)
	_, _ = tn.run("DEL", "only", "", tn.conf("1.1.0"))
	res, err := tn.run("ADD", "v100", pod.Path(), tn.conf("1.0.0"))
	if err != nil || res.Version() != "1.0.0" {
		t.Fatalf("ADD with cniVersion 1.0.0: %v, %v", res, err)
	}
}
