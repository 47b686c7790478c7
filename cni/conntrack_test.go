package cni

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"golang.org/x/sys/unix"
)

func TestDNATOfRule(t *testing.T) {
	pod := netip.MustParseAddr("10.244.1.5")
	rules := hostPortRules("c1", pod, []hostPort{
		{Proto: unix.IPPROTO_TCP, HostPort: 18080, ContainerPort: 80},
		{Proto: unix.IPPROTO_UDP, HostPort: 53, ContainerPort: 5353, HostIP: netip.MustParseAddr("192.0.2.1")},
	})
	want := []dnatFlow{{unix.IPPROTO_TCP, 18080, pod}, {unix.IPPROTO_UDP, 53, pod}}
	for i, r := range rules {
		got, ok := dnatOfRule(r.Exprs)
		if !ok || got != want[i] {
			t.Errorf("rule %d: %+v, %v; want %+v", i, got, ok, want[i])
		}
	}
	for _, r := range hostPortBaseRules("keel0", netip.MustParsePrefix("10.244.1.0/24")) {
		if f, ok := dnatOfRule(r.Exprs); ok {
			t.Errorf("rule %q read as a mapping %+v", r.Tag, f)
		}
	}
	if _, err := forgetDNAT(nil); err != nil {
		t.Errorf("forgetting nothing: %v", err)
	}
}

// udpServe answers every datagram to addr inside n with name and what it
// received.
func udpServe(t *testing.T, n ns.NetNS, addr, name string) {
	t.Helper()
	var pc net.PacketConn
	if err := n.Do(func(ns.NetNS) (err error) {
		pc, err = net.ListenPacket("udp", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			k, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(fmt.Appendf(nil, "%s:%s", name, buf[:k]), from)
		}
	}()
}

// TestPlugin_hostPortGoesToTheNewPod keeps a UDP flow to a host port
// going while the pod holding the port is deleted and another pod takes
// the port: the flow's next datagram reaches the new pod, because DEL
// forgot the old pod's connections.
func TestPlugin_hostPortGoesToTheNewPod(t *testing.T) {
	const mapping = `{"portMappings":[{"hostPort":18053,"containerPort":5353,"protocol":"udp"}]}`
	w := newNATWorld(t, mapping)
	udpServe(t, w.pod, ":5353", "pod-1")

	var client net.Conn
	if err := w.outside.Do(func(ns.NetNS) (err error) {
		client, err = net.Dial("udp", net.JoinHostPort(worldNodeIP, "18053"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ask := func() (string, error) {
		_ = client.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := client.Write([]byte("x")); err != nil {
			return "", err
		}
		buf := make([]byte, 64)
		k, err := client.Read(buf)
		return string(buf[:k]), err
	}
	if got, err := ask(); err != nil || got != "pod-1:x" {
		t.Fatalf("before: %q, %v", got, err)
	}

	if _, err := w.tn.run("DEL", "pod-1", w.pod.Path(), w.tn.conf("1.1.0")); err != nil {
		t.Fatalf("DEL: %v", err)
	}
	pod2 := newNS(t)
	stdin := w.tn.conf("1.1.0")
	stdin = fmt.Appendf(stdin[:len(stdin)-1], `,"runtimeConfig":%s}`, mapping)
	if _, err := w.tn.run("ADD", "pod-2", pod2.Path(), stdin); err != nil {
		t.Fatalf("ADD pod-2: %v", err)
	}
	udpServe(t, pod2, ":5353", "pod-2")
	if got, err := ask(); err != nil || got != "pod-2:x" {
		t.Fatalf("the same flow after the port moved to pod-2: %q, %v; want pod-2:x", got, err)
	}
}
