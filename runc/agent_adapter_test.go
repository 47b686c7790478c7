package runc

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keel-edge/keel/agent"
)

// agentRuntime adapts Runtime to agent.Runtime by converting the
// same-shaped value types; main carries the same few lines.
type agentRuntime struct{ r *Runtime }

var _ agent.Runtime = agentRuntime{}

func (a agentRuntime) CreateSandbox(ctx context.Context, s agent.SandboxSpec) (agent.Sandbox, error) {
	sb, err := a.r.CreateSandbox(ctx, SandboxSpec(s))
	return agent.Sandbox(sb), err
}

func (a agentRuntime) RemoveSandbox(ctx context.Context, podUID string) error {
	return a.r.RemoveSandbox(ctx, podUID)
}

func (a agentRuntime) StartContainer(ctx context.Context, s agent.ContainerSpec) (agent.ContainerState, error) {
	mounts := make([]Mount, len(s.Mounts))
	for i, m := range s.Mounts {
		mounts[i] = Mount(m)
	}
	st, err := a.r.StartContainer(ctx, ContainerSpec{
		PodUID: s.PodUID, Name: s.Name, Attempt: s.Attempt, RootFS: s.RootFS,
		Args: s.Args, Env: s.Env, WorkingDir: s.WorkingDir,
		User: s.User, Group: s.Group, AdditionalGroups: s.AdditionalGroups,
		Mounts: mounts, Resources: Resources(s.Resources), Security: Security(s.Security),
		TTY: s.TTY, Stdin: s.Stdin, LogPath: s.LogPath,
	})
	return agent.ContainerState(st), err
}

func (a agentRuntime) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	return a.r.StopContainer(ctx, id, grace)
}

func (a agentRuntime) RemoveContainer(ctx context.Context, id string) error {
	return a.r.RemoveContainer(ctx, id)
}

func (a agentRuntime) Containers(ctx context.Context) ([]agent.ContainerState, error) {
	states, err := a.r.Containers(ctx)
	out := make([]agent.ContainerState, len(states))
	for i, s := range states {
		out[i] = agent.ContainerState(s)
	}
	return out, err
}

func (a agentRuntime) Exec(ctx context.Context, id string, cmd []string, s agent.Streams, tty bool, resize <-chan agent.TermSize) (int, error) {
	var rs chan TermSize
	if resize != nil {
		rs = make(chan TermSize)
		go func() {
			defer close(rs)
			for {
				select {
				case sz, ok := <-resize:
					if !ok {
						return
					}
					select {
					case rs <- TermSize(sz):
					case <-ctx.Done():
						return
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	return a.r.Exec(ctx, id, cmd, Streams(s), tty, rs)
}

func TestAgentRuntime_contract(t *testing.T) {
	r := testRuntime(t)
	var rt agent.Runtime = agentRuntime{r}
	ctx := context.Background()
	sb, err := rt.CreateSandbox(ctx, agent.SandboxSpec{PodUID: "contract", Namespace: "default", Name: "web", Hostname: "web"})
	if err != nil || sb.NetNSPath == "" {
		t.Fatalf("CreateSandbox = %+v, %v", sb, err)
	}
	logPath := filepath.Join(t.TempDir(), "web.log")
	st, err := rt.StartContainer(ctx, agent.ContainerSpec{
		PodUID: "contract", Name: "web", RootFS: busyboxRootfs(t), LogPath: logPath,
		Args:      []string{"/bin/sh", "-c", "hostname; echo ready; exec sleep 1000"},
		Resources: agent.Resources{MemoryBytes: 64 << 20},
		Security:  agent.Security{NoNewPrivileges: true, SeccompUnconfined: !seccompAvailable()},
	})
	if err != nil || !st.Running {
		t.Fatalf("StartContainer = %+v, %v", st, err)
	}
	waitLog(t, logPath, "web\nready\n")
	var out strings.Builder
	code, err := rt.Exec(ctx, st.ID, []string{"/bin/cat", "/proc/1/comm"}, agent.Streams{Stdout: &out}, false, nil)
	if err != nil || code != 0 || out.String() != "sleep\n" {
		t.Fatalf("Exec = %d %q %v", code, out.String(), err)
	}
	if err := rt.StopContainer(ctx, st.ID, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	states, err := rt.Containers(ctx)
	if err != nil || len(states) != 1 || states[0].Running || states[0].ExitCode != 137 {
		t.Fatalf("Containers = %+v, %v", states, err)
	}
	if err := rt.RemoveSandbox(ctx, "contract"); err != nil {
		t.Fatal(err)
	}
	if states, _ := rt.Containers(ctx); len(states) != 0 {
		t.Fatalf("after RemoveSandbox: %+v", states)
	}
}
