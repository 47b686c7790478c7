// Command demo is a small HTTP server for exercising the node runtime: it
// answers / with its hostname, serves /healthz, and has control endpoints
// to fail health checks, exit with a code and delay replies. It logs a
// line per request to stdout and exits 0 on SIGTERM. It is built static
// into the localhost/demo:v1 image by cmd/mkimage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("listen", ":8080", "address to serve HTTP on")
	flag.Parse()
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	os.Exit(run(ctx, l, host, os.Stdout, os.Exit))
}

// run serves on l until ctx is done (a signal), then shuts down and
// returns the exit code 0; it returns 1 if serving fails.
func run(ctx context.Context, l net.Listener, host string, out io.Writer, exit func(int)) int {
	srv := &http.Server{Handler: newServer(host, out, exit), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "demo serving on %s as %s\n", l.Addr(), host)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		fmt.Fprintln(out, "demo: serve:", err)
		return 1
	case <-ctx.Done():
	}
	fmt.Fprintln(out, "demo: received SIGTERM, exiting")
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(out, "demo: shutdown:", err)
	}
	return 0
}
