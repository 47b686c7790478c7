package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/keel-edge/keel/agent"
	"github.com/keel-edge/keel/agent/membership"
	"github.com/keel-edge/keel/coordinator/keelapi"
	"github.com/keel-edge/keel/coordinator/pki"
	"github.com/keel-edge/keel/internal/hostaddr"
	"github.com/keel-edge/keel/internal/version"
)

// apiServerName is the name the API's serving certificate always carries;
// nodes dial whichever member serves and check the certificate against it.
const apiServerName = "kubernetes.default.svc"

// runCluster runs a member of a multi-node cluster: it joins (or, on the
// first coordinator, founds) the cluster, gossips, takes part in the
// coordinator election when eligible, and runs the node.
func runCluster(ctx context.Context, o *runOptions, log *slog.Logger) error {
	adv, err := advertiseAddr(o.advertise)
	if err != nil {
		return err
	}
	have, err := haveCredentials(o.dataDir)
	if err != nil {
		return err
	}
	if !have {
		if err := firstStart(ctx, o, adv, log); err != nil {
			return err
		}
	}
	creds, err := loadCredentials(o.dataDir)
	if err != nil {
		return err
	}

	_, gport, err := net.SplitHostPort(o.gossipAddr)
	if err != nil {
		return fmt.Errorf("--gossip-addr %q: %w", o.gossipAddr, err)
	}
	tags := membership.Tags{Eligible: o.coordinator}
	if o.coordinator {
		_, aport, err := net.SplitHostPort(o.apiAddr)
		if err != nil || aport == "0" {
			return fmt.Errorf("--api-addr %q: a coordinator candidate needs a fixed port", o.apiAddr)
		}
		tags.API = net.JoinHostPort(adv.String(), aport)
	}
	if _, _, err := net.SplitHostPort(o.apiAddr); err != nil {
		return fmt.Errorf("--api-addr %q: %w", o.apiAddr, err)
	}
	epochs, err := loadEpochs(filepath.Join(credDir(o.dataDir), "epoch"))
	if err != nil {
		return err
	}
	tags.Epoch = epochs.highest()
	mem, err := membership.Start(membership.Config{
		NodeName:     o.nodeName,
		Bind:         o.gossipAddr,
		Advertise:    net.JoinHostPort(adv.String(), gport),
		Key:          creds.GossipKey,
		Tags:         tags,
		SnapshotPath: filepath.Join(credDir(o.dataDir), "serf.snapshot"),
		Fast:         o.fastGossip,
		Log:          log,
	})
	if err != nil {
		return err
	}
	// A stop leaves the cluster first, while the process still has its
	// grace period ahead, so the others mark this member left (and drop
	// its routes) rather than failed; the rest shuts down after.
	leave := sync.OnceFunc(func() {
		if err := mem.Leave(); err != nil {
			log.Warn("leave the cluster", "err", err)
		}
	})
	defer leave()
	stopping, stopped := context.WithCancel(ctx)
	defer stopped()
	go func() {
		<-stopping.Done()
		leave()
	}()
	log.Info("gossip started", "addr", mem.Local().Addr.String(), "coordinator-eligible", o.coordinator)

	front, err := newAPIFront(o, creds, mem, epochs, log)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	joined := make(chan struct{})
	g.Go(func() error { return rejoin(gctx, mem, o, creds.Members, joined, log) })
	g.Go(func() error { return watchEpochs(gctx, mem, epochs, log) })
	if err := front.start(gctx); err != nil {
		return fmt.Errorf("serve the API on %s: %w", o.apiAddr, err)
	}
	defer front.stop()
	if o.coordinator {
		e := &elector{mem: mem, epochs: epochs, o: o, adv: adv, front: front, log: log, joined: joined,
			follow: &follower{
				path:        filepath.Join(o.dataDir, "store", "state.db"),
				coordinator: front.coordinator,
				client:      front.client,
				ca:          creds.CA,
				log:         log,
			}}
		g.Go(func() error { return e.run(gctx) })
	}
	g.Go(func() error {
		cs, err := kubernetes.NewForConfig(clusterClientConfig(creds, mem, epochs))
		if err != nil {
			return err
		}
		announce := func(cidr string) {
			if err := mem.UpdateTags(func(t *membership.Tags) { t.PodCIDR = cidr }); err != nil {
				log.Warn("announce the pod CIDR", "err", err)
			}
			if own, err := netip.ParsePrefix(cidr); err == nil {
				g.Go(func() error { return routePods(gctx, mem, o.nodeName, own, o.podRouting, log) })
			}
		}
		return runClusterNode(gctx, o, adv, creds, cs, announce, log)
	})
	return g.Wait()
}

