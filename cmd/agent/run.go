package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/kubernetes"

	"github.com/keel-edge/keel/agent"
	"github.com/keel-edge/keel/coordinator"
	"github.com/keel-edge/keel/internal/version"
)

type runOptions struct {
	singleNode  bool
	dataDir     string
	apiAddr     string
	socket      string
	nodeName    string
	advertise   string
	serviceCIDR string
	nodePorts   string
	logLevel    string
	join        []string
	coordinator bool
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
store) and node. It writes DATA-DIR/admin.kubeconfig once the API serves.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return run(cmd.Context(), o) },
	}
	f := cmd.Flags()
	f.BoolVar(&o.singleNode, "single-node", false, "run coordinator and node in this one process")
	f.StringVar(&o.dataDir, "data-dir", def.DataDir, "directory for the agent's state")
	f.StringVar(&o.apiAddr, "api-addr", def.APIAddr, "HTTPS listen address of the API (host:port; port 0 picks one)")
	f.StringVar(&o.socket, "socket", def.Socket, "unix socket serving the API to root on this machine")
	f.StringVar(&o.nodeName, "node-name", host, "name of this node")
	f.StringVar(&o.advertise, "advertise-addr", "", "IP other machines reach this node at (default: the listen or first host address)")
	f.StringVar(&o.serviceCIDR, "service-cidr", def.ServiceCIDR, "range cluster IPs of services are allocated from")
	f.StringVar(&o.nodePorts, "service-node-port-range", def.NodePortRange, "range node ports are allocated from")
	f.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringSliceVar(&o.join, "join", nil, "addresses of cluster members to join")
	f.BoolVar(&o.coordinator, "coordinator", false, "this node may become the coordinator")
	return cmd
}

func run(ctx context.Context, o *runOptions) error {
	if !o.singleNode {
		if len(o.join) > 0 || o.coordinator {
			return errors.New("multi-node clusters (--join, --coordinator) are not available in this version; run with --single-node")
		}
		return errors.New("say --single-node to run a one-machine cluster")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: %w", o.logLevel, err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("node", o.nodeName)
	slog.SetDefault(log)

	ccfg := coordinator.DefaultConfig(o.dataDir)
	ccfg.NodeName = o.nodeName
	ccfg.APIAddr = o.apiAddr
	ccfg.Socket = o.socket
	ccfg.AdvertiseIP = o.advertise
	ccfg.ServiceCIDR = o.serviceCIDR
	ccfg.NodePortRange = o.nodePorts
	ccfg.Log = log
	coord, err := coordinator.New(ccfg)
	if err != nil {
		return err
	}
	acfg := agent.DefaultConfig(o.nodeName, version.Version)
	acfg.Node.Coordinator = true
	acfg.Log = log

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
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
		a, err := agent.New(acfg, cs)
		if err != nil {
			return err
		}
		return a.Run(gctx)
	})
	return g.Wait()
}
