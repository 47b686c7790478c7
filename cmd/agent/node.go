package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/keel-edge/keel/agent"
	"github.com/keel-edge/keel/agent/nodeapi"
	"github.com/keel-edge/keel/cni"
	"github.com/keel-edge/keel/coordinator"
	"github.com/keel-edge/keel/internal/hostaddr"
	"github.com/keel-edge/keel/internal/version"
	"github.com/keel-edge/keel/runc"
	"github.com/keel-edge/keel/runc/images"
)

// The adapters implement the node loop's interfaces with runtimeapi's
// values, without importing the agent.
var (
	_ agent.Runtime = (*runc.Runtime)(nil)
	_ agent.Images  = (*images.Store)(nil)
	_ agent.Network = (*cni.Network)(nil)
)

// clusterView is the node's one cache of the cluster-wide objects its
// services follow (Services, EndpointSlices, Nodes), shared by the load
// balancer, the cluster DNS and the load balancer announcements so each
// kind is watched once. Each of them starts it; waitThenShut shuts it
// down.
func clusterView(cs kubernetes.Interface) informers.SharedInformerFactory {
	return informers.NewSharedInformerFactory(cs, 0)
}

// waitThenShut waits for g, whose end cancels the context the view's
// watches were started with, then for those watches to end.
func waitThenShut(g *errgroup.Group, view informers.SharedInformerFactory) error {
	err := g.Wait()
	view.Shutdown()
	return err
}

// runNode runs this machine's node side against the API cs: registration
// and status, and, with --run-pods, the pod loop with the libcontainer
// runtime, the image store, the CNI network and the node API.
func runNode(ctx context.Context, o *runOptions, coord *coordinator.Coordinator, cs kubernetes.Interface, log *slog.Logger) error {
	acfg := agent.DefaultConfig(o.nodeName, version.Version)
	acfg.Node.Coordinator = true
	acfg.Node.PodCIDR = o.podCIDR
	acfg.Node.NoPods = !o.runPods
	acfg.Log = log
	if ip := net.ParseIP(o.advertise); ip != nil {
		acfg.Node.Addresses = []net.IP{ip}
	}
	g, ctx := errgroup.WithContext(ctx)
	view := clusterView(cs)
	g.Go(func() error { return announceLoadBalancers(ctx, o.nodeName, net.ParseIP(o.advertise), view, log) })
	if o.runPods {
		tlsCfg, err := singleNodeAPITLS(o, coord, acfg.Node.Addresses)
		if err != nil {
			return err
		}
		port, err := startPods(ctx, g, o, tlsCfg, cs, view, log, acfg.Node.Addresses)
		if err != nil {
			return err
		}
		acfg.Node.APIPort = port
	}
	a, err := agent.New(acfg, cs)
	if err != nil {
		return err
	}
	g.Go(func() error { return a.Run(ctx) })
	return waitThenShut(g, view)
}

// singleNodeAPITLS is the node API's TLS configuration on a single-node
// cluster: a serving certificate from the coordinator's own CA naming
// every address the node reports (the host's own unless one was given).
func singleNodeAPITLS(o *runOptions, coord *coordinator.Coordinator, addrs []net.IP) (*tls.Config, error) {
	host, _ := os.Hostname()
	ips := append([]net.IP{}, addrs...)
	if len(ips) == 0 {
		ips = hostaddr.Global()
	}
	if h, _, err := net.SplitHostPort(o.nodeAPIAddr); err == nil {
		if ip := net.ParseIP(h); ip != nil && !ip.IsUnspecified() {
			ips = append(ips, ip)
		}
	}
	_, tlsCfg, err := coord.NodeServingCert([]string{o.nodeName, host}, ips)
	return tlsCfg, err
}

// startPods opens the node's adapters, starts the pod loop and the node
// API (serving with tlsCfg) in g, with the cluster DNS and the service
// load balancer following view, and returns the node API's port. The
// coordinator's scheduler binds pods to nodes.
func startPods(ctx context.Context, g *errgroup.Group, o *runOptions, tlsCfg *tls.Config, cs kubernetes.Interface, view informers.SharedInformerFactory, log *slog.Logger, addrs []net.IP) (int32, error) {
	store, err := images.Open(images.DefaultConfig(filepath.Join(o.dataDir, "images")))
	if err != nil {
		return 0, fmt.Errorf("image store: %w", err)
	}
	if err := importDir(ctx, store, filepath.Join(o.dataDir, "images", "import"), log); err != nil {
		return 0, err
	}
	rcfg := runc.DefaultConfig()
	rcfg.StateDir = filepath.Join(o.runDir, "runc")
	rcfg.CgroupParent = o.cgroupRoot
	rt, err := runc.New(rcfg)
	if err != nil {
		return 0, fmt.Errorf("runtime: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	ncfg := cni.DefaultConfig()
	ncfg.PodCIDR = o.podCIDR
	ncfg.ConfDir = o.cniConfDir
	ncfg.DataDir = filepath.Join(o.dataDir, "cni")
	ncfg.PluginBinary = self
	if ncfg.MTU, err = podMTU(o.podRouting, addrs, log); err != nil {
		return 0, fmt.Errorf("pod network: %w", err)
	}
	network, err := cni.New(ncfg)
	if err != nil {
		return 0, fmt.Errorf("pod network: %w", err)
	}
	// A user's own plugin chain does its own masquerading.
	if filepath.Base(network.Source()) == cni.ConfListName {
		if err := cni.SetupEgress(o.podCIDR, o.clusterCIDR); err != nil {
			return 0, fmt.Errorf("pod network: %w", err)
		}
	}
	pcfg := agent.DefaultPodsConfig(o.nodeName, filepath.Join(o.dataDir, "pods"))
	pcfg.LogDir = filepath.Join(o.dataDir, "logs")
	pcfg.Log = log
	if len(addrs) > 0 {
		pcfg.HostIP = addrs[0].String()
	}
	if err := startDNS(ctx, g, o, view, &pcfg, log); err != nil {
		return 0, err
	}
	var podNet agent.Network = network
	if fwd := loadFastPath(o, log); fwd != nil {
		podNet = newFastNetwork(network, fwd, log)
		g.Go(func() error { <-ctx.Done(); fwd.Close(); return nil })
	}
	pods, err := agent.NewPods(pcfg, cs, rt, store, podNet)
	if err != nil {
		return 0, err
	}
	ln, err := net.Listen("tcp", o.nodeAPIAddr)
	if err != nil {
		return 0, fmt.Errorf("node API on %s: %w", o.nodeAPIAddr, err)
	}
	api, err := nodeapi.New(nodeapi.Config{Pods: pods.View(), Images: store, TLS: tlsCfg, AllowedUsers: []string{coordinator.NodeAPIUser}, Log: log})
	if err != nil {
		ln.Close()
		return 0, err
	}
	startServiceLB(ctx, g, o, view, log, addrs)
	g.Go(func() error { return pods.Run(ctx) })
	g.Go(func() error { return api.Serve(ctx, ln) })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	p, _ := strconv.Atoi(port)
	log.Info("node API serving", "addr", ln.Addr().String())
	return int32(p), nil
}
