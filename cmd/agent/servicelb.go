package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/informers"

	"github.com/keel-edge/keel/agent"
	"github.com/keel-edge/keel/bpf"
	"github.com/keel-edge/keel/cni"
	"github.com/keel-edge/keel/internal/hostaddr"
)

var _ agent.ServiceMaps = (*bpf.SocketLB)(nil)

// The agent's lookup tables and the programs' must be the same size.
var _ = [1]struct{}{}[agent.LBTableSize-bpf.TableSize]

// serviceLBOptions are the flags of the service load balancer.
type serviceLBOptions struct {
	enabled   bool
	pinDir    string
	cgroup    string
	algorithm string
	external  bool
}

func (s *serviceLBOptions) addFlags(f *pflag.FlagSet) {
	f.BoolVar(&s.enabled, "service-lb", true, "load-balance services with eBPF socket programs (with --run-pods)")
	f.StringVar(&s.pinDir, "service-lb-pin-dir", "", "bpffs directory of the service load balancer's maps and links (default /sys/fs/bpf/CGROUP-PARENT)")
	f.StringVar(&s.cgroup, "service-lb-cgroup", "", `cgroup v2 path (from the v2 root) whose processes reach services: "/" covers the node and its pods (default "/" with the cgroup parent "keel", else the cgroup parent)`)
	f.BoolVar(&s.external, "service-lb-external", true, "serve NodePorts, load balancer addresses and external IPs to traffic from outside with eBPF tc programs on the uplink (the interface of --advertise-addr)")
	f.StringVar(&s.algorithm, "service-lb-algorithm", "random", "how backends fill a service's lookup table: random or maglev (annotation "+agent.AnnotationLBAlgorithm+" overrides)")
}

// placeDefaults derives the load balancer's places from the cgroup
// parent: the machine's standard agent balances every process of the
// node; any other (several agents on one machine, tests) only its own
// pods, so agents never balance each other's processes.
func (s *serviceLBOptions) placeDefaults(cgroupParent string) {
	if s.pinDir == "" {
		s.pinDir = filepath.Join("/sys/fs/bpf", cgroupParent)
	}
	if s.cgroup == "" {
		s.cgroup = "/"
		if cgroupParent != "keel" {
			s.cgroup = "/" + cgroupParent
		}
	}
}

// startServiceLB loads the socket load balancer and runs its controller
// in g. When eBPF cannot load (no bpffs, no cgroup v2, no permission) the
// node runs without it and says why: pods matter more than services.
func startServiceLB(ctx context.Context, g *errgroup.Group, o *runOptions, view informers.SharedInformerFactory, log *slog.Logger, addrs []net.IP) {
	s := o.serviceLB
	if !s.enabled {
		log.Info("service load balancing is off (--service-lb=false)")
		return
	}
	cfg := agent.DefaultServiceLBConfig(o.nodeName)
	cfg.Log = log
	switch s.algorithm {
	case "random":
	case "maglev":
		cfg.Maglev = true
	default:
		log.Error("service load balancing is off", "err", fmt.Errorf("--service-lb-algorithm %q: want random or maglev", s.algorithm))
		return
	}
	if len(addrs) == 0 {
		addrs = hostaddr.Global()
	}
	for _, ip := range addrs {
		if a, ok := netip.AddrFromSlice(ip.To4()); ok && ip.To4() != nil {
			cfg.NodeAddrs = append(cfg.NodeAddrs, a)
		}
	}
	lb, err := loadSocketLB(s)
	if err != nil {
		log.Error("service load balancing is off: services are not reachable from this node's pods", "err", err)
		return
	}
	snap, err := lb.Dump()
	if err != nil {
		lb.Close()
		log.Error("service load balancing is off", "err", err)
		return
	}
	ctrl, err := agent.NewServiceLB(cfg, view, lb, mapsContent(snap))
	if err != nil {
		lb.Close()
		log.Error("service load balancing is off", "err", err)
		return
	}
	log.Info("service load balancing", "cgroup", s.cgroup, "pins", s.pinDir, "found", len(snap.Frontends))
	tc := loadTC(s, o.advertise, log)
	g.Go(func() error {
		defer lb.Close()
		if tc != nil {
			defer tc.Close()
		}
		return ctrl.Run(ctx)
	})
}

