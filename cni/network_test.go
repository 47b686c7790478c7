package cni

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/keel-edge/keel/agent"
	"github.com/keel-edge/keel/runtimeapi"
)

// The driver satisfies the agent's contract; the assertion lives in a
// test so the package itself never imports agent.
var _ agent.Network = (*Network)(nil)

func TestConfig_validate(t *testing.T) {
	ok := TestConfig("/tmp/x", "10.244.0.0/24")
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{name: "valid", mutate: func(*Config) {}},
		{name: "no pod CIDR yet", mutate: func(c *Config) { c.PodCIDR = "" }},
		{name: "relative conf dir", mutate: func(c *Config) { c.ConfDir = "net.d" }, wantErr: "ConfDir"},
		{name: "no bin dirs", mutate: func(c *Config) { c.BinDirs = nil }, wantErr: "BinDirs: empty"},
		{name: "relative bin dir", mutate: func(c *Config) { c.BinDirs = []string{"/a", "b"} }, wantErr: "BinDirs[1]"},
		{name: "bad cidr", mutate: func(c *Config) { c.PodCIDR = "10.0.0.0/33" }, wantErr: "PodCIDR"},
		{name: "bad bridge", mutate: func(c *Config) { c.Bridge = "a/b" }, wantErr: "Bridge"},
		{name: "bad mtu", mutate: func(c *Config) { c.MTU = 0 }, wantErr: "MTU"},
		{name: "relative data dir", mutate: func(c *Config) { c.DataDir = "d" }, wantErr: "DataDir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			c.BinDirs = slices.Clone(ok.BinDirs)
			tt.mutate(&c)
			err := c.Validate()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Validate = %v, want %q", err, tt.wantErr)
			}
		})
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig: %v", err)
	}
}

func TestDefaultConfList_isValidForLibcniAndPlugin(t *testing.T) {
	c := TestConfig(t.TempDir(), "10.244.3.0/24")
	c.MTU = 1450
	path, err := WriteDefaultConfList(c)
	if err != nil {
		t.Fatal(err)
	}
	list, err := libcni.NetworkConfFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if list.Name != DefaultNetworkName || list.CNIVersion != "1.1.0" || len(list.Plugins) != 1 || list.Plugins[0].Network.Type != PluginName {
		t.Fatalf("conflist = %+v", list)
	}
	// libcni adds name and cniVersion to each plugin's config on
	// invocation; the entry's own fields must carry through.
	entry, err := libcni.InjectConf(list.Plugins[0], map[string]any{"name": list.Name, "cniVersion": list.CNIVersion})
	if err != nil {
		t.Fatal(err)
	}
	conf, err := ParseConfig(entry.Bytes)
	if err != nil {
		t.Fatalf("plugin entry rejected by the plugin: %v", err)
	}
	if conf.Subnet != "10.244.3.0/24" || conf.MTU != 1450 || conf.DataDir != c.DataDir || conf.Bridge != DefaultBridge {
		t.Fatalf("plugin entry = %+v", conf)
	}
	if !list.Plugins[0].Network.Capabilities["portMappings"] {
		t.Fatalf("conflist does not declare the portMappings capability: %+v", list.Plugins[0].Network.Capabilities)
	}
	if _, err := DefaultConfList(TestConfig("/x", "")); err == nil {
		t.Fatal("conflist without a pod CIDR accepted")
	}
}

