package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strings"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/informers"

	"github.com/keel-edge/keel/agent"
	"github.com/keel-edge/keel/agent/clusterdns"
)

// startDNS starts, in g, the cache of the cluster's Services and
// EndpointSlices and, unless --cluster-dns is empty, the node's cluster
// DNS server on that address and on the pod bridge's (the node's
// endpoint of the kube-dns service). It fills the pod loop's service
// lister and DNS settings: pods name the node's DNS, then the kube-dns
// service (--cluster-dns-service).
func startDNS(ctx context.Context, g *errgroup.Group, o *runOptions, view informers.SharedInformerFactory, pcfg *agent.PodsConfig, log *slog.Logger) error {
	opts := clusterdns.DefaultOptions()
	opts.Domain = strings.TrimSuffix(o.dnsDomain, ".")
	src, err := clusterdns.NewSource(view, opts, filepath.Join(o.dataDir, "dns", "state.json"), log)
	if err != nil {
		return fmt.Errorf("cluster DNS: %w", err)
	}
	g.Go(func() error { return src.Run(ctx) })
	pcfg.Services = src
	pcfg.ClusterDomain = opts.Domain
	pcfg.ResolvConf = o.resolvConf
	if o.clusterDNS == "" {
		return nil
	}
	addr, err := netip.ParseAddr(o.clusterDNS)
	if err != nil {
		return fmt.Errorf("--cluster-dns %q: not an IP address", o.clusterDNS)
	}
	upstreams, err := dnsUpstreams(o, addr, log)
	if err != nil {
		return err
	}
	cfg := clusterdns.DefaultConfig(upstreams)
	cfg.Addr = netip.AddrPortFrom(addr, 53)
	cfg.Log = log
	// Other nodes' pods reach this DNS through the kube-dns service at
	// the pod bridge's address.
	gw, err := podGateway(o.podCIDR)
	if err != nil {
		return err
	}
	if gw.IsValid() && gw != addr {
		cfg.Also = []netip.AddrPort{netip.AddrPortFrom(gw, 53)}
	}
	srv, err := clusterdns.NewServer(cfg, src.View)
	if err != nil {
		return fmt.Errorf("cluster DNS: %w", err)
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	g.Go(func() error { return srv.Run(ctx) })
	pcfg.ClusterDNS = []string{addr.String()}
	if o.kubeDNS != "" {
		svc, err := netip.ParseAddr(o.kubeDNS)
		if err != nil {
			return fmt.Errorf("--cluster-dns-service %q: not an IP address", o.kubeDNS)
		}
		if svc != addr {
			pcfg.ClusterDNS = append(pcfg.ClusterDNS, svc.String())
		}
	}
	return nil
}

// kubeDNSDefault is the kube-dns service's address in the service CIDR:
// its tenth, where the coordinator makes it; empty when the CIDR is not
// one or too small.
func kubeDNSDefault(serviceCIDR string) string {
	p, err := netip.ParsePrefix(serviceCIDR)
	if err != nil || p.Addr().BitLen()-p.Bits() < 4 {
		return ""
	}
	a := p.Masked().Addr()
	for range 10 {
		a = a.Next()
	}
	return a.String()
}

// podGateway is the pod bridge's address: the first of the node's pod
// CIDR. None for an empty CIDR.
func podGateway(podCIDR string) (netip.Addr, error) {
	if podCIDR == "" {
		return netip.Addr{}, nil
	}
	p, err := netip.ParsePrefix(podCIDR)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("pod CIDR %q: %w", podCIDR, err)
	}
	return p.Masked().Addr().Next(), nil
}

// dnsUpstreams are --dns-upstream's servers (port 53 unless given), else
// the nameservers of the node's resolver configuration, leaving out the
// cluster DNS address itself.
func dnsUpstreams(o *runOptions, self netip.Addr, log *slog.Logger) ([]string, error) {
	var out []string
	if len(o.dnsUpstream) > 0 {
		for _, u := range o.dnsUpstream {
			if ip, err := netip.ParseAddr(u); err == nil {
				out = append(out, net.JoinHostPort(ip.String(), "53"))
				continue
			}
			ap, err := netip.ParseAddrPort(u)
			if err != nil {
				return nil, fmt.Errorf("--dns-upstream %q: want IP or IP:port", u)
			}
			out = append(out, ap.String())
		}
		return out, nil
	}
	rc, file, err := clusterdns.ReadNodeResolvConf(o.resolvConf)
	if err != nil {
		log.Warn("cluster DNS forwards nothing: no node resolver configuration", "err", err)
		return nil, nil
	}
	for _, u := range rc.Upstreams() {
		if host, _, _ := net.SplitHostPort(u); host != self.String() {
			out = append(out, u)
		}
	}
	log.Info("cluster DNS forwards to the node's resolvers", "file", file, "upstreams", out)
	return out, nil
}