// newAPIFront is the API this member serves while another one is the
// coordinator.
func newAPIFront(o *runOptions, creds *credentials, mem *membership.Membership, ep *epochs, log *slog.Logger) (*apiFront, error) {
	client, err := tls.X509KeyPair(creds.ClientCert, creds.ClientKey)
	if err != nil {
		return nil, err
	}
	if o.coordinator {
		// A candidate holds the cluster CA: root on it is the administrator.
		auth, err := pki.LoadOrCreate(filepath.Join(o.dataDir, "pki"), time.Now())
		if err != nil {
			return nil, fmt.Errorf("cluster CA: %w", err)
		}
		if client, err = tls.X509KeyPair(auth.AdminCert()); err != nil {
			return nil, err
		}
	}
	return &apiFront{
		apiAddr: o.apiAddr,
		socket:  o.socket,
		coordinator: func() (string, error) {
			addr, _, err := currentCoordinator(mem.Members(), ep.highest())
			return addr, err
		},
		client: client,
		ca:     creds.CA,
		log:    log,
	}, nil
}

// firstStart founds a cluster (a coordinator with nothing to join) or
// joins one with the token.
func firstStart(ctx context.Context, o *runOptions, adv net.IP, log *slog.Logger) error {
	ips := []net.IP{adv}
	if len(o.join) == 0 {
		if !o.coordinator {
			return errors.New("nothing to join: pass --join ADDR --token TOKEN to join a cluster, or --coordinator to found one")
		}
		log.Info("founding a new cluster", "data-dir", o.dataDir)
		return bootstrapCluster(o.dataDir, o.nodeName, ips)
	}
	if o.token == "" {
		return errors.New("--join needs --token the first time a node joins (agentctl token create prints one)")
	}
	tok, err := keelapi.ParseJoinToken(o.token)
	if err != nil {
		return fmt.Errorf("--token: %w", err)
	}
	addrs := withPort(o.join, "6443")
	for {
		err := joinCluster(ctx, o.dataDir, o.nodeName, ips, addrs, tok, o.coordinator)
		if err == nil {
			log.Info("joined the cluster", "via", strings.Join(addrs, ","))
			return nil
		}
		log.Warn("join failed; retrying in 2s", "err", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(2 * time.Second):
		}
	}
}

// rejoin keeps this member connected: it joins the members it knew (and
// saves the current ones as they change) until someone answers.
// joined is closed once it has (or there was nobody to join).
func rejoin(ctx context.Context, mem *membership.Membership, o *runOptions, known []string, joined chan<- struct{}, log *slog.Logger) error {
	changed := mem.Subscribe()
	if len(known) > 0 {
		if err := mem.JoinUntil(ctx, known, 2*time.Second); err != nil && ctx.Err() == nil {
			return err
		}
	}
	close(joined)
	var last string
	for {
		var addrs []string
		for _, m := range mem.Members() {
			if m.Status == membership.Alive && m.Name != o.nodeName {
				addrs = append(addrs, m.Addr.String())
			}
		}
		if s := strings.Join(addrs, ","); s != last && len(addrs) > 0 {
			if err := saveMembers(o.dataDir, addrs); err != nil {
				log.Warn("remember members", "err", err)
			}
			last = s
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-time.After(30 * time.Second):
		}
	}
}

// clusterClientConfig talks to the API of whichever member serves the
// newest epoch, as this node, checking the serving certificate against
// the cluster CA. A new coordinator is picked up at the next connection.
func clusterClientConfig(creds *credentials, mem *membership.Membership, epochs *epochs) *rest.Config {
	return &rest.Config{
		Host: "https://" + apiServerName,
		TLSClientConfig: rest.TLSClientConfig{
			ServerName: apiServerName,
			CAData:     creds.CA,
			CertData:   creds.ClientCert,
			KeyData:    creds.ClientKey,
		},
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			addr, _, err := currentCoordinator(mem.Members(), epochs.highest())
			if err != nil {
				return nil, err
			}
			return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
		},
		QPS: 50, Burst: 100,
		Timeout:   0,
		UserAgent: "keel-agent",
	}
}

