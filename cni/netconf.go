package cni

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"
)

// PluginName is the plugin's type in a conflist and the argv[0] name under
// which the agent binary behaves as the plugin.
const PluginName = "keel-cni"

// Defaults shared by the plugin's config and the driver's Config.
const (
	// DefaultBridge is the node bridge's name.
	DefaultBridge = "keel0"
	// DefaultMTU is the pod interfaces' MTU.
	DefaultMTU = 1500
	// DefaultDataDir holds IPAM allocations and the libcni cache.
	DefaultDataDir = "/var/lib/keel/cni"
)

// NetConf is the keel-cni plugin's configuration, read from stdin.
type NetConf struct {
	types.PluginConf
	// Bridge is the node bridge pods attach to (default keel0).
	Bridge string `json:"bridge,omitempty"`
	// MTU is the MTU of the pod's interface and its host peer (default 1500).
	MTU int `json:"mtu,omitempty"`
	// Subnet is the node's pod CIDR; its first address is the gateway,
	// held by the bridge.
	Subnet string `json:"subnet"`
	// DataDir is where allocations are persisted (default
	// /var/lib/keel/cni); each network uses its own subdirectory.
	DataDir string `json:"dataDir,omitempty"`

	// prefix is Subnet, parsed.
	prefix netip.Prefix
}

// Prefix returns the parsed pod subnet.
func (c *NetConf) Prefix() netip.Prefix { return c.prefix }

// Gateway returns the bridge's address: the first host address of the
// subnet.
func (c *NetConf) Gateway() netip.Addr { return c.prefix.Addr().Next() }

// ParseConfig reads and validates a plugin configuration, filling in
// defaults and decoding any prevResult. It touches nothing outside data.
func ParseConfig(data []byte) (*NetConf, error) {
	conf := &NetConf{}
	if err := json.Unmarshal(data, conf); err != nil {
		return nil, fmt.Errorf("parse network config: %w", err)
	}
	if conf.Bridge == "" {
		conf.Bridge = DefaultBridge
	}
	if conf.MTU == 0 {
		conf.MTU = DefaultMTU
	}
	if conf.DataDir == "" {
		conf.DataDir = DefaultDataDir
	}
	if err := conf.validate(); err != nil {
		return nil, err
	}
	if err := version.ParsePrevResult(&conf.PluginConf); err != nil {
		return nil, fmt.Errorf("network config prevResult: %w", err)
	}
	return conf, nil
}

func (c *NetConf) validate() error {
	var errs []error
	if err := validName(c.Name); err != nil {
		errs = append(errs, fmt.Errorf("name: %w", err))
	}
	if err := validIfName(c.Bridge); err != nil {
		errs = append(errs, fmt.Errorf("bridge: %w", err))
	}
	if c.MTU < 68 || c.MTU > 65535 {
		errs = append(errs, fmt.Errorf("mtu: %d is outside 68..65535", c.MTU))
	}
	if !strings.HasPrefix(c.DataDir, "/") {
		errs = append(errs, fmt.Errorf("dataDir: %q is not an absolute path", c.DataDir))
	}
	p, err := parseSubnet(c.Subnet)
	if err != nil {
		errs = append(errs, fmt.Errorf("subnet: %w", err))
	}
	c.prefix = p
	if len(errs) > 0 {
		return fmt.Errorf("network config: %w", errors.Join(errs...))
	}
	return nil
}

// parseSubnet accepts a pod CIDR in canonical form with room for a
// gateway and at least one pod.
func parseSubnet(s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, errors.New("missing (want a CIDR such as 10.244.1.0/24)")
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q: %w", s, err)
	}
	if p.Addr().Zone() != "" || p.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Errorf("%q: want a plain IPv4 or IPv6 CIDR", s)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%q has host bits set (did you mean %s?)", s, p.Masked())
	}
	if p.Addr().BitLen()-p.Bits() < 2 {
		return netip.Prefix{}, fmt.Errorf("%q is too small for a gateway and a pod", s)
	}
	return p, nil
}

// validName checks a network name as the CNI spec restricts it.
func validName(s string) error {
	if s == "" {
		return errors.New("missing")
	}
	for i, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			(i > 0 && (r == '_' || r == '.' || r == '-'))
		if !ok {
			return fmt.Errorf("%q: only letters, digits and (not first) _ . - are allowed", s)
		}
	}
	return nil
}

// validIfName checks a Linux interface name.
func validIfName(s string) error {
	if s == "" || len(s) > 15 || s == "." || s == ".." {
		return fmt.Errorf("%q: want 1 to 15 characters", s)
	}
	for _, r := range s {
		if r <= ' ' || r == '/' || r == ':' || r > '~' {
			return fmt.Errorf("%q: contains %q", s, r)
		}
	}
	return nil
}
