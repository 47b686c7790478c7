package bpf

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/vishvananda/netlink"

	"github.com/keel-edge/keel/internal/netnstest"
)

const (
	// lbBackends is how many endpoints every benchmark service has, and how
	// many backend addresses the server namespace holds.
	lbBackends = 10
	// lbConnects is how many connections a latency figure is taken over.
	lbConnects = 3000
	// lbRateFor is how long requests/s are counted for.
	lbRateFor = 2 * time.Second
)

// lbRow is one line of the benchmark's table.
type lbRow struct {
	services       int
	impl           string
	p50, p99       time.Duration
	rps            float64
	update, load   time.Duration
	updateMeasured bool
}

// lbEnv is a client namespace and a server namespace joined by a veth.
// The server namespace holds the backend addresses 10.0.1.1-10.0.1.11 and
// answers on port 8080 of every one: a connection gets one byte back for
// the byte it sends, then is closed.
type lbEnv struct {
	client, server ns.NetNS
}

func newLBEnv(b *testing.B) *lbEnv {
	b.Helper()
	e := &lbEnv{client: lbNS(b), server: lbNS(b)}
	netnstest.Plug(b, e.client, e.server, "eth0", "eth0", "10.0.0.1/24", "10.0.0.2/24")
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
	netnstest.In(b, e.client, func() error {
		return netlink.RouteAdd(&netlink.Route{Gw: net.IPv4(10, 0, 0, 2)})
	})
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
func benchServices(n int) []benchService {
	svcs := make([]benchService, n)
	for i := range svcs {
		vip := netip.AddrFrom4([4]byte{10, 96, byte(i >> 8), byte(i)})
		if i >= 1<<16-2 {
			panic("benchServices: more services than the /16")
		}
		bes := make([]netip.AddrPort, lbBackends)
		for k := range bes {
			bes[k] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(k + 1)}), 8080)
		}
		svcs[i] = benchService{name: fmt.Sprintf("svc-%d", i), vip: vip.Next(), port: 80, backends: bes}
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

// connectTimes dials count random targets from the client namespace, on
// one locked thread with blocking syscalls, and returns each connect's
// duration, sorted. Every connection is checked with a one-byte exchange,
// outside the timed part, and reset on close so no TIME_WAIT piles up.
func (e *lbEnv) connectTimes(b *testing.B, targets []netip.AddrPort, count int) []time.Duration {
	b.Helper()
	times := make([]time.Duration, 0, count)
	netnstest.In(b, e.client, func() error {
		for range count {
			t := targets[rand.IntN(len(targets))]
			fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			sa := &syscall.SockaddrInet4{Port: int(t.Port()), Addr: t.Addr().As4()}
			start := time.Now()
			err = syscall.Connect(fd, sa)
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
	slices.Sort(times)
	return times
}

// requestRate is how many connect, one-byte request, one-byte reply,
// close cycles per second runtime.NumCPU() clients complete against
// random targets.
func (e *lbEnv) requestRate(b *testing.B, targets []netip.AddrPort) float64 {
	b.Helper()
	workers := runtime.NumCPU()
	done := make(chan int, workers)
	errs := make(chan error, workers)
	deadline := time.Now().Add(lbRateFor)
	for range workers {
		go func() {
			n := 0
			err := e.client.Do(func(ns.NetNS) error {
				for time.Now().Before(deadline) {
					t := targets[rand.IntN(len(targets))]
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
			errs <- err
			done <- n
		}()
	}
	total := 0
	for range workers {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
		total += <-done
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

func frontends(svcs []benchService) []netip.AddrPort {
	out := make([]netip.AddrPort, len(svcs))
	for i, s := range svcs {
		out[i] = netip.AddrPortFrom(s.vip, s.port)
	}
	return out
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	return sorted[int(float64(len(sorted)-1)*p)]
}

// BenchmarkServiceLB compares, at 1, 1,000 and 10,000 services of ten
// endpoints, a connection to a service through kube-proxy's iptables
// ruleset and through the socket load balancer with a direct connection
// to a backend: connect latency, request rate, the time to apply one
// endpoint change and to load the whole table. It prints one table.
func BenchmarkServiceLB(b *testing.B) {
	if testing.Short() {
		b.Skip("makes network namespaces")
	}
	if os.Geteuid() != 0 {
		b.Skip("network namespaces need root")
	}
	var rows []lbRow
	for _, n := range []int{1, 1000, 10000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			e := newLBEnv(b)
			svcs := benchServices(n)
			var backends []netip.AddrPort
			backends = append(backends, svcs[0].backends...)
			rows = append(rows, e.measure(b, n, "direct to a backend", backends, nil))
			rows = append(rows, e.measureIptables(b, svcs))
		})
	}
	var sb strings.Builder
	w := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "services\tpath\tconnect p50\tconnect p99\trequests/s\tone endpoint change\tload all\t")
	for _, r := range rows {
		upd, load := "-", "-"
		if r.updateMeasured {
			upd, load = r.update.Round(time.Microsecond).String(), r.load.Round(time.Microsecond).String()
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%.0f\t%s\t%s\t\n", r.services, r.impl, r.p50, r.p99, r.rps, upd, load)
	}
	w.Flush()
	fmt.Print("\n" + sb.String())
}

// measure takes the latency and rate figures of connections to targets.
func (e *lbEnv) measure(b *testing.B, services int, impl string, targets []netip.AddrPort, set func(*lbRow)) lbRow {
	r := lbRow{services: services, impl: impl}
	if set != nil {
		set(&r)
	}
	times := e.connectTimes(b, targets, lbConnects)
	r.p50, r.p99 = percentile(times, 0.5), percentile(times, 0.99)
	r.rps = e.requestRate(b, targets)
	b.ReportMetric(float64(r.p50.Nanoseconds()), strings.ReplaceAll(impl, " ", "-")+"-p50-ns")
	return r
}

// measureIptables loads kube-proxy's ruleset for svcs in the client
// namespace, times that and a full restore with one endpoint changed, and
// measures connections to the service addresses through it.
func (e *lbEnv) measureIptables(b *testing.B, svcs []benchService) lbRow {
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
	return e.measure(b, len(svcs), "iptables (kube-proxy)", frontends(svcs), func(r *lbRow) {
		r.load, r.update, r.updateMeasured = load, update, true
	})
}
