package bpf

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/cilium/ebpf"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/keel-edge/keel/internal/netnstest"
)

const (
	// lbBackends is how many endpoints every benchmark service has, and how
	// many backend addresses the server namespace holds besides a spare.
	lbBackends = 10
	// lbConnects is how many connections a latency figure is taken over.
	lbConnects = 4000
	// lbRounds is how many alternations of a direct batch and a batch
	// through a load balancer the connections are spread over, so that
	// the machine's drift weighs on both alike.
	lbRounds = 10
	// lbRateFor is how long requests/s are counted for, per path.
	lbRateFor = time.Second
)

// lbRow is one line of the benchmark's table.
type lbRow struct {
	services       int
	impl           string
	p50, p99       time.Duration
	rps            float64
	update, load   time.Duration
	updateMeasured bool
	// perRun is the connect4 program's mean run time (bpf_stats), for
	// the socket load balancer's rows.
	perRun time.Duration
}

// lbEnv is two client namespaces, each joined to a server namespace by a
// veth: client, where load balancers are set up, and plain, which has no
// rules and makes the direct connections. The server namespace holds the
// backend addresses 10.0.1.1-10.0.1.11 and answers on port 8080 of every
// one: a connection gets one byte back for the byte it sends.
type lbEnv struct {
	client, plain, server ns.NetNS
}

func newLBEnv(b *testing.B) *lbEnv {
	b.Helper()
	e := &lbEnv{client: lbNS(b), plain: lbNS(b), server: lbNS(b)}
	netnstest.Plug(b, e.client, e.server, "eth0", "eth0", "10.0.0.1/24", "10.0.0.2/24")
	netnstest.Plug(b, e.plain, e.server, "eth0", "eth1", "10.0.2.1/24", "10.0.2.2/24")
	netnstest.In(b, e.server, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		if err := netlink.LinkSetUp(lo); err != nil {
			return err
		}
		for i := 1; i <= lbBackends+1; i++ {
			if err := netlink.AddrAdd(lo, &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(10, 0, 1, byte(i)), Mask: net.CIDRMask(32, 32)}}); err != nil {
				return err
			}
		}
		l, err := net.Listen("tcp4", ":8080")
		if err != nil {
			return err
		}
		b.Cleanup(func() { l.Close() })
		go serveOneByte(l)
		return nil
	})
	for _, c := range []struct {
		n  ns.NetNS
		gw net.IP
	}{{e.client, net.IPv4(10, 0, 0, 2)}, {e.plain, net.IPv4(10, 0, 2, 2)}} {
		netnstest.In(b, c.n, func() error { return netlink.RouteAdd(&netlink.Route{Gw: c.gw}) })
	}
	return e
}

func serveOneByte(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			var buf [1]byte
			if _, err := io.ReadFull(c, buf[:]); err == nil {
				c.Write(buf[:])
			}
		}()
	}
}

func lbNS(b *testing.B) ns.NetNS {
	b.Helper()
	n, err := testutils.NewNS()
	if err != nil {
		b.Fatalf("create netns: %v", err)
	}
	b.Cleanup(func() {
		n.Close()
		testutils.UnmountNS(n)
	})
	return n
}

// benchServices are n services 10.96.x.y:80, each in front of the ten
// backends on port 8080.
func benchServices(b *testing.B, n int) []benchService {
	if n >= 1<<16-2 {
		b.Fatalf("%d services: 10.96.0.0/16 holds fewer", n)
	}
	svcs := make([]benchService, n)
	for i := range svcs {
		bes := make([]netip.AddrPort, lbBackends)
		for k := range bes {
			bes[k] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(k + 1)}), 8080)
		}
		vip := netip.AddrFrom4([4]byte{10, 96, byte((i + 1) >> 8), byte(i + 1)})
		svcs[i] = benchService{name: fmt.Sprintf("svc-%d", i), vip: vip, port: 80, backends: bes}
	}
	return svcs
}

