// Package nodeapi is the node's API, the kubelet's role: container logs,
// exec, attach and port-forward for the API server to proxy to. It speaks
// the kubelet's paths and streaming protocols (SPDY and WebSocket, through
// the kubelet's own streaming handlers), over TLS, to clients holding a
// certificate of the cluster CA with an allowed common name.
package nodeapi

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"
	remotecommandconsts "k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/kubelet/pkg/cri/streaming/portforward"
	"k8s.io/kubelet/pkg/cri/streaming/remotecommand"
)

// Pods is what the node API needs of the node's pods.
type Pods interface {
	// UID finds a pod on this node; os.ErrNotExist if it is not here.
	UID(namespace, pod string) (types.UID, error)
	// LogPath is the log file of a container, or of its previous instance.
	LogPath(namespace, pod, container string, previous bool) (string, error)
	remotecommand.Executor
	remotecommand.Attacher
	portforward.PortForwarder
}

// Config configures the node API.
type Config struct {
	// Pods answers for the node's pods.
	Pods Pods
	// Images is the node's image store; nil serves none.
	Images Images
	// TLS is the serving configuration; it must verify client
	// certificates against the cluster CA.
	TLS *tls.Config
	// AllowedUsers are the client certificate common names admitted.
	AllowedUsers []string
	// StreamIdleTimeout closes an idle exec or port-forward stream.
	StreamIdleTimeout time.Duration
	// FollowPoll is how often a followed log is checked for new lines.
	FollowPoll time.Duration
	// Log receives errors.
	Log *slog.Logger
}

// Server is the node API.
type Server struct {
	cfg     Config
	allowed map[string]bool
}

// New checks cfg and returns a server.
func New(cfg Config) (*Server, error) {
	if cfg.Pods == nil || cfg.TLS == nil || len(cfg.AllowedUsers) == 0 {
		return nil, errors.New("nodeapi: Pods, TLS and AllowedUsers are required")
	}
	if cfg.StreamIdleTimeout == 0 {
		cfg.StreamIdleTimeout = 4 * time.Hour
	}
	if cfg.FollowPoll == 0 {
		cfg.FollowPoll = 200 * time.Millisecond
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	s := &Server{cfg: cfg, allowed: map[string]bool{}}
	for _, u := range cfg.AllowedUsers {
		s.allowed[u] = true
	}
	return s, nil
}

// Serve serves on ln until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(s.cfg.Log.Handler(), slog.LevelDebug)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(tls.NewListener(ln, s.cfg.TLS)) }()
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

// ServeHTTP authenticates and routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || !s.allowed[r.TLS.VerifiedChains[0][0].Subject.CommonName] {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case parts[0] == "images" && len(parts) == 1:
		s.serveImages(w, r)
	case parts[0] == "healthz":
		io.WriteString(w, "ok")
	case parts[0] == "containerLogs" && len(parts) == 4:
		s.serveLogs(w, r, parts[1], parts[2], parts[3])
	case parts[0] == "exec" && len(parts) == 4:
		s.serveExec(w, r, parts[1], parts[2], parts[3])
	case parts[0] == "attach" && len(parts) == 4:
		s.serveAttach(w, r, parts[1], parts[2], parts[3])
	case parts[0] == "portForward" && len(parts) == 3:
		s.servePortForward(w, r, parts[1], parts[2])
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) uid(w http.ResponseWriter, namespace, pod string) (types.UID, bool) {
	uid, err := s.cfg.Pods.UID(namespace, pod)
	if errors.Is(err, os.ErrNotExist) {
		http.Error(w, fmt.Sprintf("pod %s/%s is not on this node", namespace, pod), http.StatusNotFound)
		return "", false
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return "", false
	}
	return uid, true
}

func (s *Server) serveExec(w http.ResponseWriter, r *http.Request, namespace, pod, container string) {
	uid, ok := s.uid(w, namespace, pod)
	if !ok {
		return
	}
	opts, err := remotecommand.NewOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	cmd := r.URL.Query()["command"]
	if len(cmd) == 0 {
		http.Error(w, "exec needs a command", http.StatusBadRequest)
		return
	}
	remotecommand.ServeExec(w, r, s.cfg.Pods, pod, uid, container, cmd, opts,
		s.cfg.StreamIdleTimeout, 30*time.Second, remotecommandconsts.SupportedStreamingProtocols)
}

func (s *Server) serveAttach(w http.ResponseWriter, r *http.Request, namespace, pod, container string) {
	uid, ok := s.uid(w, namespace, pod)
	if !ok {
		return
	}
	opts, err := remotecommand.NewOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	remotecommand.ServeAttach(w, r, s.cfg.Pods, pod, uid, container, opts,
		s.cfg.StreamIdleTimeout, 30*time.Second, remotecommandconsts.SupportedStreamingProtocols)
}

func (s *Server) servePortForward(w http.ResponseWriter, r *http.Request, namespace, pod string) {
	uid, ok := s.uid(w, namespace, pod)
	if !ok {
		return
	}
	opts, err := portforward.NewV4Options(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	portforward.ServePortForward(w, r, s.cfg.Pods, pod, uid, opts,
		s.cfg.StreamIdleTimeout, 30*time.Second, portforward.SupportedProtocols)
}

// logOptions reads the kubelet's containerLogs query parameters.
func logOptions(r *http.Request, now time.Time) (LogOptions, bool, bool, error) {
	q := r.URL.Query()
	opts := LogOptions{TailLines: -1, Timestamps: q.Get("timestamps") == "true"}
	if v := q.Get("tailLines"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return opts, false, false, fmt.Errorf("tailLines %q: want a non-negative integer", v)
		}
		opts.TailLines = n
	}
	if v := q.Get("limitBytes"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return opts, false, false, fmt.Errorf("limitBytes %q: want a positive integer", v)
		}
		opts.LimitBytes = n
	}
	if v := q.Get("sinceSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return opts, false, false, fmt.Errorf("sinceSeconds %q: want a positive integer", v)
		}
		opts.Since = now.Add(-time.Duration(n) * time.Second)
	}
	if v := q.Get("sinceTime"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return opts, false, false, fmt.Errorf("sinceTime %q: %v", v, err)
		}
		opts.Since = t
	}
	return opts, q.Get("follow") == "true", q.Get("previous") == "true", nil
}
