package runc

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRuntime_runsCommandsToLog(t *testing.T) {
	r := testRuntime(t)
	tests := []struct {
		name     string
		args     []string
		mutate   func(*ContainerSpec)
		wantCode int
		wantLog  []string
		notLog   []string
	}{
		{name: "echo", args: []string{"/bin/sh", "-c", "echo hello; echo oops >&2"}, wantLog: []string{"hello\n", "oops\n"}},
		{name: "exit code", args: []string{"/bin/sh", "-c", "exit 3"}, wantCode: 3},
		{name: "killed by signal", args: []string{"/bin/sh", "-c", "sleep 100 & kill -9 $!; wait $!"}, wantCode: 137},
		{
			name: "env cwd user", args: []string{"/bin/sh", "-c", "echo foo=$FOO; pwd; id -u; id -g; id -G"},
			mutate: func(cs *ContainerSpec) {
				cs.Env = []string{"FOO=bar"}
				cs.WorkingDir = "/home/app"
				cs.User, cs.Group, cs.AdditionalGroups = 1000, 1000, []uint32{10, 20}
			},
			wantLog: []string{"foo=bar\n/home/app\n1000\n1000\n1000 10 20\n"},
		},
		{
			name: "missing workingDir is created", args: []string{"/bin/pwd"},
			mutate:  func(cs *ContainerSpec) { cs.WorkingDir = "/data/new" },
			wantLog: []string{"/data/new\n"},
		},
		{
			name: "read-only rootfs", args: []string{"/bin/sh", "-c", "touch /x || echo rootfs-ro; touch /scratch/y && echo tmpfs-rw"},
			mutate: func(cs *ContainerSpec) {
				cs.Security.ReadOnlyRootFilesystem = true
				cs.Mounts = []Mount{{Destination: "/scratch", Type: "tmpfs", Options: []string{"size=1m"}}}
			},
			wantLog: []string{"rootfs-ro\n", "tmpfs-rw\n"},
		},
		{
			name: "bind mount", args: []string{"/bin/sh", "-c", "cat /in/msg; echo w > /in/out || echo bind-ro"},
			mutate: func(cs *ContainerSpec) {
				dir := t.TempDir()
				if err := os.WriteFile(filepath.Join(dir, "msg"), []byte("from host\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				cs.Mounts = []Mount{{Source: dir, Destination: "/in", Type: "bind", ReadOnly: true}}
			},
			wantLog: []string{"from host\n", "bind-ro\n"},
		},
		{
			name: "masked and read-only paths", args: []string{"/bin/sh", "-c", "wc -c < /proc/timer_list; ls /sys/firmware | wc -l; (echo 1 > /proc/sys/vm/drop_caches) 2>/dev/null || echo sys-ro"},
			wantLog: []string{"0\n0\n", "sys-ro\n"},
		},
		{
			name: "privileged sees unmasked paths", args: []string{"/bin/sh", "-c", "head -c 1 /proc/timer_list | wc -c; ls /sys/firmware | wc -l"},
			mutate:  func(cs *ContainerSpec) { cs.Security = Security{Privileged: true} },
			wantLog: []string{"1\n"},
			notLog:  []string{"1\n0\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := runPod(t, r, "p-"+strings.ReplaceAll(tt.name, " ", "-"))
			cs.Args = tt.args
			if tt.mutate != nil {
				tt.mutate(&cs)
			}
			st := runToExit(t, r, cs)
			got := logText(t, cs.LogPath)
			if st.ExitCode != tt.wantCode {
				t.Fatalf("exit code = %d, want %d (state %+v, log %q)", st.ExitCode, tt.wantCode, st, got)
			}
			for _, w := range tt.wantLog {
				if !strings.Contains(got, w) {
					t.Errorf("log %q lacks %q", got, w)
				}
			}
			for _, w := range tt.notLog {
				if strings.Contains(got, w) {
					t.Errorf("log %q has %q", got, w)
				}
			}
		})
	}
}

func TestRuntime_refusesBadSpecs(t *testing.T) {
	r := testRuntime(t)
	base := runPod(t, r, "bad")
	if err := os.Symlink("../../../../etc", filepath.Join(base.RootFS, "escape")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		mutate  func(*ContainerSpec)
		wantErr string
	}{
		{"workingDir above root", func(cs *ContainerSpec) { cs.WorkingDir = "/../etc" }, "outside the root filesystem"},
		{"workingDir through escaping symlink", func(cs *ContainerSpec) { cs.WorkingDir = "/escape/x" }, "outside the root filesystem"},
		{"relative workingDir", func(cs *ContainerSpec) { cs.WorkingDir = "tmp" }, "absolute"},
		{"unknown capability", func(cs *ContainerSpec) { cs.Security.CapAdd = []string{"NET_WIZARD"} }, "unknown capability"},
		{"bad mount type", func(cs *ContainerSpec) { cs.Mounts = []Mount{{Destination: "/x", Type: "nfs"}} }, "want bind or tmpfs"},
		{"missing sandbox", func(cs *ContainerSpec) { cs.PodUID = "nosuchpod" }, "sandbox nosuchpod"},
		{"no command", func(cs *ContainerSpec) { cs.Args = nil }, "no command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := base
			cs.Args = []string{"/bin/true"}
			tt.mutate(&cs)
			_, err := r.StartContainer(context.Background(), cs)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
	states, err := r.Containers(context.Background())
	if err != nil || len(states) != 0 {
		t.Fatalf("refused specs left containers: %v %+v", err, states)
	}
}

func TestRuntime_commandNotFoundIsStartError(t *testing.T) {
	r := testRuntime(t)
	cs := runPod(t, r, "notfound")
	cs.Args = []string{"nosuchcommand", "arg"}
	st, err := r.StartContainer(context.Background(), cs)
	if !errors.Is(err, ErrStartFailed) {
		t.Fatalf("err = %v, want ErrStartFailed", err)
	}
	if st.Running || st.Reason != "StartError" || st.ExitCode != 128 || !strings.Contains(st.Message, "nosuchcommand") || !strings.Contains(st.Message, "not found") {
		t.Fatalf("state = %+v", st)
	}
	states, err := r.Containers(context.Background())
	if err != nil || len(states) != 1 || states[0].Reason != "StartError" {
		t.Fatalf("Containers() = %+v, %v", states, err)
	}
	if err := r.RemoveContainer(context.Background(), st.ID); err != nil {
		t.Fatal(err)
	}
}