// withOneEndpointChanged is svcs with one endpoint of the middle service
// moved to the spare backend address 10.0.1.11.
func withOneEndpointChanged(svcs []benchService) []benchService {
	out := slices.Clone(svcs)
	mid := &out[len(out)/2]
	mid.backends = slices.Clone(mid.backends)
	mid.backends[0] = netip.MustParseAddrPort("10.0.1.11:8080")
	return out
}

func frontends(svcs []benchService) []netip.AddrPort {
	out := make([]netip.AddrPort, len(svcs))
	for i, s := range svcs {
		out[i] = netip.AddrPortFrom(s.vip, s.port)
	}
	return out
}

// lbPath is a way to reach the backends: from a client namespace, to
// random targets, with enter and leave run around each batch.
type lbPath struct {
	name         string
	client       ns.NetNS
	targets      []netip.AddrPort
	enter, leave func()
}

// connectTimes dials count random targets of p, on one locked thread with
// blocking syscalls, and returns each connect's duration. Every
// connection is checked with a one-byte exchange outside the timed part,
// and reset on close so that no TIME_WAIT piles up.
func connectTimes(b *testing.B, p lbPath, count int) []time.Duration {
	b.Helper()
	if p.enter != nil {
		p.enter()
		defer p.leave()
	}
	times := make([]time.Duration, 0, count)
	netnstest.In(b, p.client, func() error {
		for range count {
			t := p.targets[rand.IntN(len(p.targets))]
			fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			start := time.Now()
			err = syscall.Connect(fd, &syscall.SockaddrInet4{Port: int(t.Port()), Addr: t.Addr().As4()})
			took := time.Since(start)
			if err == nil {
				err = exchangeByte(fd)
			}
			closeReset(fd)
			if err != nil {
				return fmt.Errorf("connect %s: %w", t, err)
			}
			times = append(times, took)
		}
		return nil
	})
	return times
}

// requestRate is how many connect, one-byte request, one-byte reply,
// close cycles per second runtime.NumCPU() clients complete against
// random targets of p.
func requestRate(b *testing.B, p lbPath) float64 {
	b.Helper()
	if p.enter != nil {
		p.enter()
		defer p.leave()
	}
	workers := runtime.NumCPU()
	type result struct {
		n   int
		err error
	}
	results := make(chan result, workers)
	deadline := time.Now().Add(lbRateFor)
	for range workers {
		go func() {
			n := 0
			err := p.client.Do(func(ns.NetNS) error {
				for time.Now().Before(deadline) {
					t := p.targets[rand.IntN(len(p.targets))]
					fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
					if err != nil {
						return err
					}
					err = syscall.Connect(fd, &syscall.SockaddrInet4{Port: int(t.Port()), Addr: t.Addr().As4()})
					if err == nil {
						err = exchangeByte(fd)
					}
					closeReset(fd)
					if err != nil {
						return fmt.Errorf("request to %s: %w", t, err)
					}
					n++
				}
				return nil
			})
			results <- result{n, err}
		}()
	}
	total := 0
	for range workers {
		r := <-results
		if r.err != nil {
			b.Fatal(r.err)
		}
		total += r.n
	}
	return float64(total) / lbRateFor.Seconds()
}

func exchangeByte(fd int) error {
	if _, err := syscall.Write(fd, []byte{'x'}); err != nil {
		return err
	}
	var buf [1]byte
	n, err := syscall.Read(fd, buf[:])
	if err == nil && n != 1 {
		err = errors.New("connection closed without a reply")
	}
	return err
}

func closeReset(fd int) {
	syscall.SetsockoptLinger(fd, syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 0})
	syscall.Close(fd)
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	return sorted[int(float64(len(sorted)-1)*p)]
}

// roundDuration keeps three significant digits.
func roundDuration(d time.Duration) string {
	for unit := time.Nanosecond; ; unit *= 10 {
		if d < 1000*unit {
			return d.Round(unit).String()
		}
	}
}

