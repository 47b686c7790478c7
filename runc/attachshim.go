package runc

import (
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// attachSocket is the attach endpoint's name in the container's
// directory (the shim's working directory).
const attachSocket = "attach.sock"

// attachQueue is how many output chunks may wait for one attacher; an
// attacher further behind is dropped rather than stalling the container.
const attachQueue = 256

// attachDrainTimeout bounds how long an ending shim waits for attachers
// to receive the last output.
const attachDrainTimeout = 2 * time.Second

// attachHub is a shim's attach endpoint: it fans the container's output
// out to every attacher and writes any attacher's input to the
// container's stdin. Nothing it does can block the container: output is
// queued per attacher and a full queue drops that attacher.
type attachHub struct {
	ln        net.Listener
	tty       bool
	stdinOnce bool
	// stdin is the container's stdin (the terminal with a tty); nil when
	// the container has none.
	stdin io.WriteCloser
	// console is the terminal, for resizes; nil without a tty.
	console *os.File

	mu       sync.Mutex
	conns    map[*attacher]struct{}
	shutdown bool

	stdinMu     sync.Mutex
	stdinClosed bool

	writers sync.WaitGroup
}

// attacher is one attach connection.
type attacher struct {
	conn    net.Conn
	out     chan attachChunk
	dropped atomic.Bool // set before out is closed
}

type attachChunk struct {
	typ  byte
	data []byte
}

// listenAttach creates the attach socket in the working directory,
// readable and writable by its owner only.
func listenAttach() (net.Listener, error) {
	_ = os.Remove(attachSocket)
	ln, err := net.Listen("unix", attachSocket)
	if err != nil {
		return nil, fmt.Errorf("attach socket: %w", err)
	}
	if err := os.Chmod(attachSocket, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("attach socket: %w", err)
	}
	return ln, nil
}

func newAttachHub(ln net.Listener, stdin io.WriteCloser, console *os.File, tty, stdinOnce bool) *attachHub {
	return &attachHub{ln: ln, stdin: stdin, console: console, tty: tty, stdinOnce: stdinOnce, conns: map[*attacher]struct{}{}}
}

// serve accepts attachers until the listener closes.
func (h *attachHub) serve() {
	for {
		c, err := h.ln.Accept()
		if err != nil {
			return
		}
		if !sameUser(c) {
			c.Close()
			continue
		}
		h.add(c)
	}
}

// sameUser admits only peers running as the shim's own user (root).
func sameUser(c net.Conn) bool {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return false
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || cerr != nil {
		return false
	}
	return int(cred.Uid) == os.Geteuid()
}

func (h *attachHub) flags() byte {
	var f byte
	if h.stdin != nil {
		f |= helloStdin
	}
	if h.tty {
		f |= helloTTY
	}
	if h.stdinOnce {
		f |= helloStdinOnce
	}
	return f
}

// add registers an attacher: its hello is queued before any output, and
// output reaches it from this moment on.
func (h *attachHub) add(c net.Conn) {
	a := &attacher{conn: c, out: make(chan attachChunk, attachQueue)}
	a.out <- attachChunk{typ: frameHello, data: []byte{h.flags()}}
	h.mu.Lock()
	if h.shutdown {
		h.mu.Unlock()
		c.Close()
		return
	}
	h.conns[a] = struct{}{}
	h.writers.Add(1)
	h.mu.Unlock()
	go h.write(a)
	go h.read(a)
}

// write sends an attacher its queued output until the queue closes, then
// a dropped notice if it fell behind, and closes the connection.
func (h *attachHub) write(a *attacher) {
	defer h.writers.Done()
	defer a.conn.Close()
	for ch := range a.out {
		if a.dropped.Load() {
			break // what is queued is no longer whole output
		}
		if err := writeFrame(a.conn, ch.typ, ch.data); err != nil {
			h.remove(a, false)
			for range a.out {
			}
			return
		}
	}
	if a.dropped.Load() {
		_ = a.conn.SetWriteDeadline(time.Now().Add(time.Second))
		_ = writeFrame(a.conn, frameDropped, []byte("attacher fell behind the container's output"))
	}
}

// read applies an attacher's input until it disconnects.
func (h *attachHub) read(a *attacher) {
	defer h.remove(a, false)
	hello, err := readHello(a.conn)
	if err != nil {
		return
	}
	writesStdin := hello&helloStdin != 0
	ended := false
	defer func() {
		if writesStdin && !ended {
			h.stdinEnded()
		}
	}()
	for {
		typ, p, err := readFrame(a.conn)
		if err != nil {
			return
		}
		switch typ {
		case frameStdin:
			if writesStdin && !ended {
				h.writeStdin(p)
			}
		case frameStdinEnd:
			if writesStdin && !ended {
				ended = true
				h.stdinEnded()
			}
		case frameResize:
			if sz, err := decodeSize(p); err == nil && h.console != nil {
				_ = unix.IoctlSetWinsize(int(h.console.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: sz.Width, Row: sz.Height})
			}
		}
	}
}

// writeStdin writes input to the container; input after stdin closed,
// or for a container without stdin, is dropped.
func (h *attachHub) writeStdin(p []byte) {
	h.stdinMu.Lock()
	defer h.stdinMu.Unlock()
	if h.stdin == nil || h.stdinClosed {
		return
	}
	_, _ = h.stdin.Write(p)
}

// stdinEnded closes the container's stdin when the end of an attacher's
// input calls for it (stdinOnce without a terminal).
func (h *attachHub) stdinEnded() {
	closeStdin, _ := afterStdinEnd(h.tty, h.stdinOnce)
	if !closeStdin {
		return
	}
	h.stdinMu.Lock()
	defer h.stdinMu.Unlock()
	if h.stdin != nil && !h.stdinClosed {
		h.stdinClosed = true
		_ = h.stdin.Close()
	}
}

// remove forgets an attacher and closes its queue; its writer then sends
// what is queued (or the dropped notice) and closes the connection.
func (h *attachHub) remove(a *attacher, dropped bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeLocked(a, dropped)
}

func (h *attachHub) removeLocked(a *attacher, dropped bool) {
	if _, ok := h.conns[a]; !ok {
		return
	}
	delete(h.conns, a)
	a.dropped.Store(dropped)
	close(a.out)
}

// broadcast queues output for every attacher without ever waiting: an
// attacher whose queue is full is dropped.
func (h *attachHub) broadcast(typ byte, p []byte) {
	if h == nil || len(p) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.conns) == 0 {
		return
	}
	for len(p) > 0 {
		n := min(len(p), maxFramePayload)
		ch := attachChunk{typ: typ, data: append([]byte(nil), p[:n]...)}
		p = p[n:]
		for a := range h.conns {
			select {
			case a.out <- ch:
			default:
				h.removeLocked(a, true)
			}
		}
	}
}

// close stops accepting attachers and ends every connection once its
// queued output is sent (waiting at most attachDrainTimeout), then closes
// the container's stdin.
func (h *attachHub) close() {
	h.mu.Lock()
	h.shutdown = true
	for a := range h.conns {
		h.removeLocked(a, false)
	}
	h.mu.Unlock()
	h.ln.Close()
	done := make(chan struct{})
	go func() { h.writers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(attachDrainTimeout):
	}
	h.stdinMu.Lock()
	if h.stdin != nil && !h.stdinClosed {
		h.stdinClosed = true
		_ = h.stdin.Close()
	}
	h.stdinMu.Unlock()
}

// teeOutput passes a container's output stream through to its reader
// and copies every chunk read to the attachers.
type teeOutput struct {
	r   io.Reader
	hub *attachHub
	typ byte
}

func (t teeOutput) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.hub.broadcast(t.typ, p[:n])
	}
	return n, err
}
