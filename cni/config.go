package cni

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Defaults of the driver's Config.
const (
	// DefaultConfDir is the conventional CNI configuration directory.
	DefaultConfDir = "/etc/cni/net.d"
	// DefaultBinDir is the conventional CNI plugin directory.
	DefaultBinDir = "/opt/cni/bin"
	// DefaultNetworkName names the network in the conflist the agent writes.
	DefaultNetworkName = "keel"
	// ConfListName is the file the agent writes its conflist to.
	ConfListName = "10-keel.conflist"
	// confListVersion is the CNI version of the written conflist; 1.1.0
	// brings GC and STATUS.
	confListVersion = "1.1.0"
)

// Config configures the Network driver.
type Config struct {
	// ConfDir holds the conflists; the first one in lexical order that the
	// agent did not write wins, else the agent writes ConfListName for its
	// pod CIDR. Default /etc/cni/net.d.
	ConfDir string
	// BinDirs are searched in order for plugin executables. Default
	// /opt/cni/bin and the agent binary's directory; DataDir/bin, where
	// the driver links keel-cni to PluginBinary, is searched last.
	BinDirs []string
	// PodCIDR is the node's pod CIDR (10.244.1.0/24); required only when
	// the driver writes its own conflist.
	PodCIDR string
	// Bridge is the node bridge's name (default keel0).
	Bridge string
	// MTU is the pods' interface MTU (default 1500).
	MTU int
	// DataDir holds IPAM allocations, the libcni result cache and the
	// keel-cni link (default /var/lib/keel/cni).
	DataDir string
	// PluginBinary is the executable that acts as keel-cni when invoked
	// by that name (default: the running executable).
	PluginBinary string
}

// DefaultConfig is the configuration of an agent installed the
// conventional way; PodCIDR is left for the caller.
func DefaultConfig() Config {
	bins := []string{DefaultBinDir}
	exe, err := os.Executable()
	if err == nil {
		bins = append(bins, filepath.Dir(exe))
	}
	return Config{
		ConfDir:      DefaultConfDir,
		BinDirs:      bins,
		Bridge:       DefaultBridge,
		MTU:          DefaultMTU,
		DataDir:      DefaultDataDir,
		PluginBinary: exe,
	}
}

// TestConfig keeps every file under root, for tests of the agent that do
// not touch /etc or /var.
func TestConfig(root, podCIDR string) Config {
	c := DefaultConfig()
	c.ConfDir = filepath.Join(root, "net.d")
	c.BinDirs = []string{filepath.Join(root, "bin")}
	c.DataDir = filepath.Join(root, "data")
	c.PodCIDR = podCIDR
	return c
}

// Validate reports every invalid field.
func (c Config) Validate() error {
	var errs []error
	abs := func(field, p string) {
		if !filepath.IsAbs(p) {
			errs = append(errs, fmt.Errorf("%s: %q is not an absolute path", field, p))
		}
	}
	abs("ConfDir", c.ConfDir)
	abs("DataDir", c.DataDir)
	if len(c.BinDirs) == 0 {
		errs = append(errs, errors.New("BinDirs: empty"))
	}
	for i, d := range c.BinDirs {
		abs(fmt.Sprintf("BinDirs[%d]", i), d)
	}
	if c.PluginBinary != "" {
		abs("PluginBinary", c.PluginBinary)
	}
	if c.PodCIDR != "" {
		if _, err := parseSubnet(c.PodCIDR); err != nil {
			errs = append(errs, fmt.Errorf("PodCIDR: %w", err))
		}
	}
	if err := validIfName(c.Bridge); err != nil {
		errs = append(errs, fmt.Errorf("Bridge: %w", err))
	}
	if c.MTU < 68 || c.MTU > 65535 {
		errs = append(errs, fmt.Errorf("MTU: %d is outside 68..65535", c.MTU))
	}
	if len(errs) > 0 {
		return fmt.Errorf("cni config: %w", errors.Join(errs...))
	}
	return nil
}

// DefaultConfList is the conflist the agent writes: one keel-cni plugin
// for the node's pod CIDR.
func DefaultConfList(c Config) ([]byte, error) {
	if _, err := parseSubnet(c.PodCIDR); err != nil {
		return nil, fmt.Errorf("conflist for pod CIDR: %w", err)
	}
	list := map[string]any{
		"cniVersion": confListVersion,
		"name":       DefaultNetworkName,
		"plugins": []map[string]any{{
			"type":    PluginName,
			"bridge":  c.Bridge,
			"mtu":     c.MTU,
			"subnet":  c.PodCIDR,
			"dataDir": c.DataDir,
			"capabilities": map[string]bool{
				"portMappings": true,
			},
		}},
	}
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode conflist: %w", err)
	}
	return append(b, '\n'), nil
}

// WriteDefaultConfList writes DefaultConfList to ConfDir/ConfListName
// (replacing it atomically) and returns its path.
func WriteDefaultConfList(c Config) (string, error) {
	b, err := DefaultConfList(c)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(c.ConfDir, 0o755); err != nil {
		return "", fmt.Errorf("write conflist: %w", err)
	}
	path := filepath.Join(c.ConfDir, ConfListName)
	if err := writeFileSync(path, b); err != nil {
		return "", err
	}
	return path, nil
}

// LinkPlugin makes dir/keel-cni a symlink to target (replacing a stale
// link), so plugin lookups by name run target as the plugin.
func LinkPlugin(dir, target string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("link %s: %w", PluginName, err)
	}
	link := filepath.Join(dir, PluginName)
	if cur, err := os.Readlink(link); err == nil && cur == target {
		return nil
	}
	tmp := link + ".tmp"
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("link %s: %w", PluginName, err)
	}
	if err := os.Rename(tmp, link); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("link %s: %w", PluginName, err)
	}
	return nil
}

// isOwnConfList reports whether a conf file is the one the agent writes.
func isOwnConfList(path string) bool {
	return strings.EqualFold(filepath.Base(path), ConfListName)
}
