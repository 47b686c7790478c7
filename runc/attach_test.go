package runc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAttachFrame_roundTrip(t *testing.T) {
	var buf bytes.Buffer
	frames := []struct {
		typ byte
		p   []byte
	}{{frameHello, []byte{helloStdin | helloTTY}}, {frameStdout, []byte("out")}, {frameStdinEnd, nil}, {frameStdout, bytes.Repeat([]byte("x"), maxFramePayload)}}
	for _, f := range frames {
		if err := writeFrame(&buf, f.typ, f.p); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range frames {
		typ, p, err := readFrame(&buf)
		if err != nil || typ != f.typ || !bytes.Equal(p, f.p) && len(f.p) > 0 {
			t.Fatalf("read %q %d bytes %v, want %q %d bytes", typ, len(p), err, f.typ, len(f.p))
		}
	}
	if _, _, err := readFrame(&buf); err != io.EOF {
		t.Fatalf("end: %v, want EOF", err)
	}
	if err := writeFrame(&buf, frameStdout, make([]byte, maxFramePayload+1)); err == nil {
		t.Fatal("wrote an oversized frame")
	}
}

func TestAttachFrame_rejectsBadInput(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"cut header", "s\x00\x00", "unexpected EOF"},
		{"cut payload", "s\x00\x00\x00\x05abc", "unexpected EOF"},
		{"oversized", "s\x7f\x00\x00\x00", "at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := readFrame(strings.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := readHello(strings.NewReader("1\x00\x00\x00\x01a")); err == nil || !strings.Contains(err.Error(), "attach hello") {
		t.Fatalf("output before hello: %v", err)
	}
	if _, err := decodeSize([]byte{1, 2, 3}); err == nil {
		t.Fatal("decoded a 3-byte size")
	}
	if sz, err := decodeSize(encodeSize(TermSize{Width: 120, Height: 40})); err != nil || sz != (TermSize{Width: 120, Height: 40}) {
		t.Fatalf("size round trip: %+v %v", sz, err)
	}
}

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte("h\x00\x00\x00\x01\x01"))
	f.Add([]byte("s\x00\x00\x00\x03abce\x00\x00\x00\x00"))
	f.Add([]byte("r\x00\x00\x00\x04\x00\x50\x00\x18"))
	f.Add([]byte("s\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		for {
			typ, p, err := readFrame(r)
			if err != nil {
				return
			}
			if len(p) > maxFramePayload {
				t.Fatalf("frame %q of %d bytes", typ, len(p))
			}
			if typ == frameResize {
				_, _ = decodeSize(p)
			}
		}
	})
}

func TestAfterStdinEnd_decides(t *testing.T) {
	tests := []struct {
		tty, once          bool
		closeStdin, detach bool
	}{
		{tty: false, once: false, detach: true},
		{tty: false, once: true, closeStdin: true},
		{tty: true, once: false, detach: true},
		{tty: true, once: true, detach: true},
	}
	for _, tt := range tests {
		c, d := afterStdinEnd(tt.tty, tt.once)
		if c != tt.closeStdin || d != tt.detach {
			t.Errorf("tty %v once %v: close %v detach %v, want %v %v", tt.tty, tt.once, c, d, tt.closeStdin, tt.detach)
		}
	}
}

// testHub serves a hub on a socket in a temporary directory; stdin is the
// container's side of its stdin (nil for none).
func testHub(t *testing.T, withStdin, tty, once bool) (h *attachHub, dial func() net.Conn, stdin *os.File) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "a.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var w *os.File
	if withStdin {
		stdin, w, err = os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { stdin.Close() })
	}
	var sw io.WriteCloser
	if w != nil {
		sw = w
	}
	h = newAttachHub(ln, sw, nil, tty, once)
	go h.serve()
	t.Cleanup(h.close)
	dial = func() net.Conn {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	return h, dial, stdin
}

