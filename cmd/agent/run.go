package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/keel-edge/keel/agent"
	"github.com/keel-edge/keel/agent/clusterdns"
	"github.com/keel-edge/keel/cni"
	"github.com/keel-edge/keel/coordinator"
	"github.com/keel-edge/keel/coordinator/controllers"
)

type runOptions struct {
	config      string
	singleNode  bool
	dataDir     string
	apiAddr     string
	socket      string
	nodeName    string
	advertise   string
	serviceCIDR string
	nodePorts   string
	lbPool      string
	logLevel    string
	join        []string
	coordinator bool
	token       string
	gossipAddr  string
	fastGossip  bool
	clusterCIDR string
	nodeGrace   time.Duration
	tolerationS int64
	runPods     bool
	podCIDR     string
	podRouting  cni.RoutingMode
	podFastPath bool
	runDir      string
	nodeAPIAddr string
	cniConfDir  string
	cgroupRoot  string
	serviceLB   serviceLBOptions
	clusterDNS  string
	kubeDNS     string
	dnsDomain   string
	resolvConf  string
	dnsUpstream []string
}

func newRunCmd() *cobra.Command {
	host, _ := os.Hostname()
	def := coordinator.DefaultConfig("/var/lib/keel")
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the agent in the foreground",
		Long: `Run the agent in the foreground.

With --single-node the agent is the whole cluster: coordinator (API server,
store) and node. It writes DATA-DIR/admin.kubeconfig once the API serves.

Without it the agent is a member of a cluster. The first coordinator
founds one:
  agent run --coordinator --data-dir DIR
and the others join it with a token from "agentctl token create":
  agent run --join HOST:6443 --token K10... [--coordinator]
A coordinator candidate writes DATA-DIR/admin.kubeconfig while it serves.

A single-node agent, or one with the default --data-dir, uses the
machine's standard places: /run/keel/agent.sock, /run/keel, /etc/cni/net.d
and the cgroup "keel". A cluster member with another --data-dir derives
its own from its node name, so several members share a machine without
colliding: /run/keel/NODE/agent.sock, /run/keel/NODE, DATA-DIR/cni/net.d
and the cgroup "keel-NODE".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.config != "" {
				if err := applyConfigFile(cmd.Flags(), o.config); err != nil {
					return err
				}
			}
			o.placeDefaults(def.DataDir, def.Socket)
			if !cmd.Flags().Changed("cluster-dns-service") {
				o.kubeDNS = kubeDNSDefault(o.serviceCIDR)
			}
			o.serviceLB.placeDefaults(o.cgroupRoot)
			return run(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.config, "config", "", "YAML file of flag values (keys are flag names; the command line wins)")
	f.BoolVar(&o.singleNode, "single-node", false, "run coordinator and node in this one process")
	f.StringVar(&o.dataDir, "data-dir", def.DataDir, "directory for the agent's state")
	f.StringVar(&o.apiAddr, "api-addr", def.APIAddr, "HTTPS listen address of the API (host:port; port 0 picks one)")
	f.StringVar(&o.socket, "socket", "", "unix socket serving the API to root on this machine (default "+def.Socket+"; see below)")
	f.StringVar(&o.nodeName, "node-name", host, "name of this node")
	f.StringVar(&o.advertise, "advertise-addr", "", "IP other machines reach this node at (default: the listen or first host address)")
	f.StringVar(&o.serviceCIDR, "service-cidr", def.ServiceCIDR, "range cluster IPs of services are allocated from")
	f.StringVar(&o.nodePorts, "service-node-port-range", def.NodePortRange, "range node ports are allocated from")
	f.StringVar(&o.lbPool, "loadbalancer-pool", "", "addresses LoadBalancer services are given: CIDRs and FIRST-LAST ranges, comma-separated (coordinators; empty: services stay pending)")
	f.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringSliceVar(&o.join, "join", nil, "API addresses (host[:port]) of cluster members to join through, the first time")
	f.BoolVar(&o.coordinator, "coordinator", false, "this node may become the coordinator")
	f.StringVar(&o.token, "token", "", "join token (K10...), needed the first time a node joins")
	f.StringVar(&o.gossipAddr, "gossip-addr", "0.0.0.0:7946", "gossip listen address (host:port)")
	f.BoolVar(&o.fastGossip, "fast-gossip", false, "detect failed members in about two seconds (small clusters on fast networks)")
	f.StringVar(&o.clusterCIDR, "cluster-cidr", def.ClusterCIDR, "pod network of the cluster; each node gets a /24 of it")
	f.DurationVar(&o.nodeGrace, "node-monitor-grace-period", def.NodeMonitorGracePeriod, "how long a node may stay silent before it is marked unreachable (coordinators)")
	f.Int64Var(&o.tolerationS, "default-toleration-seconds", def.DefaultTolerationSeconds, "how long pods stay on an unreachable or not-ready node unless they say otherwise (coordinators)")
	f.BoolVar(&o.runPods, "run-pods", true, "run the pods bound to this node (containers, pod network, node API)")
	f.StringVar(&o.podCIDR, "pod-cidr", "10.244.0.0/24", "this node's pod address range")
	f.TextVar(&o.podRouting, "pod-routing", cni.RoutingAuto, "routes to other nodes' pods: auto (direct to nodes on a connected subnet, else vxlan), direct or vxlan")
	f.BoolVar(&o.podFastPath, "pod-fast-path", true, "forward pod traffic to and from other nodes' pods with eBPF programs, past the bridge and the node's netfilter (off when they cannot load)")
	f.StringVar(&o.runDir, "run-dir", "", "directory for state that lives until reboot (default /run/keel; see below)")
	f.StringVar(&o.nodeAPIAddr, "node-api-addr", "0.0.0.0:10250", "listen address of the node API (logs, exec, port-forward)")
	f.StringVar(&o.cniConfDir, "cni-conf-dir", "", "directory of CNI network configurations (default /etc/cni/net.d; see below)")
	f.StringVar(&o.cgroupRoot, "cgroup-parent", "", "cgroup under which every container's cgroup is made (default keel; see below)")
	o.serviceLB.addFlags(f)
	f.StringVar(&o.clusterDNS, "cluster-dns", clusterdns.DefaultAddr.String(), "node-local address the cluster DNS serves on and pods resolve through (empty: no cluster DNS)")
	f.StringVar(&o.kubeDNS, "cluster-dns-service", "", "cluster IP of the kube-dns service, pods' second nameserver, which reaches other nodes' cluster DNS when this node's does not answer (default: the tenth address of --service-cidr; empty: none)")
	f.StringVar(&o.dnsDomain, "cluster-domain", agent.DefaultClusterDomain, "DNS domain of services and pods")
	f.StringVar(&o.resolvConf, "resolv-conf", "/etc/resolv.conf", "the node's resolver configuration, for pods with dnsPolicy Default and the cluster DNS's upstreams")
	f.StringSliceVar(&o.dnsUpstream, "dns-upstream", nil, "resolvers (IP or IP:port) the cluster DNS forwards other names to (default: the nameservers of --resolv-conf)")
	return cmd
}

func run(ctx context.Context, o *runOptions) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: %w", o.logLevel, err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("node", o.nodeName)
	slog.SetDefault(log)
	// client-go and the streaming libraries log through klog: into the
	// same structured log.
	klog.SetSlogLogger(log.With("component", "k8s"))
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := controllers.ParseLoadBalancerPool(o.lbPool); err != nil {
		return fmt.Errorf("--loadbalancer-pool: %w", err)
	}
	if !o.singleNode {
		return runCluster(ctx, o, log)
	}
	if len(o.join) > 0 || o.token != "" {
		return errors.New("--single-node runs a one-machine cluster: it does not take --join or --token")
	}

	ccfg := coordinator.DefaultConfig(o.dataDir)
	ccfg.NodeName = o.nodeName
	ccfg.APIAddr = o.apiAddr
	ccfg.Socket = o.socket
	ccfg.AdvertiseIP = o.advertise
	ccfg.ServiceCIDR = o.serviceCIDR
	ccfg.NodePortRange = o.nodePorts
	ccfg.LoadBalancerPool = o.lbPool
	ccfg.ClusterCIDR = o.clusterCIDR
	ccfg.NodeMonitorGracePeriod = o.nodeGrace
	ccfg.DefaultTolerationSeconds = o.tolerationS
	ccfg.Log = log
	coord, err := coordinator.New(ccfg)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return coord.Run(gctx) })
	g.Go(func() error {
		select {
		case <-gctx.Done():
			return nil
		case <-coord.Ready():
		}
		cs, err := kubernetes.NewForConfig(coordinator.LocalConfig(o.socket))
		if err != nil {
			return err
		}
		return runNode(gctx, o, coord, cs, log)
	})
	return g.Wait()
}

// placeDefaults fills the places left unset: the machine's standard ones
// for a single-node agent or the agent of the default data directory, and
// ones derived from the node name for any other cluster member, so several
// members share a machine.
func (o *runOptions) placeDefaults(defaultDataDir, defaultSocket string) {
	standard := o.singleNode || filepath.Clean(o.dataDir) == filepath.Clean(defaultDataDir)
	pick := func(v *string, std, own string) {
		if *v != "" {
			return
		}
		*v = std
		if !standard {
			*v = own
		}
	}
	pick(&o.runDir, "/run/keel", filepath.Join("/run/keel", o.nodeName))
	pick(&o.socket, defaultSocket, filepath.Join("/run/keel", o.nodeName, "agent.sock"))
	pick(&o.cniConfDir, "/etc/cni/net.d", filepath.Join(o.dataDir, "cni", "net.d"))
	pick(&o.cgroupRoot, "keel", "keel-"+o.nodeName)
}
