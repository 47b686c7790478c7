package runc

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestRuntime_cgroupLimitsWritten(t *testing.T) {
	r := testRuntime(t)
	cs := runPod(t, r, "limits")
	cs.Resources = Resources{CPUQuotaMicros: 50000, CPUPeriodMicros: 100000, CPUShares: 512, MemoryBytes: 64 << 20, PidsLimit: 42}
	// The container sees its own cgroup (cgroup namespace) as the root of
	// each hierarchy: v1 per controller, v2 unified.
	cs.Args = []string{"/bin/sh", "-c", `
		cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu.max 2>/dev/null | head -1
		cat /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu.weight 2>/dev/null | head -1
		cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null | head -1
		cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null | head -1`}
	st := runToExit(t, r, cs)
	got := logText(t, cs.LogPath)
	want := []string{"50000", "512", "67108864", "42"}
	if isCgroup2() {
		want = []string{"50000 100000", "", "67108864", "42"}
	}
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if st.ExitCode != 0 || len(lines) != 4 {
		t.Fatalf("exit %d, log %q", st.ExitCode, got)
	}
	for i, w := range want {
		if w != "" && strings.TrimSpace(lines[i]) != w {
			t.Errorf("line %d = %q, want %q (log %q)", i, lines[i], w, got)
		}
	}
}

func TestRuntime_memoryLimitOOMKill(t *testing.T) {
	r := testRuntime(t)
	cs := runPod(t, r, "oom")
	cs.Resources.MemoryBytes = 16 << 20
	cs.Args = []string{"/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"}
	st := runToExit(t, r, cs)
	if !st.OOMKilled || st.ExitCode != 137 || st.Reason != "OOMKilled" {
		t.Fatalf("state = %+v", st)
	}
}

func TestRuntime_pidsLimit(t *testing.T) {
	r := testRuntime(t)
	cs := runPod(t, r, "pids")
	cs.Resources.PidsLimit = 4
	cs.Args = []string{"/bin/sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 30 & done 2>&1 | head -1; kill $(jobs -p) 2>/dev/null; echo done"}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := r.StartContainer(ctx, cs)
	if err != nil {
		t.Fatal(err)
	}
	st, err = r.Wait(ctx, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := logText(t, cs.LogPath); !strings.Contains(got, "can't fork") {
		t.Fatalf("log %q (state %+v): forks beyond the pids limit did not fail", got, st)
	}
}
