package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
)

// forwarder accepts local connections and joins each to a new connection
// from dial, byte for byte. It adds no authority of its own: what flows
// through is the client's TLS session with the API.
type forwarder struct {
	// ln is the local listener; Run closes it.
	ln net.Listener
	// dial opens the far side of one forwarded connection.
	dial func(ctx context.Context) (net.Conn, error)
	// errOut receives a line for each connection that could not be forwarded.
	errOut io.Writer
}

// Run forwards until ctx ends, then closes the listener, ends every
// forwarded connection (killing the processes behind them) and returns
// nil. It returns an error only when accepting fails otherwise.
func (f *forwarder) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { f.ln.Close() })
	defer stop()

	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		local, err := f.ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accept on %s: %w", f.ln.Addr(), err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.serve(ctx, local)
		}()
	}
}

// serve forwards one connection until both directions are done or ctx ends.
func (f *forwarder) serve(ctx context.Context, local net.Conn) {
	defer local.Close()
	remote, err := f.dial(ctx)
	if err != nil {
		fmt.Fprintf(f.errOut, "agentctl: forward %s: %v\n", local.RemoteAddr(), err)
		return
	}
	stop := context.AfterFunc(ctx, func() {
		killConn(remote)
		local.Close()
	})
	defer stop()
	defer remote.Close()
	if err := join(local, remote); err != nil && ctx.Err() == nil {
		// The far side's own failure says more than the copy that met it.
		var ce *commandError
		if errors.As(err, &ce) {
			err = ce
		}
		fmt.Fprintf(f.errOut, "agentctl: forward %s: %v\n", local.RemoteAddr(), err)
	}
}

// join copies a to b and b to a. When one side finishes sending, the
// other side's write half is closed so it sees the end of the stream; join
// returns when both directions are done. The first error other than a
// clean end of stream closes both connections and is returned.
func join(a, b net.Conn) error {
	errs := make(chan error, 2)
	go func() { errs <- copyHalf(b, a) }()
	go func() { errs <- copyHalf(a, b) }()
	var first error
	for range 2 {
		if err := <-errs; err != nil && first == nil {
			first = err
			a.Close()
			b.Close()
		}
	}
	return first
}

// copyHalf copies src to dst, then closes dst for writing (or entirely,
// when it cannot half-close).
func copyHalf(dst, src net.Conn) error {
	_, err := io.Copy(dst, src)
	if cerr := closeWrite(dst); err == nil && !isClosed(cerr) {
		err = cerr
	}
	if isClosed(err) {
		return nil
	}
	return err
}

// isClosed reports whether err only says the connection was closed here.
func isClosed(err error) bool {
	return err == nil || errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrClosed)
}

// closeWrite half-closes c when it can and closes it otherwise.
func closeWrite(c io.Closer) error {
	if hc, ok := c.(interface{ CloseWrite() error }); ok {
		return hc.CloseWrite()
	}
	return c.Close()
}

// killConn ends c at once: a process behind it is killed, not asked.
func killConn(c net.Conn) {
	if k, ok := c.(interface{ Kill() error }); ok {
		// Kill also closes; a process that is already gone is fine.
		_ = k.Kill()
		return
	}
	c.Close()
}
