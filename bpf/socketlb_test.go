package bpf

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var (
	vip      = netip.MustParseAddrPort("10.96.77.10:80")
	backends = []string{"10.77.0.1", "10.77.0.2", "10.77.0.3"}
)

const backendPort = 8080

type lbTest struct {
	t   *testing.T
	lb  *SocketLB
	net *testNet
	cfg Config
}

// newLBTest loads the load balancer on a fresh cgroup (holding the test
// process) and bpffs, with servers on backends in a network namespace.
func newLBTest(t *testing.T) *lbTest {
	requirePrivileged(t)
	cfg := Config{PinDir: testBPFFS(t), Cgroup: testCgroup(t)}
	lb, err := Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		lb.Close()
		if err := Uninstall(cfg.PinDir); err != nil {
			t.Error(err)
		}
	})
	tn := newTestNet(t, backends...)
	tn.serve(t, backendPort, backends...)
	return &lbTest{t: t, lb: lb, net: tn, cfg: cfg}
}

// service puts vip (TCP and UDP) with the given backends, backend i with
// id base+i, the table naming each once.
func (x *lbTest) service(svc uint32, affinity time.Duration, addrs ...string) {
	x.t.Helper()
	var slots []uint32
	for i, a := range addrs {
		id := svc*100 + uint32(i)
		if err := x.lb.PutBackend(id, netip.AddrPortFrom(netip.MustParseAddr(a), backendPort), svc, false); err != nil {
			x.t.Fatal(err)
		}
		slots = append(slots, id)
	}
	if err := x.lb.PutTable(svc, uint32(len(addrs)), slots); err != nil {
		x.t.Fatal(err)
	}
	for _, p := range []uint8{TCP, UDP} {
		if err := x.lb.PutService(vip, p, svc, affinity); err != nil {
			x.t.Fatal(err)
		}
	}
}

// tally connects n times to vip and counts the answers per backend; the
// peer address must always read as vip.
func (x *lbTest) tally(n int) map[string]int {
	x.t.Helper()
	got := map[string]int{}
	x.net.do(x.t, func() error {
		for range n {
			said, peer, err := get(vip.String())
			if err != nil {
				return err
			}
			if peer != vip {
				x.t.Errorf("peer address %s, want the service's %s", peer, vip)
			}
			host, _, _ := strings.Cut(said, ":")
			got[host]++
		}
		return nil
	})
	return got
}

func TestSocketLB_tcpConnectReachesBackendAndSpreads(t *testing.T) {
	x := newLBTest(t)
	x.service(1, 0, backends...)
	got := x.tally(300)
	for _, b := range backends {
		// 300 draws over 3: fewer than 40 for one has odds below 1e-12.
		if got[b] < 40 {
			t.Errorf("backend %s answered %d of 300 connections: %v", b, got[b], got)
		}
	}
}

func TestSocketLB_udpRepliesComeFromTheServiceAddress(t *testing.T) {
	x := newLBTest(t)
	x.service(2, 0, backends[:1]...)
	x.net.do(t, func() error {
		// Unconnected: sendmsg4 translates, recvmsg4 shows the reply
		// as coming from the service address.
		pc, err := net.ListenUDP("udp4", nil)
		if err != nil {
			return err
		}
		defer pc.Close()
		if _, err := pc.WriteToUDPAddrPort([]byte("hi"), vip); err != nil {
			return err
		}
		pc.SetDeadline(time.Now().Add(2 * time.Second))
		var buf [64]byte
		n, from, err := pc.ReadFromUDPAddrPort(buf[:])
		if err != nil {
			return err
		}
		if from != vip {
			t.Errorf("reply from %s, want the service's %s", from, vip)
		}
		if want := backends[0] + ":8080"; string(buf[:n]) != want {
			t.Errorf("answered by %q, want %q", buf[:n], want)
		}
		// Connected: connect4 translates, getpeername shows the service.
		c, err := net.Dial("udp4", vip.String())
		if err != nil {
			return err
		}
		defer c.Close()
		if peer := c.RemoteAddr().(*net.UDPAddr).AddrPort(); peer != vip {
			t.Errorf("connected UDP peer %s, want %s", peer, vip)
		}
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("hi")); err != nil {
			return err
		}
		n, err = c.Read(buf[:])
		if err != nil {
			return err
		}
		if want := backends[0] + ":8080"; string(buf[:n]) != want {
			t.Errorf("connected: answered by %q, want %q", buf[:n], want)
		}
		return nil
	})
}

func TestSocketLB_affinityKeepsAClientOnItsBackend(t *testing.T) {
	x := newLBTest(t)
	x.service(3, time.Hour, backends...)
	got := x.tally(60)
	if len(got) != 1 {
		t.Errorf("with ClientIP affinity one client reached %d backends: %v", len(got), got)
	}
}

