// Package coordinator is the cluster's control plane as one component of
// the agent: the store, the API server over it, and the loops that keep
// cluster objects true. It imports no node-side package.
package coordinator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/kubernetes"

	"github.com/keel-edge/keel/coordinator/apiserver"
	"github.com/keel-edge/keel/coordinator/controllers"
	"github.com/keel-edge/keel/coordinator/encrypt"
	"github.com/keel-edge/keel/coordinator/keelapi"
	"github.com/keel-edge/keel/coordinator/kinds"
	"github.com/keel-edge/keel/coordinator/openapi"
	"github.com/keel-edge/keel/coordinator/pki"
	"github.com/keel-edge/keel/coordinator/scheduler"
	"github.com/keel-edge/keel/coordinator/store"
	keelversion "github.com/keel-edge/keel/internal/version"
)

// Config configures a coordinator.
type Config struct {
	// DataDir holds the store (DataDir/store), the trust material
	// (DataDir/pki) and admin.kubeconfig.
	DataDir string
	// NodeName is the name of the node this coordinator runs on.
	NodeName string
	// APIAddr is the HTTPS listen address of the API, host:port; port 0
	// picks a free one.
	APIAddr string
	// AdvertiseIP is the address other machines reach the API at; when
	// unset it is the listen host, or the host's first non-loopback IPv4
	// when the API listens on every address.
	AdvertiseIP string
	// Socket is the path of the local unix socket serving the same API.
	Socket string
	// ServiceCIDR is the range cluster IPs are allocated from.
	ServiceCIDR string
	// ClusterCIDR is the pod network; each node gets a /NodeCIDRBits
	// range of it.
	ClusterCIDR  string
	NodeCIDRBits int
	// NodePortRange is the range node ports are allocated from, "MIN-MAX".
	NodePortRange string
	// LoadBalancerPool lists the addresses LoadBalancer services are given
	// (comma-separated CIDRs and FIRST-LAST ranges); empty leaves them
	// pending. See controllers.ParseLoadBalancerPool.
	LoadBalancerPool string
	// MemberIPs lists the cluster members' addresses, which the API's
	// serving certificate names too: other members pass API connections
	// through to the coordinator. Nil on a single-node cluster.
	MemberIPs func() []net.IP
	// GossipMembers lists gossip addresses a joining node can join; nil
	// when the cluster runs without gossip, and then nodes cannot join.
	GossipMembers func() []string
	// Controllers runs the controllers and the scheduler.
	// Tests that drive controllers of their own turn it off.
	Controllers bool
	// NodeMonitorGracePeriod is how long a node may stay silent before it
	// is marked unreachable; see controllers.Config.
	NodeMonitorGracePeriod time.Duration
	// DefaultTolerationSeconds is how long a pod without tolerations of
	// its own stays on a node that is not ready or unreachable before it
	// is evicted (Kubernetes: 300).
	DefaultTolerationSeconds int64
	// Log receives the coordinator's logs.
	Log *slog.Logger
}

// DefaultConfig returns the configuration of a coordinator keeping its
// state in dataDir.
func DefaultConfig(dataDir string) Config {
	host, _ := os.Hostname()
	return Config{
		DataDir:       dataDir,
		NodeName:      host,
		APIAddr:       "0.0.0.0:6443",
		Socket:        "/run/keel/agent.sock",
		ServiceCIDR:   "10.96.0.0/12",
		ClusterCIDR:   "10.244.0.0/16",
		NodeCIDRBits:  24,
		NodePortRange: fmt.Sprintf("%d-%d", defaultNodePortMin, defaultNodePortMax),
		Controllers:   true,
		Log:           slog.Default(),

		NodeMonitorGracePeriod:   8 * time.Second,
		DefaultTolerationSeconds: 5,
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("data directory is required")
	}
	if c.NodeName == "" {
		return errors.New("node name is required")
	}
	if _, _, err := net.SplitHostPort(c.APIAddr); err != nil {
		return fmt.Errorf("api address %q: %w", c.APIAddr, err)
	}
	if c.Socket == "" {
		return errors.New("socket path is required")
	}
	if c.NodeMonitorGracePeriod <= 0 || c.DefaultTolerationSeconds < 0 {
		return errors.New("node monitor grace period must be positive and default toleration seconds not negative")
	}
	if _, err := netip.ParsePrefix(c.ServiceCIDR); err != nil {
		return fmt.Errorf("service CIDR %q: %w", c.ServiceCIDR, err)
	}
	if _, err := parsePortRange(c.NodePortRange); err != nil {
		return err
	}
	if _, err := controllers.ParseLoadBalancerPool(c.LoadBalancerPool); err != nil {
		return err
	}
	if _, err := newPodCIDRAlloc(nil, c.ClusterCIDR, c.NodeCIDRBits); err != nil {
		return err
	}
	if c.AdvertiseIP != "" {
		if _, err := netip.ParseAddr(c.AdvertiseIP); err != nil {
			return fmt.Errorf("advertise address %q: %w", c.AdvertiseIP, err)
		}
	}
	return nil
}