// BenchmarkServiceLB compares, at 1, 1,000 and 10,000 services of ten
// endpoints, connections to a service through the socket load balancer
// and through kube-proxy's iptables ruleset with direct connections to a
// backend: connect latency, request rate, the time to apply one endpoint
// change and to load the whole table. Each load balancer is measured in
// rounds alternating with direct connections from a namespace without
// rules (and, for eBPF, from outside the cgroup its programs are on). It
// prints one table.
func BenchmarkServiceLB(b *testing.B) {
	if testing.Short() {
		b.Skip("makes network namespaces")
	}
	if os.Geteuid() != 0 {
		b.Skip("network namespaces need root")
	}
	// Run times of programs are counted only while a handle of this
	// stays open.
	stats, err := ebpf.EnableStats(unix.BPF_STATS_RUN_TIME)
	if err != nil {
		b.Fatalf("enable bpf_stats: %v", err)
	}
	defer stats.Close()
	var rows []lbRow
	for _, n := range []int{1, 1000, 10000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			e := newLBEnv(b)
			svcs := benchServices(b, n)
			direct := lbPath{name: "direct", client: e.plain, targets: slices.Clone(svcs[0].backends)}
			rows = append(rows, e.measureSocketLB(b, direct, svcs)...)
			rows = append(rows, e.measureIptables(b, direct, svcs)...)
		})
	}
	var sb strings.Builder
	w := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "services\tpath\tconnect p50\tp50 vs direct\tconnect p99\trequests/s\tone endpoint change\tload all\tconnect4 run\t")
	var direct time.Duration
	for _, r := range rows {
		vs, upd, load, run := "", "", "", ""
		if r.updateMeasured {
			upd, load = roundDuration(r.update), roundDuration(r.load)
			vs = fmt.Sprintf("%+.1f%%", 100*(float64(r.p50)/float64(direct)-1))
		} else {
			direct = r.p50
		}
		if r.perRun > 0 {
			run = roundDuration(r.perRun)
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%.0f\t%s\t%s\t%s\t\n", r.services, r.impl, roundDuration(r.p50), vs, roundDuration(r.p99), r.rps, upd, load, run)
	}
	w.Flush()
	fmt.Print("\n" + sb.String())
}

// measurePaired takes the latency and rate figures of lb and, in
// alternation with it, of direct; it returns direct's row, then lb's.
func measurePaired(b *testing.B, services int, direct, lb lbPath) []lbRow {
	var dTimes, lTimes []time.Duration
	var dRate, lRate float64
	per := lbConnects / lbRounds
	for range lbRounds {
		dTimes = append(dTimes, connectTimes(b, direct, per)...)
		lTimes = append(lTimes, connectTimes(b, lb, per)...)
	}
	for range 2 {
		dRate += requestRate(b, direct) / 2
		lRate += requestRate(b, lb) / 2
	}
	row := func(name string, times []time.Duration, rate float64) lbRow {
		slices.Sort(times)
		r := lbRow{services: services, impl: name, p50: percentile(times, 0.5), p99: percentile(times, 0.99), rps: rate}
		b.ReportMetric(float64(r.p50.Nanoseconds()), strings.NewReplacer(" ", "-", "(", "", ")", "").Replace(name)+"-p50-ns")
		return r
	}
	return []lbRow{
		row("direct, beside "+lb.name, dTimes, dRate),
		row(lb.name, lTimes, lRate),
	}
}

// measureIptables loads kube-proxy's ruleset for svcs in the client
// namespace, times that and a full restore with one endpoint changed,
// measures connections to the service addresses through it, and flushes
// the table again.
func (e *lbEnv) measureIptables(b *testing.B, direct lbPath, svcs []benchService) []lbRow {
	var load, update time.Duration
	netnstest.In(b, e.client, func() error {
		full := kubeProxyRuleset(svcs, "10.244.0.0/16")
		start := time.Now()
		if err := iptablesRestore(full); err != nil {
			return err
		}
		load = time.Since(start)
		changed := kubeProxyRuleset(withOneEndpointChanged(svcs), "10.244.0.0/16")
		start = time.Now()
		if err := iptablesRestore(changed); err != nil {
			return err
		}
		update = time.Since(start)
		return nil
	})
	b.Cleanup(func() {
		netnstest.In(b, e.client, func() error { return iptablesRestore([]byte("*nat\nCOMMIT\n")) })
	})
	rows := measurePaired(b, len(svcs), direct, lbPath{name: "iptables (kube-proxy)", client: e.client, targets: frontends(svcs)})
	rows[1].load, rows[1].update, rows[1].updateMeasured = load, update, true
	return rows
}

