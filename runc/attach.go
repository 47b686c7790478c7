package runc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// maxSocketPath is the longest path a unix socket address holds.
const maxSocketPath = 107

// Attach connects streams to the running container id through its shim's
// attach endpoint, as kubectl attach does: output written from now on
// goes to streams.Stdout and streams.Stderr (a terminal's to Stdout
// only), and when the container keeps stdin open, streams.Stdin is
// written to it. With tty (and a container with a terminal), resize
// carries its size. Several attachers may be connected at once.
//
// Attach returns nil when the container's output ends (it exited), or
// when streams.Stdin ends and the container is not a stdinOnce one
// without a terminal (the attacher detaches; the container keeps
// running). Without stdin, a container's attacher is output only. A
// dropped attacher (too slow to take the output) gets an error.
func (r *Runtime) Attach(ctx context.Context, id string, streams Streams, tty bool, resize <-chan TermSize) error {
	if err := validName("container id", id); err != nil {
		return err
	}
	st, err := r.state(id)
	if err != nil {
		return fmt.Errorf("attach to %s: %w", id, err)
	}
	if !st.Running {
		return fmt.Errorf("attach to %s: container is not running", id)
	}
	path := filepath.Join(r.ctrDir(id), attachSocket)
	if len(path) > maxSocketPath {
		return fmt.Errorf("attach to %s: socket path %s is longer than %d bytes: use a shorter runtime state directory", id, path, maxSocketPath)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("attach to %s: the container's shim serves no attach endpoint (%s is missing)", id, path)
	}
	if err != nil {
		return fmt.Errorf("attach to %s: %w", id, err)
	}
	if err := attachConn(ctx, conn, streams, tty, resize); err != nil {
		return fmt.Errorf("attach to %s: %w", id, err)
	}
	return nil
}

// attachConn speaks the attacher's side of the attach protocol over conn
// (see attachframe.go) until the output ends, the attacher detaches or
// ctx ends; it closes conn.
func attachConn(ctx context.Context, conn net.Conn, streams Streams, tty bool, resize <-chan TermSize) error {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	flags, err := readHello(conn)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	var wmu sync.Mutex
	send := func(typ byte, p []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		return writeFrame(conn, typ, p)
	}
	withStdin := streams.Stdin != nil && flags&helloStdin != 0
	var hello byte
	if withStdin {
		hello = helloStdin
	}
	if err := send(frameHello, []byte{hello}); err != nil {
		return fmt.Errorf("attach hello: %w", err)
	}
	done := make(chan struct{})
	defer close(done)
	var detached atomic.Bool
	if withStdin {
		go func() {
			buf := make([]byte, maxFramePayload)
			for {
				n, err := streams.Stdin.Read(buf)
				if n > 0 && send(frameStdin, buf[:n]) != nil {
					return
				}
				if err != nil {
					break
				}
			}
			_ = send(frameStdinEnd, nil)
			if _, detach := afterStdinEnd(flags&helloTTY != 0, flags&helloStdinOnce != 0); detach {
				detached.Store(true)
				conn.Close()
			}
		}()
	}
	if tty && flags&helloTTY != 0 && resize != nil {
		go func() {
			for {
				select {
				case sz, ok := <-resize:
					if !ok || send(frameResize, encodeSize(sz)) != nil {
						return
					}
				case <-done:
					return
				}
			}
		}()
	}
	for {
		typ, p, err := readFrame(conn)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case detached.Load():
			return nil
		case errors.Is(err, io.EOF), errors.Is(err, unix.ECONNRESET):
			// The shim ended the output (the container exited); a reset
			// only says input was still unread then.
			return nil
		case err != nil:
			return err
		}
		var w io.Writer
		switch typ {
		case frameStdout:
			w = streams.Stdout
		case frameStderr:
			w = streams.Stderr
		case frameDropped:
			return fmt.Errorf("dropped by the container's shim: %s", p)
		}
		if w == nil {
			continue
		}
		if _, err := w.Write(p); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
	}
}