func parsePortRange(s string) ([2]int32, error) {
	var lo, hi int32
	if _, err := fmt.Sscanf(s, "%d-%d", &lo, &hi); err != nil || lo < 1 || hi > 65535 || lo > hi {
		return [2]int32{}, fmt.Errorf("node port range %q: want MIN-MAX within 1-65535", s)
	}
	return [2]int32{lo, hi}, nil
}

// Coordinator runs the control plane.
type Coordinator struct {
	cfg   Config
	ready chan struct{}

	mu     sync.Mutex
	apiURL string
	store  *store.Store
	auth   *pki.Authority
}

// New checks cfg and returns a coordinator ready to Run.
func New(cfg Config) (*Coordinator, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Coordinator{cfg: cfg, ready: make(chan struct{})}, nil
}

// Ready is closed once the API serves and admin.kubeconfig is written.
func (c *Coordinator) Ready() <-chan struct{} { return c.ready }

// APIURL is the HTTPS URL of the API once Ready.
func (c *Coordinator) APIURL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.apiURL
}

// KubeconfigPath is where the admin kubeconfig is written.
func (c *Coordinator) KubeconfigPath() string {
	return filepath.Join(c.cfg.DataDir, "admin.kubeconfig")
}

// Run serves until ctx ends, then stops everything it started.
func (c *Coordinator) Run(ctx context.Context) error {
	cfg := c.cfg
	log := cfg.Log
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	now := time.Now()
	auth, err := pki.LoadOrCreate(filepath.Join(cfg.DataDir, "pki"), now)
	if err != nil {
		return fmt.Errorf("cluster CA: %w", err)
	}
	encKeyPath := filepath.Join(cfg.DataDir, "pki", "encryption.key")
	seal, err := encrypt.LoadOrCreateKey(encKeyPath)
	if err != nil {
		return fmt.Errorf("encryption key: %w", err)
	}
	reg, err := kinds.Builtin()
	if err != nil {
		return fmt.Errorf("kinds: %w", err)
	}
	scfg := store.DefaultConfig(filepath.Join(cfg.DataDir, "store", "state.db"))
	scfg.Transformers = map[string]store.Transformer{}
	for _, k := range reg.All() {
		if k.Sensitive {
			scfg.Transformers[apiserver.Bucket(k)] = seal
		}
	}
	st, err := store.Open(scfg)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	c.mu.Lock()
	c.store, c.auth = st, auth
	c.mu.Unlock()

	oapi, err := openapi.New(reg)
	if err != nil {
		return fmt.Errorf("openapi: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.APIAddr, err)
	}
	defer ln.Close()
	addr := ln.Addr().(*net.TCPAddr)
	advertise := advertiseIP(cfg.AdvertiseIP, addr.IP)
	port := strconv.Itoa(addr.Port)
	host, _ := os.Hostname()
	cert, err := auth.ServingCert([]string{host, cfg.NodeName}, servingIPs(addr.IP, advertise), now)
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	tlsCfg := auth.TLSConfig(cert)
	if cfg.MemberIPs != nil {
		sc := &servingCerts{auth: auth, names: []string{host, cfg.NodeName}, base: servingIPs(addr.IP, advertise),
			extra: cfg.MemberIPs, chain: auth.ChainWithCA}
		tlsCfg.Certificates, tlsCfg.GetCertificate = nil, sc.get
	}
	tlsLn := tlsListener(ln, tlsCfg)
	portRange, _ := parsePortRange(cfg.NodePortRange)
	cidr, _ := netip.ParsePrefix(cfg.ServiceCIDR)

	repl := &replication{st: st, poll: 20 * time.Millisecond, heartbeat: time.Second}
	podCIDRs, err := newPodCIDRAlloc(st, cfg.ClusterCIDR, cfg.NodeCIDRBits)
	if err != nil {
		return err
	}
	local, err := kubernetes.NewForConfig(LocalConfig(cfg.Socket))
	if err != nil {
		return err
	}
	nodes := newNodeDialer(auth, local)
	advertiseURL := "https://" + net.JoinHostPort(advertise.String(), port)
	localURL := "https://" + net.JoinHostPort(localHost(addr.IP), port)
	srv, err := apiserver.New(apiserver.Config{
		Kinds: reg,
		Store: st,
		Authenticate: func(r *http.Request) (apiserver.User, bool) {
			u, ok := auth.Authenticate(r)
			return apiserver.User{Name: u.Name, Groups: u.Groups}, ok
		},
		Authorize:     authorize,
		OpenAPI:       oapi,
		Version:       serverVersion(),
		ServerAddress: net.JoinHostPort(advertise.String(), port),
		Status: func() keelapi.ClusterStatus {
			return keelapi.ClusterStatus{Coordinator: cfg.NodeName, Node: cfg.NodeName, APIAddress: advertiseURL, Version: keelversion.Version, Revision: st.Revision(), CAHash: auth.CAHash()}
		},
		Kubeconfig: func() ([]byte, error) { return auth.AdminKubeconfig(advertiseURL) },
		Handlers: map[string]http.Handler{
			ReplicatePath: http.HandlerFunc(repl.serveRecords),
			SnapshotPath:  http.HandlerFunc(repl.serveSnapshot),
		},
		Unauthenticated: map[string]http.Handler{keelapi.JoinPath: &joinHandler{
			auth: auth,
			secret: func(ctx context.Context, name string) (*corev1.Secret, error) {
				return local.CoreV1().Secrets(metav1.NamespaceSystem).Get(ctx, name, metav1.GetOptions{})
			},
			members:       cfg.GossipMembers,
			encryptionKey: func() ([]byte, error) { return pki.ReadPrivate(encKeyPath) },
			now:           time.Now,
			log:           log,
		}},
		NodeConnection: nodes.connect,
		Log:            log,
	}, nodeRestriction{}, podCIDRs, &serviceAlloc{store: st, cidr: cidr.Masked(), portRange: portRange},
		defaultTolerations{seconds: cfg.DefaultTolerationSeconds}, newDefaultClass(st, reg))
	if err != nil {
		return err
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.ServeTLS(gctx, tlsLn) })
	g.Go(func() error { return srv.ServeUnix(gctx, cfg.Socket) })
	g.Go(func() error { return srv.RunNamespaceFinalizer(gctx) })
	g.Go(func() error {
		if err := c.bootstrap(gctx, cidr.Masked(), advertise, addr.Port); err != nil {
			return fmt.Errorf("bootstrap: %w", err)
		}
		kc, err := auth.AdminKubeconfig(localURL)
		if err != nil {
			return err
		}
		if err := pki.WriteFileAtomic(c.KubeconfigPath(), kc, 0o600); err != nil {
			return fmt.Errorf("write admin kubeconfig: %w", err)
		}
		if cfg.Controllers {
			ccfg := controllers.DefaultConfig(local)
			ccfg.Log = log
			ccfg.NodeMonitorGracePeriod = cfg.NodeMonitorGracePeriod
			ccfg.LoadBalancerPool = cfg.LoadBalancerPool
			ctrl, err := controllers.New(ccfg)
			if err != nil {
				return fmt.Errorf("controllers: %w", err)
			}
			g.Go(func() error { return ctrl.Run(gctx) })
			// The scheduler speaks protobuf: binding many pods is mostly
			// encoding.
			rc := LocalConfig(cfg.Socket)
			rc.ContentType = "application/vnd.kubernetes.protobuf"
			rc.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
			sc, err := kubernetes.NewForConfig(rc)
			if err != nil {
				return err
			}
			scfg := scheduler.DefaultConfig(sc)
			scfg.Log = log
			sched, err := scheduler.New(scfg)
			if err != nil {
				return fmt.Errorf("scheduler: %w", err)
			}
			g.Go(func() error { return sched.Run(gctx) })
		}
		c.mu.Lock()
		c.apiURL = localURL
		c.mu.Unlock()
		log.Info("api serving", "url", localURL, "advertise", advertiseURL, "socket", cfg.Socket, "kubeconfig", c.KubeconfigPath())
		close(c.ready)
		return nil
	})
	return g.Wait()
}

