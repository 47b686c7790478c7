package agent_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"

	utilexec "k8s.io/utils/exec"
)

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// pipeStream is one end of a port-forward stream.
type pipeStream struct {
	io.Reader
	io.Writer
}

func (pipeStream) Close() error { return nil }

func TestNodeView_logsExecAndLookups(t *testing.T) {
	cs := startCoordinator(t)
	n := newTestNode(t)
	n.run(t, cs)
	create(t, cs, busybox("web"))
	p := waitPod(t, cs, "web", "running and ready", running)
	v := n.pods.View()

	uid, err := v.UID("default", "web")
	if err != nil || uid != p.UID {
		t.Fatalf("uid %q %v", uid, err)
	}
	if _, err := v.UID("default", "nope"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing pod: %v", err)
	}
	path, err := v.LogPath("default", "web", "a", false)
	if err != nil || !strings.HasSuffix(path, "/a/0.log") {
		t.Fatalf("log path %q %v", path, err)
	}
	if _, err := v.LogPath("default", "web", "a", true); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("previous of a first instance: %v", err)
	}
	if _, err := v.LogPath("default", "web", "zzz", false); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("unknown container: %v", err)
	}

	var out bytes.Buffer
	if err := v.ExecInContainer(context.Background(), "web", uid, "a", []string{"true"}, nil, nopCloser{&out}, nil, false, nil, 0); err != nil {
		t.Fatalf("exec: %v", err)
	}
	n.rt.SetExecResult("false", 3)
	err = v.ExecInContainer(context.Background(), "web", uid, "a", []string{"false"}, nil, nopCloser{&out}, nil, false, nil, 0)
	if ee, ok := err.(utilexec.ExitError); !ok || ee.ExitStatus() != 3 {
		t.Fatalf("exit code: %v", err)
	}
	if err := v.ExecInContainer(context.Background(), "web", uid, "zzz", []string{"true"}, nil, nil, nil, false, nil, 0); err == nil {
		t.Fatal("exec in a container that does not run")
	}
}

func TestNodeView_portForwardDialsThePod(t *testing.T) {
	cs := startCoordinator(t)
	n := newTestNode(t)
	n.run(t, cs)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			io.WriteString(c, "hello")
			c.Close()
		}
	}()
	pod := busybox("hostnet")
	pod.Spec.HostNetwork = true
	create(t, cs, pod)
	p := waitPod(t, cs, "hostnet", "running and ready", running)
	port := ln.Addr().(*net.TCPAddr).Port
	var out bytes.Buffer
	if err := n.pods.View().PortForward(context.Background(), "hostnet", p.UID, int32(port), pipeStream{strings.NewReader(""), &out}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "hello" {
		t.Fatalf("forwarded %q", out.String())
	}
}
