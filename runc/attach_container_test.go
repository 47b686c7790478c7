package runc

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// attachBG runs r.Attach in the background; its result arrives on the
// returned channel.
func attachBG(ctx context.Context, r *Runtime, id string, streams Streams, tty bool, resize <-chan TermSize) <-chan error {
	done := make(chan error, 1)
	go func() { done <- r.Attach(ctx, id, streams, tty, resize) }()
	return done
}

// waitContains waits until b holds want (terminal carriage returns
// removed).
func waitContains(t *testing.T, b *syncBuffer, want string) {
	t.Helper()
	for range 1000 {
		if strings.Contains(strings.ReplaceAll(b.String(), "\r", ""), want) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("output %q lacks %q", b.String(), want)
}

func TestRuntime_attachStdinToCat(t *testing.T) {
	r := testRuntime(t)
	cs := runPod(t, r, "attach-cat")
	cs.Args, cs.Stdin = []string{"/bin/cat"}, true
	st, err := r.StartContainer(context.Background(), cs)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// Two attachers: A writes, both see cat's echo.
	inA, inAw := io.Pipe()
	var outA, outB syncBuffer
	doneA := attachBG(ctx, r, st.ID, Streams{Stdin: inA, Stdout: &outA}, false, nil)
	doneB := attachBG(ctx, r, st.ID, Streams{Stdout: &outB}, false, nil)
	// A is served once its input flows (the shim greets an attacher
	// only once it is registered); B once it sees output.
	for i := 0; !strings.Contains(outB.String(), "mark\n"); i++ {
		if i == 100 {
			t.Fatalf("attacher B saw no output: %q", outB.String())
		}
		io.WriteString(inAw, "mark\n")
		time.Sleep(50 * time.Millisecond)
	}
	io.WriteString(inAw, "ping\n")
	waitContains(t, &outA, "ping\n")
	waitContains(t, &outB, "ping\n")

	// A's input ends: it detaches, cat keeps running with stdin open.
	inAw.Close()
	if err := <-doneA; err != nil {
		t.Fatalf("detach: %v", err)
	}
	if s, _ := r.state(st.ID); !s.Running {
		t.Fatalf("cat ended after a detach: %+v", s)
	}

	// A new Runtime (an agent restart) attaches to the same shim.
	r2, err := New(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	inC, inCw := io.Pipe()
	var outC syncBuffer
	doneC := attachBG(ctx, r2, st.ID, Streams{Stdin: inC, Stdout: &outC}, false, nil)
	io.WriteString(inCw, "pong\n")
	waitContains(t, &outC, "pong\n")
	waitContains(t, &outB, "ping\npong\n")

	if err := r.StopContainer(ctx, st.ID, time.Second); err != nil {
		t.Fatal(err)
	}
	for name, done := range map[string]<-chan error{"B": doneB, "C": doneC} {
		if err := <-done; err != nil {
			t.Errorf("attacher %s after the container stopped: %v", name, err)
		}
	}
	inCw.Close()
	if got := logText(t, cs.LogPath); !strings.HasPrefix(got, "mark\n") || !strings.HasSuffix(got, "ping\npong\n") {
		t.Fatalf("log %q", got)
	}
	if err := r.Attach(ctx, st.ID, Streams{Stdout: io.Discard}, false, nil); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Fatalf("attach to an exited container: %v", err)
	}
}

func TestRuntime_attachTTY(t *testing.T) {
	r := testRuntime(t)
	cs := runPod(t, r, "attach-tty")
	cs.Args, cs.Stdin, cs.TTY = []string{"/bin/sh"}, true, true
	st, err := r.StartContainer(context.Background(), cs)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resize := make(chan TermSize, 1)
	resize <- TermSize{Width: 101, Height: 33}
	in, inw := io.Pipe()
	var out syncBuffer
	done := attachBG(ctx, r, st.ID, Streams{Stdin: in, Stdout: &out}, true, resize)
	// The size travels beside the input: ask until the answer shows it.
	for i := 0; !strings.Contains(out.String(), "33 101"); i++ {
		if i == 100 {
			t.Fatalf("terminal never sized 33 101: %q", out.String())
		}
		io.WriteString(inw, "stty size; tty\n")
		time.Sleep(100 * time.Millisecond)
	}
	waitContains(t, &out, "/dev/pts/")
	io.WriteString(inw, "exit 7\n")
	if err := <-done; err != nil {
		t.Fatalf("attach until the shell exits: %v", err)
	}
	inw.Close()
	end, err := r.Wait(ctx, st.ID)
	if err != nil || end.ExitCode != 7 {
		t.Fatalf("exit %+v %v", end, err)
	}
	if got := logText(t, cs.LogPath); !strings.Contains(got, "33 101") {
		t.Fatalf("terminal output missing from the log: %q", got)
	}
}

func TestRuntime_attachStdinOnce(t *testing.T) {
	r := testRuntime(t)
	cs := runPod(t, r, "attach-once")
	cs.Args, cs.Stdin, cs.StdinOnce = []string{"/bin/sh", "-c", "cat; echo stdin closed"}, true, true
	st, err := r.StartContainer(context.Background(), cs)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The input ends: stdin closes, the attacher sees the rest of the
	// output until the container exits.
	var out syncBuffer
	if err := r.Attach(ctx, st.ID, Streams{Stdin: strings.NewReader("once\n"), Stdout: &out}, false, nil); err != nil {
		t.Fatal(err)
	}
	if out.String() != "once\nstdin closed\n" {
		t.Fatalf("output %q", out.String())
	}
	end, err := r.Wait(ctx, st.ID)
	if err != nil || end.ExitCode != 0 {
		t.Fatalf("exit %+v %v", end, err)
	}
}

func TestRuntime_attachWithoutStdinIsOutputOnly(t *testing.T) {
	r := testRuntime(t)
	cs := runPod(t, r, "attach-out")
	cs.Args = []string{"/bin/sh", "-c", "while true; do echo tick; echo tock >&2; sleep 0.1; done"}
	st, err := r.StartContainer(context.Background(), cs)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errOut syncBuffer
	actx, stop := context.WithCancel(ctx)
	// Input offered to a container without stdin is not read, so its end
	// does not detach.
	done := attachBG(actx, r, st.ID, Streams{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut}, false, nil)
	waitContains(t, &out, "tick\n")
	waitContains(t, &errOut, "tock\n")
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("attach after cancel: %v", err)
	}
}

func TestRuntime_attacherThatNeverReadsDoesNotStallTheContainer(t *testing.T) {
	r := testRuntime(t)
	cs := runPod(t, r, "attach-slow")
	cs.Args = []string{"/bin/sh", "-c", "sleep 0.5; head -c 20000000 /dev/zero | tr '\\0' y; echo; echo end"}
	st, err := r.StartContainer(context.Background(), cs)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("unix", filepath.Join(r.ctrDir(st.ID), attachSocket))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := readHello(c); err != nil {
		t.Fatal(err)
	}
	if err := writeFrame(c, frameHello, []byte{0}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	end, err := r.Wait(ctx, st.ID)
	if err != nil || end.ExitCode != 0 {
		t.Fatalf("container behind a stalled attacher: %+v %v", end, err)
	}
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