// measureSocketLB loads the socket load balancer on a cgroup of the
// benchmark's own, times writing the whole table for svcs and the writes
// the agent makes for one endpoint whose address changed (the new
// backend, the service's lookup table, the old backend's removal), and
// measures connections to the service addresses through it. This process
// is in that cgroup for the load balancer's batches only. The programs
// are detached at the end.
func (e *lbEnv) measureSocketLB(b *testing.B, direct lbPath, svcs []benchService) []lbRow {
	root, err := CgroupV2Root()
	if err != nil {
		b.Fatal(err)
	}
	outside, err := ownCgroup(root)
	if err != nil {
		b.Fatal(err)
	}
	pins := testBPFFS(b)
	cg := testCgroup(b)
	join(b, outside)
	lb, err := Load(Config{PinDir: pins, Cgroup: cg})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		lb.Close()
		if err := Uninstall(pins); err != nil {
			b.Error(err)
		}
	})
	slots := make([]uint32, TableSize)
	backendID := func(svc, k int) uint32 { return uint32(svc*(lbBackends+1) + k + 1) }
	start := time.Now()
	for i, s := range svcs {
		svc := uint32(i + 1)
		if err := lb.PutService(netip.AddrPortFrom(s.vip, s.port), syscall.IPPROTO_TCP, svc, 0); err != nil {
			b.Fatal(err)
		}
		for k, be := range s.backends {
			if err := lb.PutBackend(backendID(i, k), be, svc, false); err != nil {
				b.Fatal(err)
			}
		}
		for j := range slots {
			slots[j] = backendID(i, j%len(s.backends))
		}
		if err := lb.PutTable(svc, uint32(len(s.backends)), slots); err != nil {
			b.Fatal(err)
		}
	}
	load := time.Since(start)

	mid := len(svcs) / 2
	moved := withOneEndpointChanged(svcs)[mid].backends[0]
	newID := backendID(mid, lbBackends)
	for j := range slots {
		if k := j % lbBackends; k == 0 {
			slots[j] = newID
		} else {
			slots[j] = backendID(mid, k)
		}
	}
	start = time.Now()
	err = lb.PutBackend(newID, moved, uint32(mid+1), false)
	if err == nil {
		err = lb.PutTable(uint32(mid+1), lbBackends, slots)
	}
	if err == nil {
		err = lb.DeleteBackend(backendID(mid, 0))
	}
	update := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	path := lbPath{name: "eBPF socket LB", client: e.client, targets: frontends(svcs),
		enter: func() { join(b, cg) }, leave: func() { join(b, outside) }}
	before, err := lb.objs.KeelConnect4.Stats()
	if err != nil {
		b.Fatal(err)
	}
	rows := measurePaired(b, len(svcs), direct, path)
	after, err := lb.objs.KeelConnect4.Stats()
	if err != nil {
		b.Fatal(err)
	}
	rows[1].load, rows[1].update, rows[1].updateMeasured = load, update, true
	if runs := after.RunCount - before.RunCount; runs > 0 {
		rows[1].perRun = (after.Runtime - before.Runtime) / time.Duration(runs)
		b.ReportMetric(float64(rows[1].perRun.Nanoseconds()), "connect4-ns/run")
	}
	return rows
}

// join moves this process into the cgroup v2 directory dir.
func join(b *testing.B, dir string) {
	b.Helper()
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(fmt.Sprint(os.Getpid())), 0); err != nil {
		b.Fatalf("join %s: %v", dir, err)
	}
}
