package cni

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/keel-edge/keel/runtimeapi"
)

// PodIfName is the pod's interface.
const PodIfName = "eth0"

// Network attaches pod sandboxes to the node's pod network by running the
// node's conflist through libcni, with the pod UID as container ID and
// the pod's identity in CNI_ARGS. It implements the agent's Network.
type Network struct {
	cfg    Config
	source string
	list   *libcni.NetworkConfigList
	cni    *libcni.CNIConfig
}

// New picks the conflist (a user's, else the agent's own written for
// PodCIDR), links keel-cni under DataDir/bin and prepares libcni.
func New(cfg Config) (*Network, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	source, err := chooseConfList(cfg)
	if err != nil {
		return nil, err
	}
	list, err := loadConf(source)
	if err != nil {
		return nil, err
	}
	linkDir := filepath.Join(cfg.DataDir, "bin")
	path := append(append([]string(nil), cfg.BinDirs...), linkDir)
	if cfg.PluginBinary != "" {
		if err := LinkPlugin(linkDir, cfg.PluginBinary); err != nil {
			return nil, err
		}
	}
	return &Network{
		cfg:    cfg,
		source: source,
		list:   list,
		cni:    libcni.NewCNIConfigWithCacheDir(path, filepath.Join(cfg.DataDir, "cache"), nil),
	}, nil
}

// chooseConfList returns the first conf file in ConfDir the agent did not
// write, or writes the agent's own and returns it.
func chooseConfList(cfg Config) (string, error) {
	files, err := libcni.ConfFiles(cfg.ConfDir, []string{".conflist", ".conf", ".json"})
	if err != nil {
		return "", fmt.Errorf("read %s: %w", cfg.ConfDir, err)
	}
	sort.Strings(files)
	for _, f := range files {
		if !isOwnConfList(f) {
			return f, nil
		}
	}
	if cfg.PodCIDR == "" {
		return "", fmt.Errorf("no conflist in %s and no pod CIDR to write %s for", cfg.ConfDir, ConfListName)
	}
	return WriteDefaultConfList(cfg)
}

// loadConf reads a .conflist, or wraps a single-plugin .conf in a list.
func loadConf(path string) (*libcni.NetworkConfigList, error) {
	if filepath.Ext(path) == ".conflist" {
		list, err := libcni.NetworkConfFromFile(path)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", path, err)
		}
		return list, nil
	}
	conf, err := libcni.ConfFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	list, err := libcni.ConfListFromConf(conf)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return list, nil
}

// Source is the conf file in use.
func (n *Network) Source() string { return n.source }

// NetworkName is the name of the network in use.
func (n *Network) NetworkName() string { return n.list.Name }

func (n *Network) runtimeConf(podUID, namespace, name, netnsPath string) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{
		ContainerID: podUID,
		NetNS:       netnsPath,
		IfName:      PodIfName,
		Args: [][2]string{
			{"IgnoreUnknown", "1"},
			{"K8S_POD_NAMESPACE", namespace},
			{"K8S_POD_NAME", name},
			{"K8S_POD_UID", podUID},
		},
	}
}

// Attach runs ADD for the pod's netns, passing ports as the
// portMappings capability, and returns the pod's IPs.
func (n *Network) Attach(ctx context.Context, podUID, namespace, name, netnsPath string, ports []runtimeapi.PortMapping) ([]string, error) {
	if podUID == "" || netnsPath == "" {
		return nil, fmt.Errorf("attach pod %s/%s: pod UID and netns path are required", namespace, name)
	}
	rc := n.runtimeConf(podUID, namespace, name, netnsPath)
	if len(ports) > 0 {
		rc.CapabilityArgs = map[string]any{"portMappings": capabilityPorts(ports)}
	}
	res, err := n.cni.AddNetworkList(ctx, n.list, rc)
	if err != nil {
		return nil, fmt.Errorf("attach pod %s/%s: %w", namespace, name, err)
	}
	ips, err := podIPs(res)
	if err != nil {
		return nil, fmt.Errorf("attach pod %s/%s: %w", namespace, name, err)
	}
	return ips, nil
}

// capabilityPorts is ports in the portMappings capability's form.
func capabilityPorts(ports []runtimeapi.PortMapping) []PortMapping {
	out := make([]PortMapping, 0, len(ports))
	for _, p := range ports {
		out = append(out, PortMapping{HostPort: int(p.HostPort), ContainerPort: int(p.ContainerPort),
			Protocol: strings.ToLower(p.Protocol), HostIP: p.HostIP})
	}
	return out
}

// podIPs lists a result's addresses.
func podIPs(res types.Result) ([]string, error) {
	r, err := current.NewResultFromResult(res)
	if err != nil {
		return nil, fmt.Errorf("read plugin result: %w", err)
	}
	var ips []string
	for _, ipc := range r.IPs {
		ips = append(ips, ipc.Address.IP.String())
	}
	if len(ips) == 0 {
		return nil, errors.New("plugin result has no address")
	}
	return ips, nil
}

// Detach runs DEL; detaching a pod twice, or one whose netns is gone, is
// not an error.
func (n *Network) Detach(ctx context.Context, podUID, namespace, name, netnsPath string) error {
	if err := n.cni.DelNetworkList(ctx, n.list, n.runtimeConf(podUID, namespace, name, netnsPath)); err != nil {
		return fmt.Errorf("detach pod %s/%s: %w", namespace, name, err)
	}
	return nil
}

// Check runs CHECK: the pod's interface, address and route are still as
// ADD made them.
func (n *Network) Check(ctx context.Context, podUID, namespace, name, netnsPath string) error {
	if err := n.cni.CheckNetworkList(ctx, n.list, n.runtimeConf(podUID, namespace, name, netnsPath)); err != nil {
		return fmt.Errorf("check pod %s/%s: %w", namespace, name, err)
	}
	return nil
}

// GC detaches every cached attachment and releases every address whose
// pod UID is not in keep.
func (n *Network) GC(ctx context.Context, keep []string) error {
	args := &libcni.GCArgs{}
	for _, uid := range keep {
		args.ValidAttachments = append(args.ValidAttachments, types.GCAttachment{ContainerID: uid, IfName: PodIfName})
	}
	if err := n.cni.GCNetworkList(ctx, n.list, args); err != nil {
		return fmt.Errorf("gc network %s: %w", n.list.Name, err)
	}
	return nil
}

// Status runs STATUS: nil when the network can take new pods.
func (n *Network) Status(ctx context.Context) error {
	if err := n.cni.GetStatusNetworkList(ctx, n.list); err != nil {
		return fmt.Errorf("status of network %s: %w", n.list.Name, err)
	}
	return nil
}