// loadTC attaches the tc programs of traffic from outside to the uplink,
// the interface holding the advertise address (the host's first IPv4
// when none is given). Without them the node's NodePorts and load
// balancer addresses serve the node itself only, which it says.
func loadTC(s serviceLBOptions, advertise string, log *slog.Logger) *bpf.TC {
	if !s.external {
		log.Info("services are not served to traffic from outside (--service-lb-external=false)")
		return nil
	}
	adv := net.ParseIP(advertise)
	if adv == nil {
		adv = hostaddr.FirstIPv4()
	}
	addr, ok := netip.AddrFromSlice(adv.To4())
	if !ok {
		log.Error("services are not served to traffic from outside: this node has no IPv4 address; pass --advertise-addr")
		return nil
	}
	ifname, err := cni.InterfaceOf(addr)
	if err != nil {
		log.Error("services are not served to traffic from outside", "err", err)
		return nil
	}
	tc, err := bpf.LoadTC(bpf.TCConfig{PinDir: s.pinDir, Interface: ifname, NodeAddr: addr})
	if err != nil {
		log.Error("services are not served to traffic from outside", "err", err)
		return nil
	}
	log.Info("services are served to traffic from outside by tc programs", "interface", ifname, "addr", addr)
	return tc
}

func loadSocketLB(s serviceLBOptions) (*bpf.SocketLB, error) {
	root, err := bpf.CgroupV2Root()
	if err != nil {
		return nil, err
	}
	cg := filepath.Join(root, filepath.Clean("/"+s.cgroup))
	if err := os.MkdirAll(cg, 0o755); err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", cg, err)
	}
	if err := mountBPFFS(s.pinDir); err != nil {
		return nil, err
	}
	return bpf.Load(bpf.Config{PinDir: s.pinDir, Cgroup: cg})
}

// mountBPFFS mounts bpffs at /sys/fs/bpf when the pin directory is under
// it and nothing is mounted there yet, as an init system would.
func mountBPFFS(pinDir string) error {
	const std = "/sys/fs/bpf"
	if !strings.HasPrefix(filepath.Clean(pinDir)+"/", std+"/") {
		return nil
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(std, &st); err != nil {
		return fmt.Errorf("%s: %w", std, err)
	}
	const bpffsMagic = 0xcafe4a11
	if uint32(st.Type) == bpffsMagic {
		return nil
	}
	if err := syscall.Mount("bpf", std, "bpf", 0, "mode=0700"); err != nil && !errors.Is(err, syscall.EBUSY) {
		return fmt.Errorf("mount bpffs on %s: %w", std, err)
	}
	return nil
}

func mapsContent(s bpf.Snapshot) agent.LBMapsContent {
	var c agent.LBMapsContent
	for _, f := range s.Frontends {
		c.Frontends = append(c.Frontends, agent.LBMapFrontend{
			LBFrontend: agent.LBFrontend{Addr: f.Addr, Proto: f.Proto}, Service: f.Service, Affinity: f.Affinity})
	}
	for _, f := range s.External {
		c.External = append(c.External, agent.LBMapExternal{
			LBFrontend: agent.LBFrontend{Addr: f.Addr, Proto: f.Proto}, Service: f.Service, Local: f.Local})
	}
	for _, b := range s.Backends {
		c.Backends = append(c.Backends, agent.LBMapBackend{ID: b.ID, Addr: b.Addr, Service: b.Service, Local: b.Local})
	}
	for _, t := range s.Tables {
		c.Tables = append(c.Tables, t.Service)
	}
	return c
}
