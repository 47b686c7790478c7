package cni

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/vishvananda/netlink"
)

// TestMain lets the test binary act as the plugin when re-executed
// through a keel-cni symlink, as the agent binary does.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == PluginName {
		PluginMain()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// requirePrivileged skips a test that needs root, network namespaces
// and the given files (plugin executables) where they are unavailable,
// and fails instead on CI (CI=true), where they must be.
func requirePrivileged(t *testing.T, files ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: needs root and network namespaces (tier 2)")
	}
	reason := ""
	if os.Geteuid() != 0 {
		reason = "needs root"
	} else if _, err := os.Stat("/proc/self/ns/net"); err != nil {
		reason = "needs network namespaces"
	}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil && reason == "" {
			reason = fmt.Sprintf("needs %s (apt-get install containernetworking-plugins)", f)
		}
	}
	if reason == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: privileged tests must run)", reason)
	}
	t.Skip(reason)
}

// newNS creates a network namespace removed when the test ends.
func newNS(t *testing.T) ns.NetNS {
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
	return n
}

// pluginBinDir is a directory holding keel-cni linked to the test binary.
func pluginBinDir(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := LinkPlugin(dir, exe); err != nil {
		t.Fatal(err)
	}
	return dir
}

// testNet is a node netns and the keel-cni plugin to run in it.
type testNet struct {
	node    ns.NetNS
	bin     string
	dataDir string
	subnet  string
}

func newTestNet(t *testing.T, subnet string) *testNet {
	t.Helper()
	requirePrivileged(t)
	return &testNet{node: newNS(t), bin: filepath.Join(pluginBinDir(t), PluginName), dataDir: t.TempDir(), subnet: subnet}
}

func (tn *testNet) conf(version string) []byte {
	return fmt.Appendf(nil, `{"cniVersion":%q,"name":"keel","type":"keel-cni","bridge":"keel0","mtu":1400,"subnet":%q,"dataDir":%q}`,
		version, tn.subnet, tn.dataDir)
}

// run invokes the plugin inside the node netns.
func (tn *testNet) run(cmd, id, netns string, stdin []byte) (types.Result, error) {
	var res types.Result
	err := tn.node.Do(func(ns.NetNS) error {
		args := &invoke.Args{Command: cmd, ContainerID: id, NetNS: netns, IfName: "eth0", Path: filepath.Dir(tn.bin)}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if cmd == "ADD" {
			var err error
			res, err = invoke.ExecPluginWithResult(ctx, tn.bin, stdin, args, nil)
			return err
		}
		return invoke.ExecPluginWithoutResult(ctx, tn.bin, stdin, args, nil)
	})
	return res, err
}

// add runs ADD for id into pod and returns the pod's address.
func (tn *testNet) add(t *testing.T, id string, pod ns.NetNS) net.IP {
	t.Helper()
	res, err := tn.run("ADD", id, pod.Path(), tn.conf("1.1.0"))
	if err != nil {
		t.Fatalf("ADD %s: %v", id, err)
	}
	r, err := current.NewResultFromResult(res)
	if err != nil || len(r.IPs) != 1 {
		t.Fatalf("ADD %s: result %v, %v", id, res, err)
	}
	return r.IPs[0].Address.IP
}

// linkExists reports whether a link exists in n.
func linkExists(t *testing.T, n ns.NetNS, name string) bool {
	t.Helper()
	var found bool
	err := n.Do(func(ns.NetNS) error {
		_, err := netlink.LinkByName(name)
		if isNotFound(err) {
			return nil
		}
		found = err == nil
		return err
	})
	if err != nil {
		t.Fatalf("look up %s: %v", name, err)
	}
	return found
}

// serve listens on addr:0 inside n and answers every connection with
// "hi"; it returns the listening address.
func serve(t *testing.T, n ns.NetNS, ip net.IP) string {
	t.Helper()
	var ln net.Listener
	err := n.Do(func(ns.NetNS) error {
		var err error
		ln, err = net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
		return err
	})
	if err != nil {
		t.Fatalf("listen in %s: %v", n.Path(), err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("hi"))
			_ = c.Close()
		}
	}()
	return ln.Addr().String()
}

// dial connects from inside n to addr and reads the greeting.
func dial(n ns.NetNS, addr string) error {
	return n.Do(func(ns.NetNS) error {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 2)
		if _, err := c.Read(buf); err != nil {
			return err
		}
		if string(buf) != "hi" {
			return errors.New("unexpected greeting " + string(buf))
		}
		return nil
	})
}

func errorsJoin(errs ...error) error { return errors.Join(errs...) }

func mustPrefix(t *testing.T, s string) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
