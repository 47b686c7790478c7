package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// serveUnix serves h over HTTP on a unix socket in a temporary directory
// and returns the socket's path.
func serveUnix(t *testing.T, h http.Handler) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return path
}

func TestDialStdio_httpOverUnixSocketWithHalfClose(t *testing.T) {
	sock := serveUnix(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", r.URL.Path)
	}))
	conn, err := socketDialer{path: sock}.DialContext(context.Background(), "unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	errc := make(chan error, 1)
	go func() { errc <- dialStdio(conn, inR, outW) }()

	// A keep-alive request, then end of input: the server must still
	// answer, and then stdout must end.
	go func() {
		io.WriteString(inW, "GET /api HTTP/1.1\r\nHost: localhost\r\n\r\n")
		inW.Close()
	}()
	resp, err := http.ReadResponse(bufio.NewReader(outR), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "hello /api" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	if rest, err := io.ReadAll(outR); err != nil || len(rest) != 0 {
		t.Fatalf("after the response: %q, %v; want end of stream", rest, err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("dialStdio: %v", err)
	}
}

func TestDialStdio_serverClosesFirst(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.WriteString(c, "bye")
		c.Close()
	}()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	inR, inW := io.Pipe() // stdin stays open
	defer inW.Close()
	var out closeRecorder
	if err := dialStdio(conn, inR, &out); err != nil {
		t.Fatalf("dialStdio: %v", err)
	}
	if out.String() != "bye" || !out.closed {
		t.Fatalf("stdout = %q closed=%v, want bye and closed", out.String(), out.closed)
	}
}

// closeRecorder is a stdout that records what was written and whether it
// was closed.
type closeRecorder struct {
	strings.Builder
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestDialStdioCmd_socketFromEnvironment(t *testing.T) {
	sock := serveUnix(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	env := map[string]string{"KEEL_SOCKET": sock}
	var out closeRecorder
	in := strings.NewReader("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	cmd := newRootCmd(testStreams(in, &out, io.Discard), mapEnv(env))
	cmd.SetArgs([]string{"dial-stdio"})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("dial-stdio: %v", err)
	}
	if !strings.HasPrefix(out.String(), "HTTP/1.1 200 OK") || !strings.HasSuffix(out.String(), "ok") {
		t.Fatalf("stdout = %q", out.String())
	}
}

func TestDialStdioCmd_apiFromStatus(t *testing.T) {
	// The "API port" is a TCP listener that greets and closes.
	api, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	go func() {
		c, err := api.Accept()
		if err != nil {
			return
		}
		io.WriteString(c, "tls would start here")
		c.Close()
	}()
	port := api.Addr().(*net.TCPAddr).Port
	sock := serveUnix(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != statusPath {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(clusterStatus{Coordinator: "n1", APIAddress: fmt.Sprintf("https://0.0.0.0:%d", port)})
	}))
	inR, inW := io.Pipe()
	defer inW.Close()
	var out closeRecorder
	cmd := newRootCmd(testStreams(inR, &out, io.Discard), mapEnv(nil))
	cmd.SetArgs([]string{"dial-stdio", "--api", "--socket", sock})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("dial-stdio --api: %v", err)
	}
	if out.String() != "tls would start here" {
		t.Fatalf("stdout = %q", out.String())
	}
}

func TestDialStdioCmd_missingSocket(t *testing.T) {
	cmd := newRootCmd(testStreams(strings.NewReader(""), io.Discard, io.Discard), mapEnv(nil))
	missing := filepath.Join(t.TempDir(), "none.sock")
	cmd.SetArgs([]string{"dial-stdio", "--socket", missing})
	err := cmd.Execute()
	want := "cannot reach the API at " + missing + ": no such socket; is the agent running?"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want %q", err, want)
	}
}

func TestAPIDialAddresses_forms(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{in: "https://10.0.0.5:6443", want: []string{"10.0.0.5:6443", "127.0.0.1:6443"}},
		{in: "https://0.0.0.0:6443", want: []string{"127.0.0.1:6443"}},
		{in: "https://[::]:6443", want: []string{"[::1]:6443", "127.0.0.1:6443"}},
		{in: "https://127.0.0.1:6443", want: []string{"127.0.0.1:6443"}},
		{in: "https://127.0.0.2:6443", want: []string{"127.0.0.2:6443", "127.0.0.1:6443"}},
		{in: "https://[fd00::1]:6443", want: []string{"[fd00::1]:6443", "127.0.0.1:6443"}},
		{in: "https://node1", want: []string{"node1:443", "127.0.0.1:443"}},
		{in: "http://10.0.0.5:6443", wantErr: "want https://HOST:PORT"},
		{in: "", wantErr: "want https://HOST:PORT"},
		{in: "10.0.0.5:6443", wantErr: "want https://HOST:PORT"},
		{in: "https://]", wantErr: "neither an IP nor a DNS name"},
		{in: "https://-x:1", wantErr: "neither an IP nor a DNS name"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := apiDialAddresses(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func FuzzAPIDialAddresses(f *testing.F) {
	for _, s := range []string{"https://1.2.3.4:6443", "https://[::]:1", "https://h", "http://x", "https://%zz", "https://:0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		addrs, err := apiDialAddresses(s)
		if err != nil {
			return
		}
		if len(addrs) == 0 {
			t.Fatalf("apiDialAddresses(%q) gave nothing to dial", s)
		}
		for _, addr := range addrs {
			if host, _, err := net.SplitHostPort(addr); err != nil || host == "" {
				t.Fatalf("apiDialAddresses(%q) = %q, not HOST:PORT", s, addrs)
			}
		}
	})
}

func TestDialAPIPort_fallsBackToLoopback(t *testing.T) {
	api, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	go func() {
		if c, err := api.Accept(); err == nil {
			c.Close()
		}
	}()
	port := api.Addr().(*net.TCPAddr).Port
	// Nothing listens on 127.0.0.2: it stands in for an advertised
	// address that does not answer on this machine.
	fake, sock := startFakeAPI(t)
	fake.apiAddress = fmt.Sprintf("https://127.0.0.2:%d", port)
	conn, err := dialAPIPort(context.Background(), sock, "")
	if err != nil {
		t.Fatalf("dialAPIPort: %v", err)
	}
	conn.Close()
	if got := conn.RemoteAddr().String(); got != api.Addr().String() {
		t.Errorf("connected to %s, want the loopback fallback %s", got, api.Addr())
	}
}

func TestSocketReason_words(t *testing.T) {
	dir := t.TempDir()
	// A socket file nobody listens on.
	dead := filepath.Join(dir, "dead.sock")
	ln, err := net.Listen("unix", dead)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	tests := []struct {
		path, want string
	}{
		{path: dead, want: "nothing is listening on it"},
		{path: filepath.Join(dir, "missing.sock"), want: "no such socket"},
	}
	for _, tt := range tests {
		err := checkSocket(context.Background(), tt.path)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("checkSocket(%s) = %v, want %q", tt.path, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "connection refused") {
			t.Errorf("error %q would be rewritten by kubectl", err)
		}
		if _, statErr := os.Stat(tt.path); statErr == nil && !strings.Contains(err.Error(), tt.path) {
			t.Errorf("error %q does not name the socket", err)
		}
	}
}
