package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

func TestRewriteKubeconfig_pointsAtForward(t *testing.T) {
	const withName = `apiVersion: v1
kind: Config
clusters:
- name: keel
  cluster:
    server: https://node1.example:6443
    tls-server-name: node1.example
- name: other
  cluster:
    server: https://10.9.9.9:6443
contexts:
- name: c
  context: {cluster: keel, user: u}
users:
- name: u
  user: {token: t}
current-context: c
`
	tests := []struct {
		name           string
		in             string
		wantServerName string
		wantErr        string
	}{
		{name: "agent kubeconfig", in: testKubeconfig, wantServerName: "kubernetes"},
		{name: "existing tls-server-name is kept", in: withName, wantServerName: "node1.example"},
		{name: "garbage", in: "{{{", wantErr: "parse the server's kubeconfig"},
		{name: "no current context", in: strings.Replace(testKubeconfig, "current-context: keel-admin", "", 1), wantErr: "no current context"},
		{name: "missing cluster", in: strings.Replace(testKubeconfig, "cluster: keel\n    user", "cluster: gone\n    user", 1), wantErr: `no cluster "gone"`},
		{name: "plain http", in: strings.Replace(testKubeconfig, "https://", "http://", 1), wantErr: "needs https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := rewriteKubeconfig([]byte(tt.in), "https://127.0.0.1:4000")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := clientcmd.Load(out)
			if err != nil {
				t.Fatalf("rewritten kubeconfig does not load: %v\n%s", err, out)
			}
			cluster := cfg.Clusters[cfg.Contexts[cfg.CurrentContext].Cluster]
			if cluster.Server != "https://127.0.0.1:4000" || cluster.TLSServerName != tt.wantServerName {
				t.Errorf("cluster = server %q name %q", cluster.Server, cluster.TLSServerName)
			}
			if other, ok := cfg.Clusters["other"]; ok && other.Server != "https://10.9.9.9:6443" {
				t.Errorf("another cluster was changed: %q", other.Server)
			}
			in, _ := clientcmd.Load([]byte(tt.in))
			for name, a := range in.AuthInfos {
				b := cfg.AuthInfos[name]
				if b == nil || string(a.ClientKeyData) != string(b.ClientKeyData) || a.Token != b.Token {
					t.Errorf("credentials of %s changed", name)
				}
			}
		})
	}
}

func FuzzRewriteKubeconfig(f *testing.F) {
	f.Add([]byte(testKubeconfig))
	f.Add([]byte("apiVersion: v1\nkind: Config\ncurrent-context: x\ncontexts:\n- name: x\n  context: {cluster: y}\n"))
	f.Add([]byte("{}"))
	f.Add([]byte("clusters: [1, 2]"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, err := rewriteKubeconfig(raw, "https://127.0.0.1:1")
		if err != nil {
			return
		}
		cfg, err := clientcmd.Load(out)
		if err != nil {
			t.Fatalf("rewritten kubeconfig does not load: %v", err)
		}
		if c := cfg.Clusters[cfg.Contexts[cfg.CurrentContext].Cluster]; c.Server != "https://127.0.0.1:1" {
			t.Fatalf("server = %q", c.Server)
		}
	})
}

func TestCheckLoopback_addresses(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:0", true},
		{"127.0.0.2:8443", true},
		{"[::1]:0", true},
		{"localhost:6443", true},
		{"0.0.0.0:6443", false},
		{"10.0.0.1:6443", false},
		{"example.com:1", false},
		{"127.0.0.1", false},
	}
	for _, tt := range tests {
		if err := checkLoopback(tt.addr); (err == nil) != tt.ok {
			t.Errorf("checkLoopback(%q) = %v, want ok=%v", tt.addr, err, tt.ok)
		}
	}
}

func TestDefaultForwardKubeconfig_names(t *testing.T) {
	tests := []struct{ host, want string }{
		{"node1", "/home/u/.kube/keel-node1.kubeconfig"},
		{"10.0.0.1", "/home/u/.kube/keel-10.0.0.1.kubeconfig"},
		{"fe80::1%eth0", "/home/u/.kube/keel-fe80__1_eth0.kubeconfig"},
		{"../../etc", "/home/u/.kube/keel-.._.._etc.kubeconfig"},
	}
	for _, tt := range tests {
		if got := defaultForwardKubeconfig("/home/u", tt.host); got != tt.want {
			t.Errorf("defaultForwardKubeconfig(%q) = %q, want %q", tt.host, got, tt.want)
		}
	}
}

func TestWritePrivateFile_mode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new", "dir", "k.kubeconfig")
	if err := writePrivateFile(path, []byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writePrivateFile(path, []byte("b")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o700 {
		t.Errorf("dir mode = %v, want 0700", di.Mode().Perm())
	}
	if b, _ := os.ReadFile(path); string(b) != "b" {
		t.Errorf("content = %q", b)
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
}

func TestKubeconfig_printsOverSocket(t *testing.T) {
	_, sock := startFakeAPI(t)
	out, stderr, err := runAgentctl(t, map[string]string{"KEEL_SOCKET": sock}, "", "kubeconfig")
	if err != nil {
		t.Fatalf("kubeconfig: %v\n%s", err, stderr)
	}
	if out != testKubeconfig {
		t.Errorf("got\n%s", out)
	}
}

func TestKubeconfig_forwardOverSSH(t *testing.T) {
	installFakeSSH(t)
	// The "API port": an echo server standing in for the TLS endpoint.
	api, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	go func() {
		for {
			c, err := api.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(c, c)
				c.Close()
			}()
		}
	}()
	fake, sock := startFakeAPI(t)
	fake.apiAddress = "https://" + api.Addr().String()

	file := filepath.Join(t.TempDir(), "fwd.kubeconfig")
	outR, outW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := newRootCmd(testStreams(strings.NewReader(""), outW, io.Discard), mapEnv(nil))
	cmd.SetArgs([]string{"--ssh", "root@node1", "--remote-socket", sock, "kubeconfig", "-o", file})
	errc := make(chan error, 1)
	go func() {
		errc <- cmd.ExecuteContext(ctx)
		outW.Close()
	}()

	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		t.Fatalf("no export line: %v (command: %v)", err, <-errc)
	}
	if line != "export KUBECONFIG="+file+"\n" {
		t.Fatalf("stdout line = %q", line)
	}
	go io.Copy(io.Discard, outR)
	cfg, err := clientcmd.LoadFromFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cluster := cfg.Clusters["keel"]
	if cluster.TLSServerName != "kubernetes" || !strings.HasPrefix(cluster.Server, "https://127.0.0.1:") {
		t.Fatalf("cluster = %+v", cluster)
	}

	// Two connections through the forward, each its own ssh.
	for i := range 2 {
		c, err := net.Dial("tcp", strings.TrimPrefix(cluster.Server, "https://"))
		if err != nil {
			t.Fatal(err)
		}
		msg := strings.Repeat("x", 100000+i)
		go func() {
			io.WriteString(c, msg)
			c.(*net.TCPConn).CloseWrite()
		}()
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(got) != msg {
			t.Fatalf("connection %d: read %d bytes, %v; want %d", i, len(got), err, len(msg))
		}
	}

	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("kubeconfig --ssh after interrupt: %v, want nil", err)
	}
	if _, err := net.Dial("tcp", strings.TrimPrefix(cluster.Server, "https://")); err == nil {
		t.Errorf("the forward still listens after interrupt")
	}
}
