// Package apiserver serves the Kubernetes REST API subset over the store:
// discovery, the CRUD verbs, patch, watch, tables and subresources, for every
// kind in a kinds.Registry. It holds no state of its own besides caches;
// objects live in the store.
package apiserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/version"

	"github.com/keel-edge/keel/coordinator/keelapi"
	"github.com/keel-edge/keel/coordinator/kinds"
	"github.com/keel-edge/keel/coordinator/store"
)

// Store is what the API server needs of the store.
type Store interface {
	Get(bucket, key string) (store.KV, error)
	List(bucket, prefix string) ([]store.KV, int64, error)
	Commit(ctx context.Context, ops ...store.Op) (int64, error)
	Watch(ctx context.Context, bucket, prefix string, afterRev int64) (*store.Watcher, error)
	Revision() int64
}

// Config wires an API server.
type Config struct {
	// Kinds are the served resources.
	Kinds *kinds.Registry
	// Store holds the objects.
	Store Store
	// Authenticate names the user of an HTTPS request, or returns false.
	// Requests over the unix socket are authenticated by peer credentials.
	Authenticate func(r *http.Request) (User, bool)
	// Authorize decides what users outside system:masters may do; nil
	// lets every authenticated user do everything.
	Authorize Authorizer
	// Handlers serve further paths under /keel/v1/, after authentication
	// and authorization, keyed by path.
	Handlers map[string]http.Handler
	// Unauthenticated serves paths that authenticate by themselves (the
	// join endpoint checks its token), keyed by path.
	Unauthenticated map[string]http.Handler
	// OpenAPI serves /openapi/v2 and /openapi/v3.
	OpenAPI http.Handler
	// Version is answered at /version.
	Version version.Info
	// ServerAddress is host:port clients should use, for /api discovery.
	ServerAddress string
	// Status answers GET /keel/v1/status.
	Status func() keelapi.ClusterStatus
	// Kubeconfig answers GET /keel/v1/kubeconfig with an admin kubeconfig.
	Kubeconfig func() ([]byte, error)
	// NodeConnection reaches a node's API for pod logs, exec, attach and
	// port-forward; those are refused (503) when it is nil.
	NodeConnection func(node string) (NodeConnection, error)
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Log receives request errors; slog.Default when nil.
	Log *slog.Logger
	// WatchBookmarkInterval is how often a watch that allows bookmarks gets
	// one. One minute when zero.
	WatchBookmarkInterval time.Duration
}

// Server is the API server. It is an http.Handler.
type Server struct {
	cfg       Config
	discovery *discovery
	admit     []Admission
}

// Admission adjusts a write before it is stored: it may change the object
// and add store operations to the same commit (allocations, say). It runs
// after defaulting and before validation, and again when a commit is
// retried, so it must not keep state of its own between calls.
type Admission interface {
	// Admit is called for create, update and delete of every kind. obj is nil
	// on delete, old is nil on create.
	Admit(ctx context.Context, a *AdmissionRequest) error
}

// AdmissionRequest is one write as admissions see it.
type AdmissionRequest struct {
	Kind *kinds.Kind
	Verb string
	Obj  kinds.Object
	Old  kinds.Object
	// Ops are extra store operations committed atomically with the write.
	Ops []store.Op
}

// New builds a server.
func New(cfg Config, admit ...Admission) (*Server, error) {
	if cfg.Kinds == nil || cfg.Store == nil || cfg.Authenticate == nil {
		return nil, errors.New("apiserver: Kinds, Store and Authenticate are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.WatchBookmarkInterval == 0 {
		cfg.WatchBookmarkInterval = time.Minute
	}
	d, err := newDiscovery(cfg.Kinds, cfg.ServerAddress)
	if err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, discovery: d, admit: admit}, nil
}

type ctxKey int

const peerKey ctxKey = iota

// peer is the credentials of a unix-socket client.
type peer struct{ uid uint32 }

// ConnContext records unix-socket peer credentials so requests on that
// connection can be authenticated; set it as http.Server.ConnContext.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ctx
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return ctx
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil || credErr != nil {
		return ctx
	}
	return context.WithValue(ctx, peerKey, peer{uid: cred.Uid})
}

