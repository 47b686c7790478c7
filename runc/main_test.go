package runc

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	Init() // the test binary is also the container init and shim
	if os.Getenv(cgroup2Env) != "" {
		os.Exit(childCgroup2Main())
	}
	if os.Getenv(agentEnv) != "" {
		os.Exit(childAgentMain())
	}
	code := m.Run()
	removeTestCgroupParent()
	os.Exit(code)
}

// removeTestCgroupParent removes the tests' parent cgroup from every
// hierarchy once every container is gone (rmdir only takes empty ones).
func removeTestCgroupParent() {
	parent := TestConfig("/").CgroupParent
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + parent)
	dirs = append(dirs, "/sys/fs/cgroup/"+parent)
	for _, d := range dirs {
		os.Remove(d)
	}
}

// requirePrivileged skips a test that needs root, cgroups and busybox, or
// fails it when CI=true, where they must be present.
func requirePrivileged(t testing.TB) {
	t.Helper()
	var missing string
	switch {
	case os.Geteuid() != 0:
		missing = "root"
	default:
		if _, err := exec.LookPath("busybox"); err != nil {
			missing = "busybox-static"
		}
	}
	if missing != "" {
		requireFeature(t, missing)
	}
}

// requireFeature skips (or fails with CI=true) a test whose feature is
// missing from this build or kernel.
func requireFeature(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("test needs %s", what)
	}
	t.Skipf("test needs %s", what)
}

// busyboxRootfs assembles a root filesystem of the static busybox and its
// applet links.
func busyboxRootfs(t testing.TB) string {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, d := range []string{"bin", "etc", "tmp", "proc", "sys", "dev", "home/app", "work"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range strings.Fields(string(out)) {
		if a == "busybox" {
			continue
		}
		_ = os.Symlink("busybox", filepath.Join(root, "bin", a))
	}
	if err := os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\napp:x:1000:\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// testRuntime is a Runtime on a fresh state directory that stops and
// removes everything it ran when the test ends.
func testRuntime(t testing.TB) *Runtime {
	t.Helper()
	requirePrivileged(t)
	dir, err := os.MkdirTemp("", "keel-runc-")
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(TestConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanupRuntime(t, r) })
	return r
}

func cleanupRuntime(t testing.TB, r *Runtime) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	states, err := r.Containers(ctx)
	if err != nil {
		t.Errorf("cleanup: %v", err)
	}
	pods := map[string]bool{}
	for _, s := range states {
		pods[s.PodUID] = true
	}
	ents, _ := os.ReadDir(filepath.Join(r.cfg.StateDir, "sandboxes"))
	for _, e := range ents {
		pods[e.Name()] = true
	}
	for p := range pods {
		if err := r.RemoveSandbox(ctx, p); err != nil {
			t.Errorf("cleanup sandbox %s: %v", p, err)
		}
	}
	if os.Getenv("KEEP") != "" {
		return
	}
	if err := os.RemoveAll(r.cfg.StateDir); err != nil {
		t.Errorf("cleanup: %v", err)
	}
}

// runPod creates a sandbox named pod and returns a spec template for it.
func runPod(t testing.TB, r *Runtime, pod string) ContainerSpec {
	t.Helper()
	if _, err := r.CreateSandbox(context.Background(), SandboxSpec{PodUID: pod, Namespace: "default", Name: pod, Hostname: pod}); err != nil {
		t.Fatal(err)
	}
	return ContainerSpec{
		PodUID: pod, Name: "c", RootFS: busyboxRootfs(t),
		LogPath:  filepath.Join(t.TempDir(), "c.log"),
		Security: Security{NoNewPrivileges: true, SeccompUnconfined: !seccompAvailable()},
	}
}

// runToExit starts cs and waits for it to exit.
func runToExit(t testing.TB, r *Runtime, cs ContainerSpec) ContainerState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := r.StartContainer(ctx, cs)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	st, err = r.Wait(ctx, st.ID)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	if st.Reason == "Unknown" {
		b, _ := os.ReadFile(filepath.Join(r.ctrDir(st.ID), "shim.log"))
		t.Logf("shim log: %s", b)
	}
	return st
}

// logText returns the text of the CRI log entries of path.
func logText(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		f := strings.SplitN(strings.TrimSuffix(line, "\n"), " ", 4)
		if len(f) != 4 || (f[1] != "stdout" && f[1] != "stderr") || (f[2] != "F" && f[2] != "P") {
			t.Fatalf("bad log line %q", line)
		}
		if _, err := time.Parse(time.RFC3339Nano, f[0]); err != nil {
			t.Fatalf("bad log time in %q: %v", line, err)
		}
	}
	return logTextOf(string(b))
}

// logTextOf joins CRI log entries back into the output text.
func logTextOf(log string) string {
	var out bytes.Buffer
	for line := range strings.Lines(log) {
		f := strings.SplitN(strings.TrimSuffix(line, "\n"), " ", 4)
		if len(f) != 4 {
			continue
		}
		out.WriteString(f[3])
		if f[2] == "F" {
			out.WriteByte('\n')
		}
	}
	return out.String()
}

// isCgroup2 reports whether /sys/fs/cgroup is the unified hierarchy.
func isCgroup2() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}