// waitAttachers waits until the hub has n attachers.
func waitAttachers(t *testing.T, h *attachHub, n int) {
	t.Helper()
	for range 2000 {
		h.mu.Lock()
		got := len(h.conns)
		h.mu.Unlock()
		if got == n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("hub never had %d attachers", n)
}

// waitOutput waits until b holds want.
func waitOutput(t *testing.T, b *syncBuffer, want string) {
	t.Helper()
	for range 2000 {
		if b.String() == want {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("output %q, want %q", b.String(), want)
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// attachAsync runs attachConn in the background; its result arrives on
// the returned channel.
func attachAsync(conn net.Conn, streams Streams) <-chan error {
	done := make(chan error, 1)
	go func() { done <- attachConn(context.Background(), conn, streams, false, nil) }()
	return done
}

func TestAttachHub_fansOutAndTakesStdinFromAny(t *testing.T) {
	h, dial, stdin := testHub(t, true, false, false)
	inA, inAw := io.Pipe()
	var outA, errA, outB syncBuffer
	doneA := attachAsync(dial(), Streams{Stdin: inA, Stdout: &outA, Stderr: &errA})
	doneB := attachAsync(dial(), Streams{Stdout: &outB})
	waitAttachers(t, h, 2)

	h.broadcast(frameStdout, []byte("hello\n"))
	h.broadcast(frameStderr, []byte("oops\n"))
	if _, err := io.WriteString(inAw, "typed\n"); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 6)
	if _, err := io.ReadFull(stdin, got); err != nil || string(got) != "typed\n" {
		t.Fatalf("container stdin read %q %v", got, err)
	}
	waitOutput(t, &outA, "hello\n")
	waitOutput(t, &errA, "oops\n")
	// A's input ends: without stdinOnce it detaches, stdin stays open.
	inAw.Close()
	if err := <-doneA; err != nil {
		t.Fatalf("detach: %v", err)
	}
	waitAttachers(t, h, 1)
	h.writeStdin([]byte("still open\n"))
	got = make([]byte, 11)
	if _, err := io.ReadFull(stdin, got); err != nil || string(got) != "still open\n" {
		t.Fatalf("stdin after a detach: %q %v", got, err)
	}
	h.broadcast(frameStdout, []byte("bye\n"))
	h.close()
	if err := <-doneB; err != nil {
		t.Fatalf("output-only attacher: %v", err)
	}
	if outA.String() != "hello\n" || errA.String() != "oops\n" {
		t.Fatalf("attacher A got stdout %q stderr %q", outA.String(), errA.String())
	}
	if outB.String() != "hello\nbye\n" {
		t.Fatalf("attacher B got %q", outB.String())
	}
}

func TestAttachHub_stdinOnceClosesStdinAfterFirstAttacher(t *testing.T) {
	h, dial, stdin := testHub(t, true, false, true)
	var out syncBuffer
	done := attachAsync(dial(), Streams{Stdin: strings.NewReader("only line\n"), Stdout: &out})
	b, err := io.ReadAll(stdin) // ends when the hub closes stdin
	if err != nil || string(b) != "only line\n" {
		t.Fatalf("container stdin %q %v", b, err)
	}
	// The attacher stays for the output until the container ends.
	waitAttachers(t, h, 1)
	h.broadcast(frameStdout, []byte("done\n"))
	h.close()
	if err := <-done; err != nil || out.String() != "done\n" {
		t.Fatalf("attach: %v, output %q", err, out.String())
	}
}

func TestAttachHub_stdinOnceClosesWhenAttacherVanishes(t *testing.T) {
	_, dial, stdin := testHub(t, true, false, true)
	c := dial()
	if _, err := readHello(c); err != nil {
		t.Fatal(err)
	}
	if err := writeFrame(c, frameHello, []byte{helloStdin}); err != nil {
		t.Fatal(err)
	}
	if err := writeFrame(c, frameStdin, []byte("partial")); err != nil {
		t.Fatal(err)
	}
	c.Close()
	b, err := io.ReadAll(stdin)
	if err != nil || string(b) != "partial" {
		t.Fatalf("container stdin %q %v", b, err)
	}
}

func TestAttachHub_dropsSlowAttacherWithoutBlocking(t *testing.T) {
	h, dial, _ := testHub(t, false, false, false)
	c := dial()
	defer c.Close()
	if flags, err := readHello(c); err != nil || flags != 0 {
		t.Fatalf("hello %d %v", flags, err)
	}
	if err := writeFrame(c, frameHello, []byte{0}); err != nil {
		t.Fatal(err)
	}
	waitAttachers(t, h, 1)
	// Far more output than the queue and the socket buffer hold, while
	// the attacher reads nothing: broadcast must return every time.
	chunk := bytes.Repeat([]byte("y"), maxFramePayload)
	for range 4 * attachQueue {
		h.broadcast(frameStdout, chunk)
	}
	waitAttachers(t, h, 0)
	var last byte
	for {
		typ, _, err := readFrame(c)
		if err != nil {
			break
		}
		last = typ
	}
	if last != frameDropped {
		t.Fatalf("last frame %q, want the dropped notice", last)
	}
}

func TestAttachConn_reportsDropAndContextEnd(t *testing.T) {
	h, dial, _ := testHub(t, false, false, false)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- attachConn(ctx, dial(), Streams{Stdout: io.Discard}, false, nil) }()
	waitAttachers(t, h, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled attach: %v", err)
	}

	server, client := net.Pipe()
	go func() {
		_ = writeFrame(server, frameHello, []byte{0})
		_, _, _ = readFrame(server)
		_ = writeFrame(server, frameDropped, []byte("too slow"))
		server.Close()
	}()
	err := attachConn(context.Background(), client, Streams{Stdout: io.Discard}, false, nil)
	if err == nil || !strings.Contains(err.Error(), "too slow") {
		t.Fatalf("dropped attach: %v", err)
	}
}
