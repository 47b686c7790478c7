package clusterdns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sync/errgroup"
)

// Config configures a Server.
type Config struct {
	// Addr is where the server answers, on UDP and TCP. It binds this
	// address only, never the wildcard.
	Addr netip.AddrPort
	// Also are more addresses the server answers at, on UDP and TCP, on
	// links it does not manage: the pod bridge's gateway address, where
	// other nodes' pods reach it through the kube-dns service. They may
	// appear on their link only later (the bridge is made with the first
	// pod): their sockets bind before the address exists. Never the
	// node's outside address, which would make it an open resolver.
	Also []netip.AddrPort
	// Link is the dummy link the server puts Addr on in its network
	// namespace, made when missing; empty when Addr is already the
	// node's.
	Link string
	// Upstreams are the resolvers (host:port) asked about names outside
	// the cluster, in order.
	Upstreams []string
	// ForwardTimeout bounds one exchange with one upstream.
	ForwardTimeout time.Duration
	// Log receives the server's logs.
	Log *slog.Logger
}

// DefaultAddr is the node-local address pods' resolv.conf names.
var DefaultAddr = netip.MustParseAddr("169.254.20.10")

// DefaultLink is the dummy link that holds DefaultAddr.
const DefaultLink = "keel.dns"

// DefaultConfig answers at 169.254.20.10:53 on the link keel.dns and
// forwards to upstreams.
func DefaultConfig(upstreams []string) Config {
	return Config{Addr: netip.AddrPortFrom(DefaultAddr, 53), Link: DefaultLink, Upstreams: upstreams,
		ForwardTimeout: 2 * time.Second, Log: slog.Default()}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case !c.Addr.IsValid():
		return errors.New("cluster DNS address is required")
	case c.Addr.Addr().IsUnspecified():
		return fmt.Errorf("cluster DNS address %s: a specific address is required, not the wildcard", c.Addr.Addr())
	case c.ForwardTimeout <= 0:
		return errors.New("forward timeout must be positive")
	}
	for _, a := range c.Also {
		if !a.IsValid() || a.Addr().IsUnspecified() || a.Port() == 0 {
			return fmt.Errorf("cluster DNS also at %s: a specific address and port are required", a)
		}
	}
	for _, u := range c.Upstreams {
		if _, _, err := net.SplitHostPort(u); err != nil {
			return fmt.Errorf("upstream %q: %w", u, err)
		}
	}
	return nil
}

// Server answers DNS queries from a view and forwards the others.
type Server struct {
	cfg  Config
	view func() *View
	ctx  context.Context
	pcs  []net.PacketConn
	lns  []net.Listener
}

// NewServer answers from the view view returns (nil while none exists
// yet: cluster names then fail with SERVFAIL).
func NewServer(cfg Config, view func() *View) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Server{cfg: cfg, view: view, ctx: context.Background()}, nil
}

// Listen puts the address on its link and opens the UDP and TCP sockets
// of every address in the calling thread's network namespace. Run calls
// it when it was not called before.
func (s *Server) Listen() error {
	if s.pcs != nil {
		return nil
	}
	if s.cfg.Link != "" {
		if err := ensureLink(s.cfg.Link, s.cfg.Addr.Addr()); err != nil {
			return err
		}
	}
	var pcs []net.PacketConn
	var lns []net.Listener
	fail := func(err error) error {
		for _, pc := range pcs {
			pc.Close()
		}
		for _, ln := range lns {
			ln.Close()
		}
		return err
	}
	for i, a := range append([]netip.AddrPort{s.cfg.Addr}, s.cfg.Also...) {
		var lc net.ListenConfig
		if i > 0 {
			lc.Control = freeBind
		}
		addr := a.String()
		pc, err := lc.ListenPacket(context.Background(), "udp", addr)
		if err != nil {
			return fail(fmt.Errorf("cluster DNS on udp %s: %w", addr, err))
		}
		pcs = append(pcs, pc)
		ln, err := lc.Listen(context.Background(), "tcp", addr)
		if err != nil {
			return fail(fmt.Errorf("cluster DNS on tcp %s: %w", addr, err))
		}
		lns = append(lns, ln)
	}
	s.pcs, s.lns = pcs, lns
	return nil
}

// Run answers until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	s.ctx = ctx
	var servers []*dns.Server
	for i := range s.pcs {
		servers = append(servers, &dns.Server{PacketConn: s.pcs[i], Handler: s}, &dns.Server{Listener: s.lns[i], Handler: s})
	}
	s.cfg.Log.Info("cluster DNS serving", "addr", s.cfg.Addr.String(), "also", s.cfg.Also, "upstreams", s.cfg.Upstreams)
	g, gctx := errgroup.WithContext(ctx)
	for _, srv := range servers {
		g.Go(func() error { return srv.ActivateAndServe() })
	}
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		for _, srv := range servers {
			srv.ShutdownContext(sctx)
		}
		return nil
	})
	err := g.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("cluster DNS: %w", err)
}

// ServeDNS answers one query.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	udp := w.LocalAddr().Network() == "udp"
	resp := s.Respond(s.ctx, req, !udp)
	Finish(req, resp, udp)
	if err := w.WriteMsg(resp); err != nil {
		s.cfg.Log.Debug("cluster DNS reply", "client", w.RemoteAddr().String(), "err", err)
	}
}

// Respond is the full answer to req, forwarded when it must be; overTCP
// says how the client asked, so a forwarded query goes the same way.
func (s *Server) Respond(ctx context.Context, req *dns.Msg, overTCP bool) *dns.Msg {
	v := s.view()
	if v == nil {
		v = NewView(Options{Domain: "cluster.local"}, nil, nil)
		if r := v.Answer(req); !r.Forward {
			return new(dns.Msg).SetRcode(req, dns.RcodeServerFailure)
		}
	}
	r := v.Answer(req)
	switch {
	case r.Forward:
		resp, err := s.forward(ctx, req, overTCP)
		if err != nil {
			s.cfg.Log.Debug("cluster DNS forward", "name", req.Question[0].Name, "err", err)
			return new(dns.Msg).SetRcode(req, dns.RcodeServerFailure)
		}
		return resp
	case r.Chase != "":
		q := new(dns.Msg).SetQuestion(r.Chase, req.Question[0].Qtype)
		up, err := s.forward(ctx, q, overTCP)
		if err != nil {
			s.cfg.Log.Debug("cluster DNS chase", "name", r.Chase, "err", err)
			return r.Msg
		}
		r.Msg.Authoritative = false
		r.Msg.Answer = append(r.Msg.Answer, up.Answer...)
		if up.Rcode == dns.RcodeNameError {
			r.Msg.Rcode = dns.RcodeNameError
		}
	}
	return r.Msg
}

// forward asks the upstreams in order, over UDP then over TCP when the
// answer was truncated, or over TCP at once when the client used it.
func (s *Server) forward(ctx context.Context, req *dns.Msg, overTCP bool) (*dns.Msg, error) {
	if len(s.cfg.Upstreams) == 0 {
		return nil, errors.New("no upstream resolvers")
	}
	var last error
	for _, up := range s.cfg.Upstreams {
		nets := []string{"udp", "tcp"}
		if overTCP {
			nets = nets[1:]
		}
		for _, n := range nets {
			c := &dns.Client{Net: n, Timeout: s.cfg.ForwardTimeout}
			resp, _, err := c.ExchangeContext(ctx, req.Copy(), up)
			if err != nil {
				last = fmt.Errorf("%s %s: %w", n, up, err)
				break
			}
			if resp.Truncated && n == "udp" {
				continue
			}
			return resp, nil
		}
	}
	return nil, last
}
