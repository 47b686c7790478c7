package kubectl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keel-edge/keel/tests/harness"
)

// A step's command is a bash script (run with pipefail, in this package's
// directory, with kubectl on PATH being the release under test) unless its
// single line starts with one of these directives:
//
//	agent kill|stop|start     SIGKILL or SIGTERM the agent, or start it again
//	                          on the same data directory and socket
//	background NAME: CMD      run CMD in the background, collecting its output
//	await NAME REGEXP         wait until NAME's output matches REGEXP
//	stop NAME                 end NAME and print what it wrote
//	store-contains TEXT       print whether the agent's store file holds TEXT
//
// Scripts see $WORK (a scratch directory) and $DATA (the agent's data
// directory). A command that exits non-zero gets "[exit N]" appended to its
// output.

const (
	// commandTimeout bounds one step's command.
	commandTimeout = 60 * time.Second
	// awaitTimeout bounds how long await waits for background output.
	awaitTimeout = 30 * time.Second
)

var (
	agentVersionOnce sync.Once
	agentVersion     string
)

// keelVersion is the version the agent under test reports, which it
// prints as its nodes' kubelet version and in the server's version.
func keelVersion(t *testing.T) string {
	agentBin, _ := harness.Build(t)
	agentVersionOnce.Do(func() {
		out, err := exec.Command(agentBin, "version").CombinedOutput()
		if err == nil {
			agentVersion = strings.TrimSpace(string(out))
		}
	})
	if agentVersion == "" {
		t.Fatalf("%s version printed nothing", agentBin)
	}
	return agentVersion
}

// run is one script executed with one kubectl release against one agent.
type run struct {
	t       *testing.T
	version string
	agent   *harness.Agent
	opts    harness.AgentOptions
	work    string
	env     []string
	rw      *Rewriter
	bg      map[string]*background
}

func newRun(t *testing.T, version, kubectlBin string) *run {
	r := &run{t: t, version: version, work: t.TempDir(), bg: map[string]*background{}}
	binDir, home := t.TempDir(), t.TempDir()
	if err := os.Symlink(kubectlBin, filepath.Join(binDir, "kubectl")); err != nil {
		t.Fatal(err)
	}
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "KUBECONFIG", "HOME", "PATH", "WORK", "DATA", "EDITOR", "KUBE_EDITOR":
		default:
			r.env = append(r.env, kv)
		}
	}
	r.env = append(r.env, "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"), "HOME="+home,
		"WORK="+r.work, "LC_ALL=C")
	r.opts = harness.AgentOptions{NodeName: "node-1"}
	r.startAgent()
	return r
}

// startAgent starts the agent, on the data directory and socket of the
// previous one when there was one, and rebuilds the rewriter for it.
func (r *run) startAgent() {
	r.agent = harness.StartAgent(r.t, r.opts)
	r.opts.DataDir, r.opts.Socket = r.agent.DataDir, r.agent.Socket
	r.rw = &Rewriter{}
	r.rw.Literal(r.work, "$WORK")
	r.rw.Literal(r.agent.DataDir, "$DATA")
	r.rw.Literal(keelVersion(r.t), "<keel-version>")
	if _, port, err := net.SplitHostPort(r.agent.APIAddr); err == nil {
		r.rw.Word(port, "<api-port>")
	}
}

func (r *run) environ() []string {
	return append(r.env, "KUBECONFIG="+r.agent.Kubeconfig, "DATA="+r.agent.DataDir)
}

