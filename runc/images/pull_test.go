package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

const (
	testUser     = "puller"
	testPassword = "s3cret-pull-password"
)

// basicAuth puts a registry behind HTTP basic authentication, answering
// like a registry does (a challenge and an UNAUTHORIZED error body).
func basicAuth(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); ok && u == testUser && p == testPassword {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="test registry"`)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
	})
}

// serveRegistry starts go-containerregistry's registry on loopback and
// returns its host:port.
func serveRegistry(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// push writes img to ref.
func push(t *testing.T, ref string, img v1.Image, opts ...remote.Option) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, opts...); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
}

func TestPull_byTagAndDigest(t *testing.T) {
	host := serveRegistry(t, nil)
	img := image(t, layer(t, file("bin/app", "app")), layer(t, file("etc/x", "x")))
	push(t, host+"/team/app:v1", img)
	s := newStore(t)
	var progress []string
	got, err := s.Pull(context.Background(), host+"/team/app:v1", nil, func(m string) { progress = append(progress, m) })
	if err != nil {
		t.Fatal(err)
	}
	if got.Ref != host+"/team/app:v1" || got.Digest != digest(t, img) || got.Entrypoint[0] != "/bin/app" {
		t.Errorf("Pull = %+v", got)
	}
	size := int64(0)
	for _, m := range []func() (int64, error){img.Size, func() (int64, error) { b, err := img.RawConfigFile(); return int64(len(b)), err }} {
		n, _ := m()
		size += n
	}
	ls, _ := img.Layers()
	for _, l := range ls {
		n, _ := l.Size()
		size += n
	}
	want := []string{
		"Pulling image " + host + "/team/app:v1",
		fmt.Sprintf("Pulled image %s/team/app:v1 in 1s (%d bytes)", host, size),
	}
	if !slices.Equal(progress, want) {
		t.Errorf("progress = %q, want %q", progress, want)
	}
	byDigest := host + "/team/app@" + digest(t, img)
	again, err := s.Pull(context.Background(), byDigest, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Digest != got.Digest {
		t.Errorf("pull by digest = %s, want %s", again.Digest, got.Digest)
	}
	if _, err := s.Get(byDigest); err != nil {
		t.Errorf("Get(%s): %v", byDigest, err)
	}
}

func TestPull_picksPlatformFromIndex(t *testing.T) {
	host := serveRegistry(t, nil)
	amd := image(t, layer(t, file("arch", "amd64")))
	arm := image(t, layer(t, file("arch", "arm64")))
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
	)
	r, _ := name.ParseReference(host + "/multi:v1")
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	got, err := s.Pull(context.Background(), host+"/multi:v1", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != digest(t, amd) {
		t.Errorf("pulled %s, want the linux/amd64 image %s", got.Digest, digest(t, amd))
	}
}

func TestPull_errorsSayWhatAndWhere(t *testing.T) {
	open := serveRegistry(t, nil)
	locked := serveRegistry(t, basicAuth)
	img := image(t, layer(t, file("a", "b")))
	push(t, locked+"/private/app:v1", img, remote.WithAuth(&authn.Basic{Username: testUser, Password: testPassword}))
	good := []RegistryAuth{{Registry: "https://" + locked + "/v1/", Username: testUser, Password: testPassword}}
	wrong := []RegistryAuth{{Registry: locked, Username: testUser, Password: "not-" + testPassword}}
	tests := []struct {
		name string
		ref  string
		auth []RegistryAuth
		want []string // substrings of the error; none means success
	}{
		{name: "unknown repository", ref: open + "/nothing/here:v1", want: []string{"pull " + open + "/nothing/here:v1", "from " + open, "NAME_UNKNOWN"}},
		{name: "unknown digest", ref: open + "/nothing@" + dg1, want: []string{"from " + open, "UNKNOWN"}},
		{name: "no credentials", ref: locked + "/private/app:v1", want: []string{"from " + locked, "UNAUTHORIZED", "authentication required"}},
		{name: "wrong credentials", ref: locked + "/private/app:v1", auth: wrong, want: []string{"from " + locked, "UNAUTHORIZED"}},
		{name: "credentials for another registry", ref: locked + "/private/app:v1", auth: []RegistryAuth{{Registry: open, Username: testUser, Password: testPassword}}, want: []string{"UNAUTHORIZED"}},
		{name: "right credentials", ref: locked + "/private/app:v1", auth: good},
		{name: "malformed reference", ref: "Not A Ref", want: []string{`parse image reference "Not A Ref"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			_, err := s.Pull(context.Background(), tt.ref, tt.auth, nil)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Pull: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Pull succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), testPassword) {
				t.Errorf("error %q reveals the password", err)
			}
			if _, gerr := s.Get(tt.ref); !errors.Is(gerr, os.ErrNotExist) && !strings.Contains(tt.name, "malformed") {
				t.Errorf("Get after a failed pull: %v", gerr)
			}
		})
	}
}

func TestPull_honoursContext(t *testing.T) {
	host := serveRegistry(t, nil)
	push(t, host+"/app:v1", image(t, layer(t, file("a", "b"))))
	s := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Pull(ctx, host+"/app:v1", nil, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Pull with a cancelled context: %v", err)
	}
}

// TestPull_fromDistributionRegistry pulls from Debian's docker-registry
// (the CNCF distribution server) started on loopback.
func TestPull_fromDistributionRegistry(t *testing.T) {
	bin := requireBinary(t, "/usr/bin/docker-registry", "docker-registry")
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), addr)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("docker-registry did not answer on %s: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	img := image(t, layer(t, file("bin/app", "app")), layer(t, file("etc/conf", "conf")))
	push(t, addr+"/edge/app:v3", img)
	s := newStore(t)
	got, err := s.Pull(context.Background(), addr+"/edge/app:v3", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != digest(t, img) {
		t.Errorf("pulled %s, want %s", got.Digest, digest(t, img))
	}
	_, err = s.Pull(context.Background(), addr+"/edge/app:missing", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "MANIFEST_UNKNOWN") {
		t.Errorf("pull of a missing tag: %v, want the registry's MANIFEST_UNKNOWN", err)
	}
}
