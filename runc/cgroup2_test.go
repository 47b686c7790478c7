package runc

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"
)

// cgroup2Env makes a child test process see only the unified hierarchy.
const cgroup2Env = "KEEL_RUNC_TEST_CGROUP2"

// cgroup2Result is what the cgroup v2 child reports.
type cgroup2Result struct {
	Unified   bool
	Log       string
	ExitCode  int
	InUnified bool
	LimitErr  string
	LimitLog  string
	Err       string
}

// childCgroup2Main runs in a private mount namespace where the node's
// cgroup2 mount is bind-mounted over /sys/fs/cgroup, so libcontainer picks
// its v2 manager, and runs containers there.
func childCgroup2Main() int {
	res := runCgroup2Child(os.Getenv(cgroup2Env))
	_ = json.NewEncoder(os.Stdout).Encode(res)
	return 0
}

func runCgroup2Child(stateDir string) (res cgroup2Result) {
	fail := func(err error) cgroup2Result { res.Err = err.Error(); return res }
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fail(fmt.Errorf("make / private: %w", err))
	}
	if err := unix.Mount("/sys/fs/cgroup/unified", "/sys/fs/cgroup", "", unix.MS_BIND, ""); err != nil {
		return fail(fmt.Errorf("bind unified: %w", err))
	}
	res.Unified = cgroups.IsCgroup2UnifiedMode()
	r, err := New(TestConfig(stateDir))
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := r.CreateSandbox(ctx, SandboxSpec{PodUID: "v2", Hostname: "v2"}); err != nil {
		return fail(err)
	}
	defer r.RemoveSandbox(ctx, "v2")
	rootfs := os.Getenv(cgroup2Env + "_ROOTFS")
	cs := ContainerSpec{
		PodUID: "v2", Name: "c", RootFS: rootfs, LogPath: filepath.Join(stateDir, "c.log"),
		Security: Security{NoNewPrivileges: true, SeccompUnconfined: !seccompAvailable()},
		Args:     []string{"/bin/sh", "-c", "cat /proc/self/cgroup; echo ready; read x < /gate"},
	}
	if err := unix.Mkfifo(filepath.Join(rootfs, "gate"), 0o600); err != nil {
		return fail(err)
	}
	st, err := r.StartContainer(ctx, cs)
	if err != nil {
		return fail(err)
	}
	cgDir := filepath.Join("/sys/fs/cgroup", TestConfig("").CgroupParent, st.ID)
	procs, _ := os.ReadFile(filepath.Join(cgDir, "cgroup.procs"))
	res.InUnified = len(strings.TrimSpace(string(procs))) > 0
	if f, err := os.OpenFile(filepath.Join(rootfs, "gate"), os.O_WRONLY, 0); err == nil {
		fmt.Fprintln(f)
		f.Close()
	}
	if st, err = r.Wait(ctx, st.ID); err != nil {
		return fail(err)
	}
	res.ExitCode = st.ExitCode
	b, _ := os.ReadFile(cs.LogPath)
	res.Log = logTextOf(string(b))
	// Limits need the controllers enabled in the unified hierarchy.
	cs.Name, cs.LogPath = "limited", filepath.Join(stateDir, "limited.log")
	cs.Args = []string{"/bin/cat", "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/pids.max"}
	cs.Resources = Resources{MemoryBytes: 32 << 20, PidsLimit: 10}
	if st, err := r.StartContainer(ctx, cs); err != nil {
		res.LimitErr = err.Error()
	} else if _, err := r.Wait(ctx, st.ID); err == nil {
		b, _ := os.ReadFile(cs.LogPath)
		res.LimitLog = logTextOf(string(b))
	}
	return res
}

func TestRuntime_cgroup2Only(t *testing.T) {
	requirePrivileged(t)
	if _, err := os.Stat("/sys/fs/cgroup/unified/cgroup.controllers"); err != nil && !isCgroup2() {
		requireFeature(t, "a cgroup2 mount at /sys/fs/cgroup/unified")
	}
	if isCgroup2() {
		// The whole suite already runs on the unified hierarchy.
		TestRuntime_cgroupLimitsWritten(t)
		return
	}
	stateDir, err := os.MkdirTemp("", "keel-runc-v2-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(stateDir) })
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), cgroup2Env+"="+stateDir, cgroup2Env+"_ROOTFS="+busyboxRootfs(t))
	cmd.SysProcAttr = &unix.SysProcAttr{Unshareflags: unix.CLONE_NEWNS}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cgroup2 child: %v: %s", err, stderr.String())
	}
	var res cgroup2Result
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("cgroup2 child said %q: %v", out, err)
	}
	if res.Err != "" || !res.Unified || !res.InUnified || res.ExitCode != 0 || !strings.HasSuffix(res.Log, "0::/\nready\n") {
		t.Fatalf("container on the unified hierarchy: %+v", res)
	}
	controllers, _ := os.ReadFile("/sys/fs/cgroup/unified/cgroup.controllers")
	if strings.Contains(string(controllers), "memory") && strings.Contains(string(controllers), "pids") {
		if res.LimitLog != "33554432\n10\n" {
			t.Fatalf("v2 limits: %+v", res)
		}
	} else if !strings.Contains(res.LimitErr, ".max") {
		// Hybrid host: the controllers are bound to v1, so a limit must
		// fail the start loudly rather than be dropped.
		t.Fatalf("v2 limits without controllers: %+v", res)
	}
}
