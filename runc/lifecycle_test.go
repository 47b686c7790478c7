package runc

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// startSleeper starts a long-running container in a new pod.
func startSleeper(t *testing.T, r *Runtime, pod string, args ...string) (ContainerSpec, ContainerState) {
	t.Helper()
	cs := runPod(t, r, pod)
	cs.Args = args
	if len(args) == 0 {
		cs.Args = []string{"/bin/sleep", "1000"}
	}
	st, err := r.StartContainer(context.Background(), cs)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Running || st.StartedAt.IsZero() {
		t.Fatalf("started state = %+v", st)
	}
	return cs, st
}

func TestRuntime_exec(t *testing.T) {
	r := testRuntime(t)
	cs, st := startSleeper(t, r, "exec")
	_ = cs
	tests := []struct {
		name             string
		cmd              []string
		stdin            string
		wantCode         int
		wantOut, wantErr string
	}{
		{"output and exit code", []string{"/bin/sh", "-c", "echo out; echo err >&2; exit 7"}, "", 7, "out\n", "err\n"},
		{"stdin", []string{"/bin/sh", "-c", "read x; echo got $x"}, "hi\n", 0, "got hi\n", ""},
		{"same pid namespace as the container", []string{"/bin/sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '"}, "", 0, "/bin/sleep 1000 ", ""},
		{"runs as the container's user", []string{"/bin/id", "-u"}, "", 0, "0\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			streams := Streams{Stdout: &out, Stderr: &errb}
			if tt.stdin != "" {
				streams.Stdin = strings.NewReader(tt.stdin)
			}
			code, err := r.Exec(context.Background(), st.ID, tt.cmd, streams, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode || out.String() != tt.wantOut || errb.String() != tt.wantErr {
				t.Fatalf("exec = %d %q %q, want %d %q %q", code, out.String(), errb.String(), tt.wantCode, tt.wantOut, tt.wantErr)
			}
		})
	}
	t.Run("command not found", func(t *testing.T) {
		_, err := r.Exec(context.Background(), st.ID, []string{"nosuch"}, Streams{}, false, nil)
		if err == nil || !strings.Contains(err.Error(), "not found") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestRuntime_execTTYWithResize(t *testing.T) {
	r := testRuntime(t)
	_, st := startSleeper(t, r, "exectty")
	resize := make(chan TermSize, 1)
	resize <- TermSize{Width: 123, Height: 45}
	// The process waits for a line on stdin, sent only after the resize
	// was applied (Exec applies pending sizes before wiring stdin).
	var out bytes.Buffer
	code, err := r.Exec(context.Background(), st.ID, []string{"/bin/sh", "-c", "read x; tty; stty size"},
		Streams{Stdin: strings.NewReader("go\n"), Stdout: &out}, true, resize)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.ReplaceAll(out.String(), "\r", "")
	if code != 0 || !strings.Contains(got, "/dev/pts/") || !strings.Contains(got, "45 123\n") {
		t.Fatalf("tty exec = %d %q", code, got)
	}
}

func TestRuntime_stop(t *testing.T) {
	r := testRuntime(t)
	tests := []struct {
		name     string
		args     []string
		wantCode int
	}{
		// PID 1 without a handler ignores SIGTERM: the grace runs out and
		// SIGKILL ends it.
		{"ignores TERM then killed", []string{"/bin/sh", "-c", "trap '' TERM; echo ready; sleep 1000"}, 137},
		{"exits on TERM", []string{"/bin/sh", "-c", "trap 'exit 0' TERM; echo ready; while true; do sleep 0.05; done"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, st := startSleeper(t, r, "stop-"+strings.Fields(tt.name)[0], tt.args...)
			waitLog(t, cs.LogPath, "ready\n")
			begin := time.Now()
			if err := r.StopContainer(context.Background(), st.ID, 500*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			took := time.Since(begin)
			got, err := r.state(st.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Running || got.ExitCode != tt.wantCode || got.FinishedAt.IsZero() {
				t.Fatalf("after stop %+v (took %s)", got, took)
			}
			if tt.wantCode == 137 && took < 500*time.Millisecond {
				t.Fatalf("killed after %s, before the grace period", took)
			}
			if err := r.StopContainer(context.Background(), st.ID, time.Second); err != nil {
				t.Fatalf("second stop: %v", err)
			}
			if err := r.RemoveContainer(context.Background(), st.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := r.state(st.ID); err == nil {
				t.Fatal("removed container still has state")
			}
		})
	}
}

// waitLog polls the container log until it contains want.
func waitLog(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil && strings.Contains(logTextOf(string(b)), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("log %s never showed %q", path, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
