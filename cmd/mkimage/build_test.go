package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keel-edge/keel/runc/images"
)

// requireBusybox finds Debian's static busybox, skipping where it is not
// installed and failing on CI, where it must be.
func requireBusybox(t *testing.T) string {
	t.Helper()
	for _, p := range busyboxPaths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("busybox missing: install the Debian package busybox-static (CI=true: the test must run)")
	}
	t.Skip("busybox missing: install the Debian package busybox-static")
	return ""
}

// requireRoot skips a test that mounts where it cannot, failing on CI.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("needs root (CI=true: privileged tests must run)")
	}
	t.Skip("needs root")
}

// goCommand is the go tool running this test.
func goCommand(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	p := filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no go command on PATH or in GOROOT: %v", err)
	}
	return p
}

func TestBuild_reproducibleImagesThatImportAndRun(t *testing.T) {
	bb := requireBusybox(t)
	epoch := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	first, err := build(options{out: t.TempDir(), busybox: bb, goCmd: goCommand(t), epoch: epoch})
	if err != nil {
		t.Fatal(err)
	}
	second, err := build(options{out: t.TempDir(), busybox: bb, goCmd: goCommand(t), epoch: epoch})
	if err != nil {
		t.Fatal(err)
	}
	for i := range first {
		if first[i].digest != second[i].digest || first[i].ref != second[i].ref {
			t.Errorf("two builds differ: %+v and %+v", first[i], second[i])
		}
	}

	store, err := images.Open(images.TestConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range first {
		f, err := os.Open(w.path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := store.Import(context.Background(), f)
		f.Close()
		if err != nil {
			t.Fatalf("import %s: %v", w.path, err)
		}
		if len(got) != 1 || got[0].Ref != w.ref || got[0].Digest != w.digest {
			t.Fatalf("import %s = %+v, want %s %s", w.path, got, w.ref, w.digest)
		}
	}
	demo, err := store.Get("localhost/demo:v1")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(demo.Entrypoint, []string{"/bin/demo"}) || !slices.Contains(demo.Env, pathEnv) {
		t.Errorf("demo image config = %+v", demo)
	}
	bbImg, err := store.Get("localhost/busybox:v1")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(bbImg.Cmd, []string{"sh"}) {
		t.Errorf("busybox image cmd = %v", bbImg.Cmd)
	}

	requireRoot(t)
	roots := map[string]string{}
	for _, img := range []images.Image{bbImg, demo} {
		id := strings.NewReplacer("/", "-", ":", "-").Replace(img.Ref)
		root, err := store.Mount(context.Background(), img, id)
		t.Cleanup(func() {
			if err := store.Unmount(context.Background(), id); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		roots[img.Ref] = root
		if l, err := os.Readlink(filepath.Join(root, "bin/sh")); err != nil || l != "busybox" {
			t.Errorf("%s: /bin/sh -> %q, %v", img.Ref, l, err)
		}
		cmd := exec.Command("/bin/sh", "-c", "echo $((6*7)) && ls /bin/busybox")
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
		cmd.Dir = "/"
		cmd.Env = []string{pathEnv}
		out, err := cmd.CombinedOutput()
		if err != nil || string(out) != "42\n/bin/busybox\n" {
			t.Errorf("%s: /bin/sh in the image: %q, %v", img.Ref, out, err)
		}
	}
	runDemo(t, roots["localhost/demo:v1"])
}

// runDemo starts the image's /bin/demo chrooted into root on loopback,
// asks it for /healthz, then stops it with SIGTERM and expects exit 0.
func runDemo(t *testing.T, root string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var out strings.Builder
	cmd := exec.Command("/bin/demo", "-listen", addr)
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := false
	t.Cleanup(func() {
		if !waited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("/healthz = %d", resp.StatusCode)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo did not answer on %s: %v\n%s", addr, err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	waited = true
	if err != nil {
		t.Errorf("demo after SIGTERM: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "GET /healthz 200") || !strings.Contains(out.String(), "received SIGTERM") {
		t.Errorf("demo output %q", out.String())
	}
}