// step runs one step and returns its normalised output.
func (r *run) step(st *Step) string {
	if !strings.Contains(st.Cmd, "\n") {
		if out, ok := r.directive(st.Cmd); ok {
			return r.rw.Normalize(out)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-o", "pipefail", "-c", st.Cmd)
	cmd.Env = r.environ()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		r.t.Errorf("line %d: %q did not finish within %s; it printed:\n%s", st.Line, st.Cmd, commandTimeout, out.String())
	case errors.As(err, &exit):
		if !strings.HasSuffix(out.String(), "\n") && out.Len() > 0 {
			out.WriteByte('\n')
		}
		fmt.Fprintf(&out, "[exit %d]\n", exit.ExitCode())
	case err != nil:
		r.t.Fatalf("line %d: run %q: %v", st.Line, st.Cmd, err)
	}
	return r.rw.Normalize(out.String())
}

var (
	backgroundLine = regexp.MustCompile(`^background ([\w-]+): (.+)$`)
	awaitLine      = regexp.MustCompile(`^await ([\w-]+) (.+)$`)
	stopLine       = regexp.MustCompile(`^stop ([\w-]+)$`)
)

// directive runs cmd when it is one of the directives above.
func (r *run) directive(cmd string) (string, bool) {
	word, rest, _ := strings.Cut(cmd, " ")
	switch word {
	case "agent":
		switch rest {
		case "kill":
			r.agent.Kill()
		case "stop":
			r.agent.Stop()
		case "start":
			r.startAgent()
		default:
			r.t.Fatalf("agent %q: want kill, stop or start", rest)
		}
		return "", true
	case "background":
		m := backgroundLine.FindStringSubmatch(cmd)
		if m == nil {
			r.t.Fatalf("%q: want background NAME: COMMAND", cmd)
		}
		r.startBackground(m[1], m[2])
		return "", true
	case "await":
		m := awaitLine.FindStringSubmatch(cmd)
		if m == nil {
			r.t.Fatalf("%q: want await NAME REGEXP", cmd)
		}
		r.background(m[1]).await(r.t, regexp.MustCompile(m[2]))
		return "", true
	case "stop":
		m := stopLine.FindStringSubmatch(cmd)
		if m == nil {
			r.t.Fatalf("%q: want stop NAME", cmd)
		}
		return r.background(m[1]).stop(), true
	case "store-contains":
		db, err := os.ReadFile(filepath.Join(r.agent.DataDir, "store", "state.db"))
		if err != nil {
			r.t.Fatalf("read the store: %v", err)
		}
		return fmt.Sprintf("state.db contains %q: %t", rest, bytes.Contains(db, []byte(rest))), true
	}
	return "", false
}

func (r *run) background(name string) *background {
	b, ok := r.bg[name]
	if !ok {
		r.t.Fatalf("no background command named %q", name)
	}
	return b
}

// background is a command running beside the script, such as a watch.
type background struct {
	cmd     *exec.Cmd
	mu      sync.Mutex
	out     bytes.Buffer
	changed chan struct{}
	done    chan struct{}
}

func (b *background) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case b.changed <- struct{}{}:
	default:
	}
	return b.out.Write(p)
}

func (b *background) output() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.String()
}

func (r *run) startBackground(name, command string) {
	if _, dup := r.bg[name]; dup {
		r.t.Fatalf("background command %q is already running", name)
	}
	b := &background{changed: make(chan struct{}, 1), done: make(chan struct{})}
	b.cmd = exec.Command("bash", "-c", command)
	b.cmd.Env = r.environ()
	b.cmd.Stdout, b.cmd.Stderr = b, b
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := b.cmd.Start(); err != nil {
		r.t.Fatalf("start %q: %v", command, err)
	}
	go func() { b.cmd.Wait(); close(b.done) }()
	r.bg[name] = b
	r.t.Cleanup(func() { b.stop() })
}

// await waits until the output matches re, failing the test after
// awaitTimeout or when the command ends without it.
func (b *background) await(t *testing.T, re *regexp.Regexp) {
	t.Helper()
	timeout := time.After(awaitTimeout)
	for !re.MatchString(b.output()) {
		select {
		case <-b.changed:
		case <-b.done:
			if !re.MatchString(b.output()) {
				t.Fatalf("%q ended before printing %q; it printed:\n%s", b.cmd.Args, re, b.output())
			}
			return
		case <-timeout:
			t.Fatalf("%q did not print %q within %s; it printed:\n%s", b.cmd.Args, re, awaitTimeout, b.output())
		}
	}
}

// stop ends the command (SIGTERM to its process group, SIGKILL after a
// grace period) and returns what it printed. Stopping twice is harmless.
func (b *background) stop() string {
	select {
	case <-b.done:
	default:
		syscall.Kill(-b.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-b.done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
			<-b.done
		}
	}
	return b.output()
}
