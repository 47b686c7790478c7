package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/keel-edge/keel/internal/hostaddr"
)

// PodsConfig configures the pod loop.
type PodsConfig struct {
	// NodeName is the node whose pods the loop runs.
	NodeName string
	// StateDir holds the local state file (pods.db) and the pods'
	// directories (StateDir/pods/<uid>).
	StateDir string
	// LogDir holds container logs as StateDir's pods do in
	// /var/log/pods: <ns>_<name>_<uid>/<container>/<attempt>.log.
	LogDir string
	// HostIP is the node's address reported as the pods' hostIP.
	HostIP string
	// BootID identifies this boot of the machine; sandboxes made in an
	// earlier boot are made again. Empty reads the kernel's boot id.
	BootID string
	// Allocatable is what pods may request in total; nil reads the
	// machine's CPUs and memory.
	Allocatable corev1.ResourceList
	// BindUnscheduled binds every pod with no node to this node (a
	// single-node cluster with no scheduler).
	BindUnscheduled bool
	// SyncInterval is how often the loop polls the runtime and replans.
	SyncInterval time.Duration
	// Workers bounds the pods acted on at once.
	Workers int
	// PidsLimit is each container's process limit (0: unlimited).
	PidsLimit int64
	// VolumeRefresh is how often (on Clock) running pods' configMap,
	// secret, downwardAPI and projected volumes are rewritten.
	VolumeRefresh time.Duration
	// Services lists services for the containers' service variables;
	// nil lists them through the API at each container start.
	Services ServiceLister
	// ClusterDNS are the addresses of the cluster DNS servers pods with
	// dnsPolicy ClusterFirst resolve through; with none they get the
	// node's resolver configuration and a MissingClusterDNS event.
	ClusterDNS []string
	// ClusterDomain is the cluster's DNS domain.
	ClusterDomain string
	// ResolvConf is the node's resolver configuration file: what pods
	// with dnsPolicy Default get, and the search domains appended to
	// ClusterFirst pods'. A file naming only systemd-resolved's stub is
	// replaced by systemd's list of upstreams; a missing file is empty.
	ResolvConf string
	// Clock gives the planner, prober and back-off their time.
	Clock clock.PassiveClock
	// Log receives the loop's logs.
	Log *slog.Logger
}

// DefaultPodsConfig is the loop of node name keeping its state in dir.
func DefaultPodsConfig(name, dir string) PodsConfig {
	return PodsConfig{
		NodeName: name, StateDir: dir, LogDir: "/var/log/pods",
		SyncInterval: time.Second, Workers: 8, PidsLimit: 4096, VolumeRefresh: time.Minute,
		ClusterDomain: DefaultClusterDomain, ResolvConf: "/etc/resolv.conf",
		Clock: clock.RealClock{}, Log: slog.Default(),
	}
}

// TestPodsConfig is a loop for tests: state and logs under dir, a 10ms
// sync, the given clock, fixed boot id, host IP and allocatable.
func TestPodsConfig(name, dir string, clk clock.PassiveClock) PodsConfig {
	c := DefaultPodsConfig(name, dir)
	c.LogDir = filepath.Join(dir, "logs")
	c.SyncInterval = 10 * time.Millisecond
	c.Clock = clk
	c.BootID = "test-boot"
	c.HostIP = "192.0.2.1"
	c.Allocatable = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi")}
	return c
}

// Validate checks the configuration.
func (c PodsConfig) Validate() error {
	switch {
	case c.NodeName == "":
		return errors.New("node name is required")
	case c.StateDir == "":
		return errors.New("state directory is required")
	case c.LogDir == "":
		return errors.New("log directory is required")
	case c.SyncInterval <= 0:
		return errors.New("sync interval must be positive")
	case c.Workers <= 0:
		return errors.New("workers must be positive")
	case c.VolumeRefresh <= 0:
		return errors.New("volume refresh must be positive")
	case c.Clock == nil:
		return errors.New("clock is required")
	case c.ClusterDomain == "":
		return errors.New("cluster domain is required")
	}
	return nil
}

// fillDefaults reads what the configuration left to the machine.
func (c *PodsConfig) fillDefaults() error {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.BootID == "" {
		c.BootID = readTrim("/proc/sys/kernel/random/boot_id")
		if c.BootID == "" {
			return errors.New("boot id: /proc/sys/kernel/random/boot_id is unreadable; set BootID")
		}
	}
	if c.HostIP == "" {
		if ips := hostaddr.Global(); len(ips) > 0 {
			c.HostIP = ips[0].String()
		}
	}
	if c.Allocatable == nil {
		h, err := ReadHostFacts()
		if err != nil {
			return fmt.Errorf("allocatable: %w", err)
		}
		c.Allocatable = corev1.ResourceList{
			corev1.ResourceCPU:    *resource.NewQuantity(int64(h.CPUs), resource.DecimalSI),
			corev1.ResourceMemory: *resource.NewQuantity(h.MemoryBytes, resource.BinarySI),
		}
	}
	return nil
}

// Pods is the node's pod loop: it watches the node's pods, plans with
// decide, acts through the runtime, images and network, probes
// containers, keeps local state and writes pod status and events.
type Pods struct {
	cfg     PodsConfig
	cs      kubernetes.Interface
	rt      Runtime
	images  Images
	network Network
	vols    volumes
}

// NewPods returns the pod loop of cfg.NodeName.
func NewPods(cfg PodsConfig, cs kubernetes.Interface, rt Runtime, images Images, network Network) (*Pods, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.fillDefaults(); err != nil {
		return nil, err
	}
	if rt == nil || images == nil || network == nil {
		return nil, errors.New("runtime, images and network are required")
	}
	v := volumes{Root: filepath.Join(cfg.StateDir, "pods"), Unmount: unmountDir}
	if os.Geteuid() == 0 {
		v.MountTmpfs = mountTmpfs
	}
	return &Pods{cfg: cfg, cs: cs, rt: rt, images: images, network: network, vols: v}, nil
}

// ContainerEventer is a Runtime that announces container changes (an
// exit, an OOM kill); the loop then replans at once. Runtimes without it
// are polled every SyncInterval. Its channel must not block the sender:
// a pending notification stands for any number of changes.
type ContainerEventer interface {
	ContainerEvents(ctx context.Context) <-chan struct{}
}

// mountKey names a container attempt's root filesystem in Images.Mount:
// the runtime assigns container IDs only at start.
func mountKey(uid, name string, attempt int) string {
	return fmt.Sprintf("%s_%s_%d", uid, name, attempt)
}

// podKey is "namespace/name", for logs and events.
func podKey(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