func TestSocketLB_noEndpointsRefuses(t *testing.T) {
	x := newLBTest(t)
	x.service(4, 0)
	x.net.do(t, func() error {
		_, _, err := get(vip.String())
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("connect to a service without endpoints: %v, want ECONNREFUSED", err)
		}
		return nil
	})
}

func TestSocketLB_removedEndpointIsAvoided(t *testing.T) {
	x := newLBTest(t)
	x.service(5, 0, backends...)
	// Drop the first backend: the table names the others, then the
	// backend goes.
	if err := x.lb.PutTable(5, 2, []uint32{501, 502}); err != nil {
		t.Fatal(err)
	}
	if err := x.lb.DeleteBackend(500); err != nil {
		t.Fatal(err)
	}
	got := x.tally(100)
	if got[backends[0]] != 0 || got[backends[1]] == 0 || got[backends[2]] == 0 {
		t.Errorf("after removing %s: %v", backends[0], got)
	}
}

func TestSocketLB_pinsOutliveTheProcessHandles(t *testing.T) {
	x := newLBTest(t)
	x.service(6, 0, backends...)
	if err := x.lb.Close(); err != nil {
		t.Fatal(err)
	}
	// Nothing of ours is open now: the pinned links and maps still route.
	if got := x.tally(30); len(got) == 0 {
		t.Fatal("no answers with the handles closed")
	}
	lb, err := Load(x.cfg)
	if err != nil {
		t.Fatal(err)
	}
	x.lb = lb
	snap, err := lb.Dump()
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Frontends) != 2 || len(snap.Backends) != 3 || len(snap.Tables) != 1 || snap.Tables[0].Count != 3 {
		t.Errorf("reloaded maps hold %+v", snap)
	}
	if err := lb.PutTable(6, 1, []uint32{602}); err != nil {
		t.Fatal(err)
	}
	if got := x.tally(20); got[backends[2]] != 20 {
		t.Errorf("after reload and a table change: %v", got)
	}
}

func TestSocketLB_otherCgroupsAreUntouched(t *testing.T) {
	x := newLBTest(t)
	x.service(7, 0, backends...)
	script := "exec 3<>/dev/tcp/10.96.77.10/80 && echo connected"
	// A shell in the cgroup reaches the service...
	out, err := shellIn(t, x.cfg.Cgroup, x.net, script).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "connected") {
		t.Fatalf("a process in the cgroup: %v: %s", err, out)
	}
	// ...one that moved to the parent does not.
	root, _ := CgroupV2Root()
	out, err = shellIn(t, root, x.net, script).CombinedOutput()
	if err == nil || strings.Contains(string(out), "connected") {
		t.Errorf("a process outside the cgroup reached the service: %s", out)
	}
}

// BenchmarkSocketLB_endpointChange is the kernel's side of one changed
// endpoint of a service of ten, as the agent writes it: the new backend,
// the table naming it instead of the old one, the old backend's removal.
func BenchmarkSocketLB_endpointChange(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	dir := b.TempDir()
	if err := syscall.Mount("bpf", dir, "bpf", 0, ""); err != nil {
		b.Fatal(err)
	}
	defer syscall.Unmount(dir, syscall.MNT_DETACH)
	root, err := CgroupV2Root()
	if err != nil {
		b.Fatal(err)
	}
	cg, err := os.MkdirTemp(root, "keel-bpfbench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.Remove(cg)
	lb, err := Load(Config{PinDir: filepath.Join(dir, "keel"), Cgroup: cg})
	if err != nil {
		b.Fatal(err)
	}
	defer Uninstall(filepath.Join(dir, "keel"))
	defer lb.Close()
	addr := func(id uint32) netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(id >> 16), byte(id >> 8), byte(id)}), 80)
	}
	ids := make([]uint32, 10)
	for i := range ids {
		ids[i] = uint32(i + 1)
		if err := lb.PutBackend(ids[i], addr(ids[i]), 1, false); err != nil {
			b.Fatal(err)
		}
	}
	slots := make([]uint32, TableSize)
	b.ResetTimer()
	for i := range b.N {
		old, id := ids[i%10], uint32(i+11)
		ids[i%10] = id
		for k := range slots {
			slots[k] = ids[k%10]
		}
		if err := lb.PutBackend(id, addr(id), 1, false); err != nil {
			b.Fatal(err)
		}
		if err := lb.PutTable(1, 10, slots); err != nil {
			b.Fatal(err)
		}
		if err := lb.DeleteBackend(old); err != nil {
			b.Fatal(err)
		}
	}
}