// currentCoordinator is the API address and epoch of the alive member
// that serves the highest epoch not below floor.
func currentCoordinator(members []membership.Member, floor uint64) (string, uint64, error) {
	var addr string
	var best uint64
	for _, m := range members {
		t := m.Tags
		if m.Status != membership.Alive || !t.Serving || t.API == "" || t.Epoch < floor || t.Epoch <= best {
			continue
		}
		addr, best = t.API, t.Epoch
	}
	if addr == "" {
		return "", 0, errors.New("no coordinator is serving (yet): waiting for the election")
	}
	return addr, best, nil
}

// runClusterNode runs the node side once the coordinator has given this
// node its pod CIDR.
// The pod CIDR is announced in the member's tags, for routes between
// nodes.
func runClusterNode(ctx context.Context, o *runOptions, adv net.IP, creds *credentials, cs kubernetes.Interface, announce func(podCIDR string), log *slog.Logger) error {
	acfg := agent.DefaultConfig(o.nodeName, version.Version)
	acfg.Node.Coordinator = o.coordinator
	acfg.Node.Addresses = []net.IP{adv}
	acfg.Node.NoPods = !o.runPods
	acfg.Log = log
	g, gctx := errgroup.WithContext(ctx)
	view := clusterView(cs)
	g.Go(func() error { return announceLoadBalancers(gctx, o.nodeName, adv, view, log) })
	if !o.runPods {
		a, err := agent.New(acfg, cs)
		if err != nil {
			return err
		}
		g.Go(func() error { return a.Run(gctx) })
		return waitThenShut(g, view)
	}
	// The node registers first (without a node API port), learns its pod
	// CIDR, then starts pods and registers its node API port.
	reg, err := agent.New(acfg, cs)
	if err != nil {
		return err
	}
	regCtx, stopReg := context.WithCancel(gctx)
	regDone := make(chan struct{})
	go func() { defer close(regDone); reg.Run(regCtx) }()
	cidr, err := agent.WaitPodCIDR(gctx, cs, o.nodeName)
	stopReg()
	<-regDone
	if err != nil {
		return err
	}
	log.Info("pod CIDR assigned", "cidr", cidr)
	announce(cidr)
	node := *o
	node.podCIDR = cidr
	tlsCfg, err := nodeAPITLS(creds)
	if err != nil {
		return err
	}
	port, err := startPods(gctx, g, &node, tlsCfg, cs, view, log, acfg.Node.Addresses)
	if err != nil {
		return err
	}
	acfg.Node.APIPort = port
	acfg.Node.PodCIDR = cidr
	a, err := agent.New(acfg, cs)
	if err != nil {
		return err
	}
	g.Go(func() error { return a.Run(gctx) })
	return waitThenShut(g, view)
}

// advertiseAddr is the address other members reach this one at.
func advertiseAddr(flag string) (net.IP, error) {
	if flag != "" {
		ip := net.ParseIP(flag)
		if ip == nil {
			return nil, fmt.Errorf("--advertise-addr %q is not an IP address", flag)
		}
		return ip, nil
	}
	if ip := hostaddr.FirstIPv4(); ip != nil {
		return ip, nil
	}
	return nil, errors.New("no address to advertise: pass --advertise-addr")
}

// withPort adds port to addresses that have none.
func withPort(addrs []string, port string) []string {
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			a = net.JoinHostPort(strings.Trim(a, "[]"), port)
		}
		out = append(out, a)
	}
	return out
}

// nodeAPITLS serves the node API with the node's certificate from the
// cluster, admitting clients with certificates of the cluster CA.
func nodeAPITLS(creds *credentials) (*tls.Config, error) {
	cert, err := creds.servingPair()
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(creds.CA) {
		return nil, errors.New("node credentials: no CA certificate")
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		NextProtos:   []string{"h2", "http/1.1"},
	}, nil
}
