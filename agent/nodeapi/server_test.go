package nodeapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	utilexec "k8s.io/utils/exec"

	"github.com/keel-edge/keel/coordinator/pki"
)

// fakePods is one pod "web" in "default" with a container "c" whose log is
// a file and whose exec echoes its command; port-forward dials a listener
// of the test.
type fakePods struct {
	log, prevLog string
	dial         string
}

func (p *fakePods) UID(ns, pod string) (types.UID, error) {
	if ns == "default" && pod == "web" {
		return "uid-1", nil
	}
	return "", os.ErrNotExist
}

func (p *fakePods) LogPath(ns, pod, container string, previous bool) (string, error) {
	if container != "c" {
		return "", fmt.Errorf("container %q is not in pod %s: %w", container, pod, os.ErrNotExist)
	}
	if previous {
		return p.prevLog, nil
	}
	return p.log, nil
}

func (p *fakePods) ExecInContainer(ctx context.Context, name string, uid types.UID, container string, cmd []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, timeout time.Duration) error {
	if in != nil {
		data, _ := io.ReadAll(in)
		fmt.Fprintf(out, "stdin:%s ", data)
	}
	fmt.Fprintf(out, "%s", strings.Join(cmd, " "))
	if cmd[0] == "fail" {
		return utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code 3"), Code: 3}
	}
	return nil
}

func (p *fakePods) AttachContainer(ctx context.Context, name string, uid types.UID, container string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	return fmt.Errorf("attach is not used in this test")
}

func (p *fakePods) PortForward(ctx context.Context, name string, uid types.UID, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	c, err := net.Dial("tcp", p.dial)
	if err != nil {
		return err
	}
	defer c.Close()
	go io.Copy(c, stream)
	_, err = io.Copy(stream, c)
	return err
}

type nodeAPI struct {
	url    string
	pods   *fakePods
	client *rest.Config
	auth   *pki.Authority
}

func startNodeAPI(t *testing.T) *nodeAPI {
	t.Helper()
	now := time.Now()
	auth, err := pki.LoadOrCreate(filepath.Join(t.TempDir(), "pki"), now)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := auth.ServingCert(nil, []net.IP{net.ParseIP("127.0.0.1")}, now)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pods := &fakePods{log: filepath.Join(dir, "0.log"), prevLog: filepath.Join(dir, "prev.log")}
	os.WriteFile(pods.prevLog, []byte("2026-01-01T00:00:00Z stdout F previous\n"), 0o600)
	os.WriteFile(pods.log, []byte("2026-01-01T00:00:01Z stdout F a\n2026-01-01T00:00:02Z stdout F b\n"), 0o600)
	tlsCfg := auth.TLSConfig(cert)
	s, err := New(Config{Pods: pods, TLS: tlsCfg, AllowedUsers: []string{"keel-apiserver"}, FollowPoll: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	certPEM, keyPEM, err := auth.ClientCert("keel-apiserver", nil, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	return &nodeAPI{url: "https://" + ln.Addr().String(), pods: pods, auth: auth, client: &rest.Config{
		Host:            "https://" + ln.Addr().String(),
		TLSClientConfig: rest.TLSClientConfig{CAData: auth.CAPEM(), CertData: certPEM, KeyData: keyPEM},
	}}
}

func (n *nodeAPI) get(t *testing.T, path string) (int, string) {
	t.Helper()
	client, err := rest.HTTPClientFor(n.client)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Get(n.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

func TestServer_logs(t *testing.T) {
	n := startNodeAPI(t)
	for _, tt := range []struct {
		path string
		code int
		want string
	}{
		{"/containerLogs/default/web/c", 200, "a\nb\n"},
		{"/containerLogs/default/web/c?tailLines=1&timestamps=true", 200, "2026-01-01T00:00:02Z b\n"},
		{"/containerLogs/default/web/c?previous=true", 200, "previous\n"},
		{"/containerLogs/default/web/other", 404, ""},
		{"/containerLogs/default/nope/c", 404, ""},
		{"/containerLogs/default/web/c?tailLines=x", 400, ""},
	} {
		code, body := n.get(t, tt.path)
		if code != tt.code || (tt.want != "" && body != tt.want) {
			t.Errorf("%s: %d %q, want %d %q", tt.path, code, body, tt.code, tt.want)
		}
	}
}

func TestServer_followAcrossRotation(t *testing.T) {
	n := startNodeAPI(t)
	client, _ := rest.HTTPClientFor(n.client)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", n.url+"/containerLogs/default/web/c?follow=true&tailLines=0", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	appendLine := func(path, content string) {
		f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
		fmt.Fprintf(f, "2026-01-01T00:00:03Z stdout F %s\n", content)
		f.Close()
	}
	appendLine(n.pods.log, "c")
	os.Rename(n.pods.log, n.pods.log+".1")
	time.Sleep(30 * time.Millisecond)
	appendLine(n.pods.log, "d")
	var got bytes.Buffer
	buf := make([]byte, 64)
	for !strings.Contains(got.String(), "d\n") {
		k, err := resp.Body.Read(buf)
		got.Write(buf[:k])
		if err != nil {
			t.Fatalf("read %q: %v", got.String(), err)
		}
	}
	if got.String() != "c\nd\n" {
		t.Fatalf("followed %q", got.String())
	}
}

func TestServer_execAndPortForward(t *testing.T) {
	n := startNodeAPI(t)
	ctx := context.Background()
	u, _ := url.Parse(n.url + "/exec/default/web/c?command=echo&command=hi&output=1&input=1")
	exec, err := remotecommand.NewSPDYExecutor(n.client, "POST", u)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: strings.NewReader("x"), Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "stdin:x echo hi" {
		t.Fatalf("exec output %q", out.String())
	}
	u, _ = url.Parse(n.url + "/exec/default/web/c?command=fail&output=1")
	exec, _ = remotecommand.NewSPDYExecutor(n.client, "POST", u)
	err = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: io.Discard})
	if ee, ok := err.(utilexec.ExitError); !ok || ee.ExitStatus() != 3 {
		t.Fatalf("exit code: %v", err)
	}

	echo, _ := net.Listen("tcp", "127.0.0.1:0")
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	n.pods.dial = echo.Addr().String()
	transport, upgrader, err := spdy.RoundTripperFor(n.client)
	if err != nil {
		t.Fatal(err)
	}
	pfURL, _ := url.Parse(n.url + "/portForward/default/web")
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, "POST", pfURL)
	stop, ready := make(chan struct{}), make(chan struct{})
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:8080"}, stop, ready, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	go pf.ForwardPorts()
	defer close(stop)
	<-ready
	ports, _ := pf.GetPorts()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0].Local))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("ping"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("port-forward echo %q %v", buf, err)
	}
}

func TestServer_refusesOtherClients(t *testing.T) {
	n := startNodeAPI(t)
	plain := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := plain.Get(n.url + "/containerLogs/default/web/c")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without a certificate: %d", resp.StatusCode)
	}
	certPEM, keyPEM, _ := n.auth.ClientCert("someone-else", nil, time.Hour, time.Now())
	other := *n.client
	other.CertData, other.KeyData = certPEM, keyPEM
	client, _ := rest.HTTPClientFor(&other)
	resp, err = client.Get(n.url + "/containerLogs/default/web/c")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("with another user's certificate: %d", resp.StatusCode)
	}
}
