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
)

// agentEnv carries a JSON ContainerSpec to a child test process that acts
// as a short-lived agent: it starts the container and exits.
const agentEnv = "KEEL_RUNC_TEST_AGENT"

// childAgentMain is the child's whole life (called from TestMain).
func childAgentMain() int {
	var req struct {
		StateDir string
		Spec     ContainerSpec
	}
	if err := json.Unmarshal([]byte(os.Getenv(agentEnv)), &req); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	r, err := New(TestConfig(req.StateDir))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx := context.Background()
	if _, err := r.CreateSandbox(ctx, SandboxSpec{PodUID: req.Spec.PodUID, Hostname: req.Spec.PodUID}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	st, err := r.StartContainer(ctx, req.Spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Print(st.ID)
	return 0
}

// startInChildAgent starts cs from another process that then exits.
func startInChildAgent(t *testing.T, stateDir string, cs ContainerSpec) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"StateDir": stateDir, "Spec": cs})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), agentEnv+"="+string(b))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child agent: %v: %s", err, stderr.String())
	}
	return string(out)
}

func TestRuntime_adoptsContainersAfterAgentExit(t *testing.T) {
	r := testRuntime(t)
	dir := r.cfg.StateDir
	logDir := t.TempDir()
	base := ContainerSpec{
		PodUID: "adopt", RootFS: busyboxRootfs(t),
		Security: Security{NoNewPrivileges: true, SeccompUnconfined: !seccompAvailable()},
	}
	// One container keeps logging after its agent is gone and exits
	// on its own; another runs until the new agent stops it.
	logger := base
	logger.Name, logger.LogPath = "logger", filepath.Join(logDir, "logger.log")
	logger.Args = []string{"/bin/sh", "-c", "read x < /gate/go; for i in $(seq 1 40); do echo line $i; done; exit 5"}
	gate := t.TempDir()
	if err := exec.Command("mkfifo", filepath.Join(gate, "go")).Run(); err != nil {
		t.Fatal(err)
	}
	logger.Mounts = []Mount{{Source: gate, Destination: "/gate", Type: "bind"}}
	sleeper := base
	sleeper.Name, sleeper.LogPath, sleeper.Attempt = "sleeper", filepath.Join(logDir, "sleeper.log"), 2
	sleeper.Args = []string{"/bin/sh", "-c", "trap 'exit 0' TERM; echo ready; while true; do sleep 0.05; done"}

	loggerID := startInChildAgent(t, dir, logger)
	sleeperID := startInChildAgent(t, dir, sleeper)

	// The agents that started them are gone; a new Runtime adopts both.
	r2, err := New(TestConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	states, err := r2.Containers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]ContainerState{}
	for _, s := range states {
		byName[s.Name] = s
	}
	if s := byName["logger"]; !s.Running || s.ID != loggerID || s.PodUID != "adopt" {
		t.Fatalf("adopted logger = %+v", s)
	}
	if s := byName["sleeper"]; !s.Running || s.ID != sleeperID || s.Attempt != 2 {
		t.Fatalf("adopted sleeper = %+v", s)
	}
	// Let the logger write now that no agent is around to read its pipes.
	f, err := os.OpenFile(filepath.Join(gate, "go"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "go")
	f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := r2.Wait(ctx, loggerID)
	if err != nil {
		t.Fatal(err)
	}
	if st.ExitCode != 5 || st.Running {
		t.Fatalf("logger ended as %+v", st)
	}
	if got := logText(t, logger.LogPath); !strings.HasPrefix(got, "line 1\n") || !strings.HasSuffix(got, "line 40\n") {
		t.Fatalf("logger log %q", got)
	}
	waitLog(t, sleeper.LogPath, "ready\n")
	if err := r2.StopContainer(ctx, sleeperID, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if st, err := r2.state(sleeperID); err != nil || st.ExitCode != 0 || st.Running {
		t.Fatalf("stopped sleeper = %+v, %v", st, err)
	}
}
