package runc

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keel-edge/keel/agent"
)

// The runtime is the agent's Runtime as it is: they share runtimeapi's
// values.
var _ agent.Runtime = (*Runtime)(nil)

func TestAgentRuntime_contract(t *testing.T) {
	r := testRuntime(t)
	var rt agent.Runtime = r
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
