package agentctl

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keel-edge/keel/tests/harness"
)

// commandTimeout bounds one agentctl or kubectl run.
const commandTimeout = 2 * time.Minute

// requireRoot skips (or on CI fails) where the agent socket cannot be used.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("agentctl end-to-end tests must run as root on CI (uid %d)", os.Geteuid())
	}
	t.Skipf("skipping: the agent socket serves root only and this runs as uid %d", os.Geteuid())
}

// result is what one command printed.
type result struct {
	stdout, stderr string
	err            error
}

// run runs bin with args and an empty environment apart from PATH and
// HOME, so no $KUBECONFIG or $KEEL_SOCKET of the machine leaks in.
func run(t *testing.T, stdin string, bin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = cleanEnv(t)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errOut
	err := cmd.Run()
	return result{stdout: out.String(), stderr: errOut.String(), err: err}
}

// mustRun is run that fails the test when the command fails.
func mustRun(t *testing.T, stdin string, bin string, args ...string) string {
	t.Helper()
	r := run(t, stdin, bin, args...)
	if r.err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), strings.Join(args, " "), r.err, r.stdout, r.stderr)
	}
	return r.stdout
}

// cleanEnv is PATH plus an empty HOME, so nothing in the machine's
// ~/.kube or ~/.ssh is used.
func cleanEnv(t *testing.T) []string {
	t.Helper()
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
}

// kubectlBinary is the newest real kubectl installed.
func kubectlBinary(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/lib/google-cloud-sdk/bin/kubectl.1.33", "/usr/lib/google-cloud-sdk/bin/kubectl"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, err := exec.LookPath("kubectl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("kubectl is not installed: %v", err)
		}
		t.Skipf("skipping: kubectl is not installed")
	}
	return p
}

// startAgent starts a single-node agent and returns it with the agentctl
// binary.
func startAgent(t *testing.T) (*harness.Agent, string) {
	t.Helper()
	requireRoot(t)
	_, ctl := harness.Build(t)
	ctl, err := filepath.Abs(ctl)
	if err != nil {
		t.Fatal(err)
	}
	return harness.StartAgent(t, harness.AgentOptions{}), ctl
}

// firstColumn is the first column of a table, without the header.
func firstColumn(table string) []string {
	var names []string
	for i, line := range strings.Split(strings.TrimSpace(table), "\n") {
		if i == 0 || line == "" {
			continue
		}
		names = append(names, strings.Fields(line)[0])
	}
	return names
}

// itoa is strconv.Itoa, short for building flags.
func itoa(i int) string { return strconv.Itoa(i) }

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
