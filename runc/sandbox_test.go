package runc

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestRuntime_sandboxSharesNetworkIPCAndHostname(t *testing.T) {
	r := testRuntime(t)
	cs := runPod(t, r, "shared")
	again, err := r.CreateSandbox(context.Background(), SandboxSpec{PodUID: "shared", Hostname: "other"})
	if err != nil || again.NetNSPath != filepath.Join(r.sandboxDir("shared"), "net") {
		t.Fatalf("second CreateSandbox = %+v, %v", again, err)
	}
	hostNet, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	probe := "hostname; for n in net ipc uts; do readlink /proc/self/ns/$n; done; ip -o link show lo | grep -c UP"
	var outs []string
	for _, name := range []string{"a", "b"} {
		c := cs
		c.Name = name
		c.LogPath = filepath.Join(t.TempDir(), name+".log")
		c.Args = []string{"/bin/sh", "-c", probe}
		st := runToExit(t, r, c)
		out := logText(t, c.LogPath)
		if st.ExitCode != 0 {
			t.Fatalf("%s: exit %d log %q", name, st.ExitCode, out)
		}
		outs = append(outs, out)
	}
	if outs[0] != outs[1] {
		t.Fatalf("containers of one pod see different namespaces:\n%s\n%s", outs[0], outs[1])
	}
	if !strings.HasPrefix(outs[0], "shared\n") || strings.Contains(outs[0], hostNet) || !strings.HasSuffix(outs[0], "1\n") {
		t.Fatalf("pod view %q: want hostname shared, own netns, lo up", outs[0])
	}
	// A different pod gets different namespaces.
	other := runPod(t, r, "other")
	other.Args = []string{"/bin/sh", "-c", probe}
	runToExit(t, r, other)
	if got := logText(t, other.LogPath); got == outs[0] {
		t.Fatalf("two pods share namespaces: %q", got)
	}
}

func TestRuntime_hostNetworkSandbox(t *testing.T) {
	r := testRuntime(t)
	nodeName, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	sb, err := r.CreateSandbox(context.Background(), SandboxSpec{PodUID: "hostnet", Hostname: "not-the-node", HostNetwork: true})
	if after, _ := os.Hostname(); after != nodeName {
		_ = unix.Sethostname([]byte(nodeName))
		t.Fatalf("host network sandbox renamed the node to %q", after)
	}
	if err != nil || sb.NetNSPath != "" {
		t.Fatalf("CreateSandbox = %+v, %v", sb, err)
	}
	hostNet, _ := os.Readlink("/proc/self/ns/net")
	cs := ContainerSpec{PodUID: "hostnet", Name: "c", RootFS: busyboxRootfs(t), LogPath: filepath.Join(t.TempDir(), "log"),
		Security: Security{SeccompUnconfined: !seccompAvailable()},
		Args:     []string{"/bin/readlink", "/proc/self/ns/net"}}
	runToExit(t, r, cs)
	if got := logText(t, cs.LogPath); got != hostNet+"\n" {
		t.Fatalf("host network pod in %q, want %q", got, hostNet)
	}
}

func TestRuntime_removeSandboxCleansUp(t *testing.T) {
	r := testRuntime(t)
	cs := runPod(t, r, "gone")
	cs.Args = []string{"/bin/sleep", "1000"}
	st, err := r.StartContainer(context.Background(), cs)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveSandbox(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveSandbox(context.Background(), "gone"); err != nil {
		t.Fatalf("second remove: %v", err)
	}
	if _, err := os.Stat(r.sandboxDir("gone")); !os.IsNotExist(err) {
		t.Fatalf("sandbox dir still there: %v", err)
	}
	if _, err := os.Stat(r.ctrDir(st.ID)); !os.IsNotExist(err) {
		t.Fatalf("container dir still there: %v", err)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), r.sandboxDir("gone")) {
		t.Fatal("namespace bind mounts left behind")
	}
}
