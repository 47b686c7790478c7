package main

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
)

func TestForwarder_dialFailureClosesClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var errOut lockedBuilder
	fw := &forwarder{
		ln:     ln,
		dial:   func(context.Context) (net.Conn, error) { return nil, errors.New("ssh exited early") },
		errOut: &errOut,
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- fw.Run(ctx) }()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(c); err != nil || len(b) != 0 {
		t.Fatalf("client read %q, %v; want a closed connection", b, err)
	}
	c.Close()
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run = %v, want nil after cancel", err)
	}
	if !strings.Contains(errOut.String(), "ssh exited early") {
		t.Errorf("stderr = %q", errOut.String())
	}
}

func TestForwarder_cancelEndsLiveConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dialed := make(chan net.Conn, 1)
	fw := &forwarder{
		ln: ln,
		dial: func(context.Context) (net.Conn, error) {
			a, b := net.Pipe()
			dialed <- b
			return a, nil
		},
		errOut: io.Discard,
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- fw.Run(ctx) }()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	far := <-dialed
	io.WriteString(c, "hi")
	buf := make([]byte, 2)
	if _, err := io.ReadFull(far, buf); err != nil || string(buf) != "hi" {
		t.Fatalf("far end read %q, %v", buf, err)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("client after cancel: %v", err)
	}
	if _, err := far.Read(buf); err == nil {
		t.Errorf("far end still open after cancel")
	}
}

// lockedBuilder is a strings.Builder safe for the forwarder's goroutines.
type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