func TestNew_choosesConfList(t *testing.T) {
	user := `{"cniVersion":"1.0.0","name":"mine","plugins":[{"type":"bridge"}]}`
	tests := []struct {
		name    string
		files   map[string]string
		cidr    string
		want    string
		wantErr string
	}{
		{name: "writes its own", cidr: "10.5.0.0/24", want: "keel"},
		{name: "user conflist wins", files: map[string]string{"20-mine.conflist": user}, cidr: "10.5.0.0/24", want: "mine"},
		{name: "user conflist beats an old own one", files: map[string]string{"10-keel.conflist": "{}", "99-mine.conflist": user}, want: "mine"},
		{name: "single conf wrapped", files: map[string]string{"30-one.conf": `{"cniVersion":"1.0.0","name":"one","type":"bridge"}`}, want: "one"},
		{name: "nothing to use", wantErr: "no pod CIDR"},
		{name: "broken user conflist", files: map[string]string{"20-bad.conflist": "{"}, wantErr: "20-bad.conflist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := TestConfig(t.TempDir(), tt.cidr)
			c.PluginBinary = "/bin/true"
			if err := os.MkdirAll(c.ConfDir, 0o755); err != nil {
				t.Fatal(err)
			}
			for name, body := range tt.files {
				if err := os.WriteFile(filepath.Join(c.ConfDir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			n, err := New(c)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n.NetworkName() != tt.want {
				t.Fatalf("network = %s (%s), want %s", n.NetworkName(), n.Source(), tt.want)
			}
			if target, err := os.Readlink(filepath.Join(c.DataDir, "bin", PluginName)); err != nil || target != "/bin/true" {
				t.Fatalf("keel-cni link = %q, %v", target, err)
			}
		})
	}
}

// nodeNetwork builds a driver whose plugins run in a fresh node netns.
func nodeNetwork(t *testing.T, cfg Config) (*Network, ns.NetNS) {
	t.Helper()
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n, newNS(t)
}

func inNS[T any](t *testing.T, n ns.NetNS, fn func(ctx context.Context) (T, error)) (T, error) {
	t.Helper()
	var out T
	err := n.Do(func(ns.NetNS) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var err error
		out, err = fn(ctx)
		return err
	})
	return out, err
}

func TestNetwork_throughLibcni(t *testing.T) {
	requirePrivileged(t)
	cfg := TestConfig(t.TempDir(), "10.95.0.0/24")
	cfg.BinDirs = []string{t.TempDir()} // keel-cni is found through DataDir/bin
	net1, node := nodeNetwork(t, cfg)
	pod1, pod2 := newNS(t), newNS(t)

	ips, err := inNS(t, node, func(ctx context.Context) ([]string, error) {
		return net1.Attach(ctx, "uid-1", "default", "web", pod1.Path(), []runtimeapi.PortMapping{{HostPort: 18081, ContainerPort: 80, Protocol: "TCP"}})
	})
	if err != nil || !slices.Equal(ips, []string{"10.95.0.2"}) {
		t.Fatalf("Attach = %v, %v; want [10.95.0.2]", ips, err)
	}
	// The ports reached the plugin as the portMappings capability.
	if rules := natRules(t, node, chainHostPorts); len(rules) != 1 || ruleTag(rules[0]) != "pod uid-1" {
		t.Fatalf("host port rules after Attach: %d", len(rules))
	}
	if err := dial(node, serve(t, pod1, net.ParseIP(ips[0]))); err != nil {
		t.Fatalf("node -> attached pod: %v", err)
	}
	// The pod's identity went to the plugin in CNI_ARGS.
	atts, err := net1.cni.GetCachedAttachments("uid-1")
	if err != nil || len(atts) != 1 {
		t.Fatalf("cached attachments = %v, %v", atts, err)
	}
	for _, kv := range [][2]string{{"K8S_POD_NAMESPACE", "default"}, {"K8S_POD_NAME", "web"}, {"K8S_POD_UID", "uid-1"}} {
		if !slices.Contains(atts[0].CniArgs, kv) {
			t.Errorf("CNI_ARGS %v lacks %v", atts[0].CniArgs, kv)
		}
	}
	if _, err := inNS(t, node, func(ctx context.Context) (any, error) {
		return nil, errorsJoin(net1.Check(ctx, "uid-1", "default", "web", pod1.Path()), net1.Status(ctx))
	}); err != nil {
		t.Fatalf("Check/Status: %v", err)
	}

	// A driver made after a restart sees the same allocations.
	net2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ips, err = inNS(t, node, func(ctx context.Context) ([]string, error) {
		return net2.Attach(ctx, "uid-2", "default", "db", pod2.Path(), nil)
	})
	if err != nil || !slices.Equal(ips, []string{"10.95.0.3"}) {
		t.Fatalf("Attach after restart = %v, %v; want [10.95.0.3]", ips, err)
	}

	// GC keeping only uid-1 detaches uid-2 and frees its address.
	if _, err := inNS(t, node, func(ctx context.Context) (any, error) { return nil, net2.GC(ctx, []string{"uid-1"}) }); err != nil {
		t.Fatalf("GC: %v", err)
	}
	if linkExists(t, node, hostVethName("uid-2", "eth0")) || linkExists(t, pod2, "eth0") {
		t.Fatal("GC left uid-2's veth")
	}
	if !linkExists(t, node, hostVethName("uid-1", "eth0")) {
		t.Fatal("GC removed uid-1's veth")
	}

	for i := range 2 {
		if _, err := inNS(t, node, func(ctx context.Context) (any, error) {
			return nil, net2.Detach(ctx, "uid-1", "default", "web", pod1.Path())
		}); err != nil {
			t.Fatalf("Detach #%d: %v", i+1, err)
		}
	}
	if linkExists(t, pod1, "eth0") {
		t.Fatal("Detach left eth0")
	}
	if rules := natRules(t, node, chainHostPorts); len(rules) != 0 {
		t.Fatalf("Detach left %d host port rules", len(rules))
	}
	s, err := OpenStore(cfg.DataDir, DefaultNetworkName, mustPrefix(t, cfg.PodCIDR))
	if err != nil {
		t.Fatal(err)
	}
	if all, err := s.Allocations(); err != nil || len(all) != 0 {
		t.Fatalf("allocations after Detach and GC = %v, %v", all, err)
	}
}

func TestNetwork_referencePluginsInPlace(t *testing.T) {
	const bin = "/usr/lib/cni"
	requirePrivileged(t, bin+"/bridge", bin+"/host-local", bin+"/loopback")
	root := t.TempDir()
	cfg := TestConfig(root, "")
	cfg.BinDirs = []string{bin}
	if err := os.MkdirAll(cfg.ConfDir, 0o755); err != nil {
		t.Fatal(err)
	}
	conflist := fmt.Sprintf(`{"cniVersion":"1.0.0","name":"ref","plugins":[
  {"type":"bridge","bridge":"refbr0","isGateway":true,"ipMasq":false,
   "ipam":{"type":"host-local","ranges":[[{"subnet":"10.94.0.0/24"}]],"dataDir":%q}},
  {"type":"loopback"}]}`, filepath.Join(root, "host-local"))
	if err := os.WriteFile(filepath.Join(cfg.ConfDir, "50-ref.conflist"), []byte(conflist), 0o644); err != nil {
		t.Fatal(err)
	}
	n, node := nodeNetwork(t, cfg)
	pod := newNS(t)
	ips, err := inNS(t, node, func(ctx context.Context) ([]string, error) {
		return n.Attach(ctx, "ref-uid", "default", "ref", pod.Path(), nil)
	})
	if err != nil || len(ips) != 1 || !strings.HasPrefix(ips[0], "10.94.0.") {
		t.Fatalf("Attach with the reference plugins = %v, %v", ips, err)
	}
	if err := dial(node, serve(t, pod, net.ParseIP(ips[0]))); err != nil {
		t.Fatalf("node -> pod on the reference bridge: %v", err)
	}
	if err := dial(pod, serve(t, pod, net.ParseIP("127.0.0.1"))); err != nil {
		t.Fatalf("pod loopback: %v", err)
	}
	if _, err := inNS(t, node, func(ctx context.Context) (any, error) {
		return nil, errorsJoin(n.Check(ctx, "ref-uid", "default", "ref", pod.Path()),
			n.Detach(ctx, "ref-uid", "default", "ref", pod.Path()),
			n.Detach(ctx, "ref-uid", "default", "ref", pod.Path()))
	}); err != nil {
		t.Fatalf("Check/Detach: %v", err)
	}
	if linkExists(t, pod, "eth0") {
		t.Fatal("Detach left eth0")
	}
}
