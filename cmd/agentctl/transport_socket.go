package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
)

// socketDialer connects to the agent's unix socket, whatever address the
// HTTP client asks for.
type socketDialer struct {
	path string
}

// DialContext connects to the socket and explains a failure in terms of
// what the operator can do about it.
func (s socketDialer) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", s.path)
	if err != nil {
		return nil, &socketError{path: s.path, err: err}
	}
	return conn, nil
}

// socketError is a failed connection to the agent socket. Its text avoids
// the words "connection refused" so kubectl's error formatting keeps it.
type socketError struct {
	path string
	err  error
}

func (e *socketError) Error() string {
	return fmt.Sprintf("cannot reach the API at %s: %s; is the agent running? pass --kubeconfig or --ssh",
		e.path, socketReason(e.err))
}

func (e *socketError) Unwrap() error { return e.err }

// socketReason says in plain words why a unix socket could not be reached.
func socketReason(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "nothing is listening on it"
	case errors.Is(err, os.ErrNotExist):
		return "no such socket"
	case errors.Is(err, os.ErrPermission):
		if os.Geteuid() != 0 {
			return "permission denied (only root may use the agent socket)"
		}
		return "permission denied"
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		return opErr.Err.Error()
	}
	return err.Error()
}

// checkSocket connects once and hangs up, so a dead socket is reported
// before any command starts.
func checkSocket(ctx context.Context, path string) error {
	conn, err := socketDialer{path: path}.DialContext(ctx, "unix", path)
	if err != nil {
		return err
	}
	return conn.Close()
}
