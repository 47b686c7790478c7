package bpf

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/vishvananda/netlink"
)

// requirePrivileged skips a test that needs root, eBPF and cgroup v2,
// unless CI=true, where it fails: there they must run.
func requirePrivileged(t testing.TB) {
	t.Helper()
	reason := ""
	if testing.Short() {
		reason = "privileged test under -short"
	} else if os.Geteuid() != 0 {
		reason = "needs root"
	} else if _, err := CgroupV2Root(); err != nil {
		reason = err.Error()
	}
	if reason == "" {
		return
	}
	if os.Getenv("CI") == "true" && !testing.Short() {
		t.Fatalf("%s (CI=true: privileged tests must run)", reason)
	}
	t.Skip(reason)
}

// testBPFFS mounts a bpffs instance of the test's own and removes it at
// the end.
func testBPFFS(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("bpf", dir, "bpf", 0, ""); err != nil {
		t.Fatalf("mount bpffs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return filepath.Join(dir, "keel")
}

// testCgroup makes a cgroup v2 child of the root for the test, moves the
// test process into it (so the programs see only its sockets) and, at the
// end, moves it back and removes the cgroup.
func testCgroup(t testing.TB) string {
	t.Helper()
	root, err := CgroupV2Root()
	if err != nil {
		t.Fatal(err)
	}
	orig, err := ownCgroup(root)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(root, "keel-bpftest-")
	if err != nil {
		t.Fatal(err)
	}
	pid := []byte(fmt.Sprint(os.Getpid()))
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), pid, 0); err != nil {
		os.Remove(dir)
		t.Fatalf("join %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := os.WriteFile(filepath.Join(orig, "cgroup.procs"), pid, 0); err != nil {
			t.Errorf("return to %s: %v", orig, err)
		}
		if err := os.Remove(dir); err != nil {
			t.Errorf("remove cgroup %s: %v", dir, err)
		}
	})
	return dir
}

// ownCgroup is the directory of this process's cgroup v2.
func ownCgroup(root string) (string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			return filepath.Join(root, p), nil
		}
	}
	return "", fmt.Errorf("no cgroup v2 line in /proc/self/cgroup")
}

// testNet is a network namespace with backend addresses on its loopback.
type testNet struct {
	ns ns.NetNS
}

func newTestNet(t *testing.T, addrs ...string) *testNet {
	t.Helper()
	n, err := testutils.NewNS()
	if err != nil {
		t.Fatalf("create netns: %v", err)
	}
	t.Cleanup(func() {
		_ = n.Close()
		if err := testutils.UnmountNS(n); err != nil {
			t.Errorf("remove netns %s: %v", n.Path(), err)
		}
	})
	tn := &testNet{ns: n}
	tn.do(t, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		if err := netlink.LinkSetUp(lo); err != nil {
			return err
		}
		for _, a := range addrs {
			addr, err := netlink.ParseAddr(a + "/32")
			if err != nil {
				return err
			}
			if err := netlink.AddrAdd(lo, addr); err != nil {
				return fmt.Errorf("address %s: %w", a, err)
			}
		}
		return nil
	})
	return tn
}

func (tn *testNet) do(t *testing.T, f func() error) {
	t.Helper()
	if err := tn.ns.Do(func(ns.NetNS) error { return f() }); err != nil {
		t.Fatal(err)
	}
}

// serve starts, in the namespace, a TCP server and a UDP server on each
// address that answer with the address they were reached at.
func (tn *testNet) serve(t *testing.T, port int, addrs ...string) {
	t.Helper()
	tn.do(t, func() error {
		for _, a := range addrs {
			l, err := net.Listen("tcp4", net.JoinHostPort(a, fmt.Sprint(port)))
			if err != nil {
				return err
			}
			t.Cleanup(func() { l.Close() })
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					c.Write([]byte(c.LocalAddr().String()))
					c.Close()
				}
			}()
			u, err := net.ListenPacket("udp4", net.JoinHostPort(a, fmt.Sprint(port)))
			if err != nil {
				return err
			}
			t.Cleanup(func() { u.Close() })
			go func() {
				buf := make([]byte, 64)
				for {
					_, from, err := u.ReadFrom(buf)
					if err != nil {
						return
					}
					u.WriteTo([]byte(u.LocalAddr().String()), from)
				}
			}()
		}
		return nil
	})
}

// get connects over TCP to addr and returns what the server said and the
// peer address the socket reports.
func get(addr string) (string, netip.AddrPort, error) {
	c, err := net.DialTimeout("tcp4", addr, 2*time.Second)
	if err != nil {
		return "", netip.AddrPort{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	var buf [64]byte
	n, err := c.Read(buf[:])
	if err != nil {
		return "", netip.AddrPort{}, err
	}
	return string(buf[:n]), c.RemoteAddr().(*net.TCPAddr).AddrPort(), nil
}

// shellIn prepares a bash script that first moves itself into the cgroup
// dir and runs in the namespace.
func shellIn(t *testing.T, dir string, tn *testNet, script string) *exec.Cmd {
	t.Helper()
	return exec.Command("nsenter", "--net="+tn.ns.Path(), "--", "timeout", "5", "bash", "-c",
		"echo $$ > "+filepath.Join(dir, "cgroup.procs")+" && "+script)
}