func serverVersion() version.Info {
	return version.Info{
		Major: "1", Minor: "33", GitVersion: keelversion.Kubernetes(),
		Platform: platform(), GoVersion: goVersion(),
	}
}

// NodeUnreachable marks node's Ready condition Unknown at once, as when
// its heartbeat lease runs out; gossip reports a dead member sooner than
// the lease does. It does nothing when the coordinator is not serving.
func (c *Coordinator) NodeUnreachable(ctx context.Context, node string) {
	select {
	case <-c.ready:
	default:
		return
	}
	cs, err := kubernetes.NewForConfig(LocalConfig(c.cfg.Socket))
	if err != nil {
		return
	}
	if err := controllers.MarkNodeUnreachable(ctx, cs, node, time.Now()); err != nil {
		c.cfg.Log.Warn("mark node unreachable", "node", node, "err", err)
	}
}

// Revision is the store's current revision; 0 when not running.
func (c *Coordinator) Revision() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.store == nil {
		return 0
	}
	return c.store.Revision()
}

// Announce records an event about this coordinator's node, for what
// operators must know: a takeover, say.
func (c *Coordinator) Announce(ctx context.Context, eventType, reason, message string) error {
	cs, err := kubernetes.NewForConfig(LocalConfig(c.cfg.Socket))
	if err != nil {
		return err
	}
	now := metav1.Now()
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", c.cfg.NodeName, now.UnixNano()), Namespace: metav1.NamespaceDefault},
		InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: c.cfg.NodeName, UID: types.UID(c.cfg.NodeName)},
		Reason:         reason, Message: message, Type: eventType,
		Source:         corev1.EventSource{Component: "keel-coordinator", Host: c.cfg.NodeName},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}
	_, err = cs.CoreV1().Events(metav1.NamespaceDefault).Create(ctx, ev, metav1.CreateOptions{})
	return err
}