// ServeHTTP authenticates the request and dispatches it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, ok := s.cfg.Unauthenticated[r.URL.Path]; ok && r.TLS != nil {
		h.ServeHTTP(w, r)
		return
	}
	user, ok := s.authenticate(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="keel"`)
		s.writeError(w, r, errUnauthorized())
		return
	}
	s.route(w, r.WithContext(WithUser(r.Context(), user)))
}

func (s *Server) authenticate(r *http.Request) (User, bool) {
	if p, ok := r.Context().Value(peerKey).(peer); ok {
		if p.uid == 0 || p.uid == uint32(os.Geteuid()) {
			return socketUser, true
		}
		return User{}, false
	}
	if r.TLS == nil {
		return User{}, false
	}
	return s.cfg.Authenticate(r)
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	ri, isResource, perr := parseResourcePath(r.Method, path, r.URL.Query().Get)
	a := Attributes{Verb: nonResourceVerb(r.Method), Path: path}
	if perr == nil && isResource {
		a = Attributes{Verb: ri.Verb, Group: ri.GroupVersion.Group, Resource: ri.Resource, Subresource: ri.Subresource,
			Namespace: ri.Namespace, Name: ri.Name}
	}
	if err := s.authorize(r, a); err != nil {
		s.writeError(w, r, err)
		return
	}
	switch {
	case path == "/version" || path == "/version/":
		s.writeJSON(w, http.StatusOK, s.cfg.Version)
		return
	case path == "/healthz" || path == "/livez" || path == "/readyz":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, "ok")
		return
	case strings.HasPrefix(path, "/openapi/"):
		if s.cfg.OpenAPI == nil {
			s.writeError(w, r, statusError(http.StatusNotFound, "NotFound", "no OpenAPI document is served"))
			return
		}
		s.cfg.OpenAPI.ServeHTTP(w, r)
		return
	case strings.HasPrefix(path, "/keel/v1/"):
		s.serveKeel(w, r)
		return
	}
	if perr != nil {
		s.writeError(w, r, statusError(http.StatusNotFound, "NotFound", perr.Error()))
		return
	}
	if !isResource {
		s.discovery.serve(s, w, r)
		return
	}
	s.serveResource(w, r, ri)
}

func (s *Server) serveKeel(w http.ResponseWriter, r *http.Request) {
	if s.serveNodeImages(w, r) {
		return
	}
	if h, ok := s.cfg.Handlers[r.URL.Path]; ok {
		h.ServeHTTP(w, r)
		return
	}
	if r.Method != http.MethodGet {
		s.writeError(w, r, statusError(http.StatusMethodNotAllowed, "MethodNotAllowed", "only GET is served under /keel/v1"))
		return
	}
	switch r.URL.Path {
	case keelapi.StatusPath:
		if s.cfg.Status != nil {
			s.writeJSON(w, http.StatusOK, s.cfg.Status())
			return
		}
	case keelapi.KubeconfigPath:
		if s.cfg.Kubeconfig != nil {
			data, err := s.cfg.Kubeconfig()
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			w.Header().Set("Content-Type", "application/yaml")
			w.Write(data)
			return
		}
	}
	s.writeError(w, r, statusError(http.StatusNotFound, "NotFound", fmt.Sprintf("%s is not served", r.URL.Path)))
}

// ServeUnix serves the API on a unix socket at path (mode 0600) until ctx
// ends. Only root and the server's own user are admitted, as admin.
func (s *Server) ServeUnix(ctx context.Context, path string) error {
	return ServeSocket(ctx, path, s)
}

// ServeSocket serves h on a unix socket at path (mode 0600) until ctx
// ends, to root and the server's own user only, identified by the kernel.
func ServeSocket(ctx context.Context, path string, h http.Handler) error {
	if err := os.MkdirAll(dirOf(path), 0o700); err != nil {
		return fmt.Errorf("socket directory: %w", err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	old := syscallUmask(0o177)
	ln, err := net.Listen("unix", path)
	syscallUmask(old)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	admitted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := r.Context().Value(peerKey).(peer); !ok || (p.uid != 0 && p.uid != uint32(os.Geteuid())) {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
	srv := &http.Server{Handler: admitted, ConnContext: ConnContext, ReadHeaderTimeout: 10 * time.Second}
	return serveUntil(ctx, srv, ln)
}

// ServeTLS serves the API over TLS on ln until ctx ends.
func (s *Server) ServeTLS(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slogErrorLog(s.cfg.Log)}
	return serveUntil(ctx, srv, ln)
}

func serveUntil(ctx context.Context, srv *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	<-errc
	return nil
}

func dirOf(path string) string {
	if i := strings.LastIndexByte(path, '/'); i > 0 {
		return path[:i]
	}
	return "."
}

func syscallUmask(mask int) int { return syscall.Umask(mask) }
