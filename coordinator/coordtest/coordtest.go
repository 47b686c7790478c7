// Package coordtest runs a real coordinator in a test's own process, for
// the tests of packages that talk to its API (the node loop, controllers):
// on 127.0.0.1 with a data directory and socket of its own, stopped and
// removed when the test ends.
package coordtest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/keel-edge/keel/coordinator"
)

// Coordinator is a coordinator serving in the test's process.
type Coordinator struct {
	*coordinator.Coordinator
	// Config is the configuration it runs with.
	Config coordinator.Config
	// Client talks to it over its unix socket.
	Client *kubernetes.Clientset
}

// Start runs a coordinator until the test ends; mutate adjusts its
// configuration first (say, turning its controllers off).
func Start(t testing.TB, mutate ...func(*coordinator.Config)) *Coordinator {
	t.Helper()
	cfg := coordinator.DefaultConfig(t.TempDir())
	cfg.APIAddr = "127.0.0.1:0"
	sockDir, err := os.MkdirTemp("", "keel-coord-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	cfg.Socket = filepath.Join(sockDir, "api.sock")
	cfg.NodeName = "node-1"
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, m := range mutate {
		m(&cfg)
	}
	c, err := coordinator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	select {
	case <-c.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("coordinator stopped: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("coordinator not ready")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("coordinator run: %v", err)
		}
	})
	cs, err := kubernetes.NewForConfig(coordinator.LocalConfig(cfg.Socket))
	if err != nil {
		t.Fatal(err)
	}
	return &Coordinator{Coordinator: c, Config: cfg, Client: cs}
}
