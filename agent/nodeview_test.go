package agent_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	utilexec "k8s.io/utils/exec"

	"github.com/keel-edge/keel/agent"
	"github.com/keel-edge/keel/agent/agenttest"
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

func TestNodeView_attachCarriesStdinSpecAndStreams(t *testing.T) {
	cs := startCoordinator(t)
	n := newTestNode(t)
	n.run(t, cs)
	create(t, cs, busybox("sh", func(p *corev1.Pod) {
		c := &p.Spec.Containers[0]
		c.Stdin, c.StdinOnce, c.TTY = true, true, true
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "quiet", Image: "busybox:1", Command: []string{"sleep", "3600"}})
	}))
	p := waitPod(t, cs, "sh", "running and ready", running)
	specs := map[string]agent.ContainerSpec{}
	states, _ := n.rt.Containers(context.Background())
	ids := map[string]string{}
	for _, st := range states {
		spec, _ := n.rt.Spec(st.ID)
		specs[st.Name], ids[st.Name] = spec, st.ID
	}
	if s := specs["a"]; !s.Stdin || !s.StdinOnce || !s.TTY {
		t.Fatalf("container a started with stdin %v, stdinOnce %v, tty %v; want all true", s.Stdin, s.StdinOnce, s.TTY)
	}
	if s := specs["quiet"]; s.Stdin || s.StdinOnce || s.TTY {
		t.Fatalf("container quiet started with stdin %v, stdinOnce %v, tty %v; want none", s.Stdin, s.StdinOnce, s.TTY)
	}

	v := n.pods.View()
	n.rt.SetAttachOutput("/ # ")
	var out bytes.Buffer
	if err := v.AttachContainer(context.Background(), "sh", p.UID, "a", strings.NewReader("echo hi\n"), nopCloser{&out}, nil, true, nil); err != nil {
		t.Fatalf("attach: %v", err)
	}
	if err := v.AttachContainer(context.Background(), "sh", p.UID, "quiet", strings.NewReader("ignored\n"), nopCloser{&out}, nil, false, nil); err != nil {
		t.Fatalf("attach without stdin: %v", err)
	}
	want := []agenttest.AttachCall{{ID: ids["a"], TTY: true, Stdin: "echo hi\n"}, {ID: ids["quiet"]}}
	if got := n.rt.Attaches(); !reflect.DeepEqual(got, want) {
		t.Fatalf("attaches = %+v, want %+v", got, want)
	}
	if out.String() != "/ # / # " {
		t.Fatalf("attach output %q", out.String())
	}
	if err := v.AttachContainer(context.Background(), "sh", p.UID, "zzz", nil, nopCloser{&out}, nil, false, nil); err == nil {
		t.Fatal("attach to a container that does not run")
	}
}
