package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// commandExitGrace is how long Close waits for a child that has seen its
// stdin close before killing it, and how long a read that met end of
// stream waits to learn the child's exit status.
const commandExitGrace = 2 * time.Second

// commandConn is a net.Conn over a child process: writes go to its stdin,
// reads come from its stdout. Its stderr is passed through, and its last
// lines are kept for the error when the child fails.
type commandConn struct {
	cmd  *exec.Cmd
	desc string
	addr net.Addr

	stdin  *os.File // our end of the child's stdin
	stdout *os.File // our end of the child's stdout
	tail   *tailWriter
	grace  time.Duration // commandExitGrace, shorter in tests

	done    chan struct{} // closed once the child is reaped
	waitErr error         // set before done is closed

	closeOnce sync.Once
	closeErr  error
}

var _ net.Conn = (*commandConn)(nil)

// startCommandConn runs prog with args and returns a connection over its
// standard streams. stderr receives the child's stderr (nil discards it).
func startCommandConn(prog string, args []string, stderr io.Writer, addr net.Addr) (*commandConn, error) {
	if stderr == nil {
		stderr = io.Discard
	}
	desc := commandLine(prog, args)
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", desc, err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("start %s: %w", desc, err)
	}
	tail := &tailWriter{max: 2048}
	cmd := exec.Command(prog, args...)
	cmd.Stdin = inR
	cmd.Stdout = outW
	cmd.Stderr = io.MultiWriter(stderr, tail)
	// A child that leaves a grandchild holding stderr open must not keep
	// Wait from returning.
	cmd.WaitDelay = commandExitGrace
	err = cmd.Start()
	// The child has its own copies now (or never will).
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("start %s: %w", desc, err)
	}
	c := &commandConn{
		cmd:    cmd,
		desc:   desc,
		addr:   addr,
		stdin:  inW,
		stdout: outR,
		tail:   tail,
		grace:  commandExitGrace,
		done:   make(chan struct{}),
	}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// Read reads the child's stdout. At end of stream it reports the child's
// failure, if it failed, instead of io.EOF.
func (c *commandConn) Read(p []byte) (int, error) {
	n, err := c.stdout.Read(p)
	if errors.Is(err, io.EOF) {
		if exitErr := c.exitError(); exitErr != nil {
			return n, exitErr
		}
	}
	return n, err
}

// Write writes to the child's stdin. When the child is gone it reports
// why instead of a broken pipe.
func (c *commandConn) Write(p []byte) (int, error) {
	n, err := c.stdin.Write(p)
	if err != nil && !errors.Is(err, os.ErrClosed) {
		if exitErr := c.exitError(); exitErr != nil {
			return n, exitErr
		}
	}
	return n, err
}

// exitError waits a little for the child to exit and describes its failure;
// nil when it exited cleanly or is still running.
func (c *commandConn) exitError() error {
	timer := time.NewTimer(c.grace)
	defer timer.Stop()
	select {
	case <-c.done:
	case <-timer.C:
		return nil
	}
	if c.waitErr == nil {
		return nil
	}
	msg := fmt.Sprintf("%s exited early: %v", c.desc, c.waitErr)
	if last := c.tail.lastLine(); last != "" {
		msg += ": " + last
	}
	return &commandError{msg: msg, err: c.waitErr}
}

// commandError is the failure of the child behind a commandConn.
type commandError struct {
	msg string
	err error
}

func (e *commandError) Error() string { return e.msg }
func (e *commandError) Unwrap() error { return e.err }

// CloseWrite closes the child's stdin, so it sees end of input.
func (c *commandConn) CloseWrite() error { return c.stdin.Close() }

// CloseRead stops reading the child's stdout.
func (c *commandConn) CloseRead() error { return c.stdout.Close() }

// Close closes both streams, gives the child its grace period to exit and
// then kills it. Closing twice is harmless.
func (c *commandConn) Close() error {
	c.closeOnce.Do(func() {
		c.stdin.Close()
		c.stdout.Close()
		timer := time.NewTimer(c.grace)
		defer timer.Stop()
		select {
		case <-c.done:
		case <-timer.C:
			if err := c.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
				c.closeErr = fmt.Errorf("kill %s: %w", c.desc, err)
			}
			<-c.done
		}
	})
	return c.closeErr
}

// Kill ends the child at once, then closes both streams.
func (c *commandConn) Kill() error {
	// A child that already exited cannot be signalled; Close reaps it either way.
	_ = c.cmd.Process.Kill()
	return c.Close()
}

// LocalAddr is the same as RemoteAddr: a pipe has no local address.
func (c *commandConn) LocalAddr() net.Addr { return c.addr }

// RemoteAddr names the destination the child connects to.
func (c *commandConn) RemoteAddr() net.Addr { return c.addr }

// SetDeadline sets both read and write deadlines on the pipes.
func (c *commandConn) SetDeadline(t time.Time) error {
	return errors.Join(c.stdin.SetWriteDeadline(t), c.stdout.SetReadDeadline(t))
}

// SetReadDeadline sets the deadline for Read.
func (c *commandConn) SetReadDeadline(t time.Time) error { return c.stdout.SetReadDeadline(t) }

// SetWriteDeadline sets the deadline for Write.
func (c *commandConn) SetWriteDeadline(t time.Time) error { return c.stdin.SetWriteDeadline(t) }

// commandLine renders a command for messages, quoting arguments that need it.
func commandLine(prog string, args []string) string {
	parts := make([]string, 0, len(args)+1)
	parts = append(parts, shellQuote(prog))
	for _, a := range args {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	mu  sync.Mutex
	max int
	buf []byte
}

// Write keeps the tail of p.
func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if over := len(w.buf) - w.max; over > 0 {
		w.buf = append(w.buf[:0], w.buf[over:]...)
	}
	return len(p), nil
}

// lastLine is the last non-empty line written.
func (w *tailWriter) lastLine() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(string(w.buf)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
