package runc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/seccomp"
	"golang.org/x/sys/unix"

	"github.com/keel-edge/keel/runtimeapi"
)

// ErrStartFailed wraps every error of a container that was created but
// whose process could not start (bad command, bad user...); the container
// is then listed as exited with Reason "StartError".
var ErrStartFailed = errors.New("container start failed")

// Runtime runs containers with libcontainer; see the package doc.
type Runtime struct {
	cfg Config
	mu  sync.Mutex // serialises sandbox creation and removal

	startMu sync.Mutex
	// starting are the containers whose shim has not reported yet: they
	// are neither running nor exited, so Containers leaves them out.
	starting map[string]bool
}

// record is a container as the runtime recorded it (meta.json).
type record struct {
	ID        string        `json:"id"`
	PodUID    string        `json:"podUID"`
	Name      string        `json:"name"`
	Attempt   int           `json:"attempt"`
	StartedAt time.Time     `json:"startedAt,omitzero"`
	ShimPid   int           `json:"shimPid,omitempty"`
	Spec      ContainerSpec `json:"spec"`
}

// New returns a Runtime over cfg.StateDir, adopting whatever containers
// and sandboxes a previous Runtime left there.
func New(cfg Config) (*Runtime, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("runc config: %w", err)
	}
	for _, d := range []string{"libcontainer", "containers", "sandboxes"} {
		if err := os.MkdirAll(filepath.Join(cfg.StateDir, d), 0o700); err != nil {
			return nil, fmt.Errorf("state dir: %w", err)
		}
	}
	return &Runtime{cfg: cfg, starting: map[string]bool{}}, nil
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// validName refuses names that could escape the state directory.
func validName(what, s string) error {
	if !nameRE.MatchString(s) {
		return fmt.Errorf("%s %q: want letters, digits, '_', '.' or '-'", what, s)
	}
	return nil
}

func (r *Runtime) ctrDir(id string) string { return filepath.Join(r.cfg.StateDir, "containers", id) }
func (r *Runtime) lcRoot() string          { return filepath.Join(r.cfg.StateDir, "libcontainer") }

// StartContainer creates and starts a container in its pod's sandbox.
// A container whose process cannot start is still recorded, as exited with
// code 128 and Reason "StartError"; its state is returned with an error
// wrapping ErrStartFailed.
func (r *Runtime) StartContainer(ctx context.Context, cs ContainerSpec) (ContainerState, error) {
	if err := validName("pod UID", cs.PodUID); err != nil {
		return ContainerState{}, err
	}
	var sb sandboxRecord
	if err := readJSON(filepath.Join(r.sandboxDir(cs.PodUID), "sandbox.json"), &sb); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			err = runtimeapi.ErrNoSandbox
		}
		return ContainerState{}, fmt.Errorf("sandbox %s: %w", cs.PodUID, err)
	}
	if !cs.Security.Privileged && !cs.Security.SeccompUnconfined && !seccomp.Enabled {
		return ContainerState{}, errors.New("start container: the default seccomp profile is requested but this binary was built without the seccomp tag (libseccomp); set seccompProfile Unconfined or rebuild")
	}
	var idb [12]byte
	_, _ = rand.Read(idb[:])
	id := hex.EncodeToString(idb[:])
	r.setStarting(id, true)
	defer r.setStarting(id, false)
	cgPath := "/" + filepath.Join(r.cfg.CgroupParent, id)
	spec, err := buildSpec(id, cs, sb.NS, cgPath)
	if err != nil {
		return ContainerState{}, err
	}
	dir := r.ctrDir(id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ContainerState{}, fmt.Errorf("container dir: %w", err)
	}
	rec := record{ID: id, PodUID: cs.PodUID, Name: cs.Name, Attempt: cs.Attempt, Spec: cs}
	if err := writeJSONAtomic(filepath.Join(dir, "meta.json"), rec); err != nil {
		return ContainerState{}, err
	}
	sc := shimConfig{
		ID: id, Root: r.lcRoot(), Spec: spec,
		LogPath: cs.LogPath, LogMaxBytes: r.cfg.LogMaxBytes, LogMaxFiles: r.cfg.LogMaxFiles,
		ExitFile: filepath.Join(dir, "exit.json"),
		Stdin:    cs.Stdin, StdinOnce: cs.Stdin && cs.StdinOnce,
	}
	if cs.LogPath == "" {
		sc.LogPath = filepath.Join(dir, "container.log")
	}
	if err := writeJSONAtomic(filepath.Join(dir, "shim.json"), sc); err != nil {
		return ContainerState{}, err
	}
	rep, shimPid, err := r.runShim(ctx, dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return ContainerState{}, err
	}
	if rep.Error != "" {
		now := time.Now()
		ex := exitRecord{ExitCode: 128, FinishedAt: now, Reason: "StartError", Message: rep.Error}
		if err := writeJSONAtomic(sc.ExitFile, ex); err != nil {
			return ContainerState{}, err
		}
		st := stateOf(rec, &ex, false)
		return st, fmt.Errorf("%w: %s", ErrStartFailed, rep.Error)
	}
	rec.StartedAt, rec.ShimPid = rep.StartedAt, shimPid
	if err := writeJSONAtomic(filepath.Join(dir, "meta.json"), rec); err != nil {
		return ContainerState{}, err
	}
	return stateOf(rec, nil, true), nil
}

func (r *Runtime) setStarting(id string, on bool) {
	r.startMu.Lock()
	defer r.startMu.Unlock()
	if on {
		r.starting[id] = true
	} else {
		delete(r.starting, id)
	}
}

func (r *Runtime) isStarting(id string) bool {
	r.startMu.Lock()
	defer r.startMu.Unlock()
	return r.starting[id]
}

// runShim starts the container's shim in its own session and reads its
// one report. The shim outlives this process.
func (r *Runtime) runShim(ctx context.Context, dir string) (shimReport, int, error) {
	exe, err := os.Executable()
	if err != nil {
		return shimReport{}, 0, fmt.Errorf("own executable: %w", err)
	}
	rd, wr, err := os.Pipe()
	if err != nil {
		return shimReport{}, 0, fmt.Errorf("report pipe: %w", err)
	}
	defer rd.Close()
	logf, err := os.OpenFile(filepath.Join(dir, "shim.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		wr.Close()
		return shimReport{}, 0, fmt.Errorf("shim log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(exe, shimArg, filepath.Join(dir, "shim.json"))
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{wr}
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.SysProcAttr = &unix.SysProcAttr{Setsid: true}
	err = cmd.Start()
	wr.Close()
	if err != nil {
		return shimReport{}, 0, fmt.Errorf("start shim: %w", err)
	}
	go func() { _ = cmd.Wait() }() // reap it if it ends while we live
	type result struct {
		rep shimReport
		err error
	}
	done := make(chan result, 1)
	go func() {
		var rep shimReport
		err := json.NewDecoder(rd).Decode(&rep)
		done <- result{rep, err}
	}()
	timer := time.NewTimer(r.cfg.StartTimeout)
	defer timer.Stop()
	select {
	case res := <-done:
		if res.err != nil {
			b, _ := os.ReadFile(filepath.Join(dir, "shim.log"))
			return shimReport{}, 0, fmt.Errorf("shim report: %w (shim log: %q)", res.err, tail(b, 512))
		}
		return res.rep, cmd.Process.Pid, nil
	case <-timer.C:
		_ = cmd.Process.Kill()
		return shimReport{}, 0, fmt.Errorf("shim did not report within %s", r.cfg.StartTimeout)
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		return shimReport{}, 0, ctx.Err()
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// stateOf builds a ContainerState from the records.
func stateOf(rec record, ex *exitRecord, running bool) ContainerState {
	st := ContainerState{
		ID: rec.ID, PodUID: rec.PodUID, Name: rec.Name, Attempt: rec.Attempt,
		Running: running, StartedAt: rec.StartedAt,
	}
	if ex != nil {
		st.Running = false
		st.FinishedAt, st.ExitCode, st.OOMKilled = ex.FinishedAt, ex.ExitCode, ex.OOMKilled
		st.Reason, st.Message = ex.Reason, ex.Message
		if st.Reason == "" && ex.ExitCode != 0 {
			st.Reason = "Error"
		}
		if st.Reason == "" {
			st.Reason = "Completed"
		}
	}
	return st
}

// state reads one container's current state.
func (r *Runtime) state(id string) (ContainerState, error) {
	var rec record
	if err := readJSON(filepath.Join(r.ctrDir(id), "meta.json"), &rec); err != nil {
		return ContainerState{}, fmt.Errorf("container %s: %w", id, err)
	}
	var ex exitRecord
	if err := readJSON(filepath.Join(r.ctrDir(id), "exit.json"), &ex); err == nil {
		return stateOf(rec, &ex, false), nil
	}
	if rec.StartedAt.IsZero() || r.running(rec) {
		return stateOf(rec, nil, !rec.StartedAt.IsZero()), nil
	}
	// The shim is gone without recording an exit (killed, or the node's
	// tmpfs state outlived a crash): the end is unknown.
	ex = exitRecord{ExitCode: 255, FinishedAt: time.Now(), Reason: "Unknown", Message: "container shim exited without recording the container's exit"}
	return stateOf(rec, &ex, false), nil
}

// running reports whether the container's shim is still alive.
func (r *Runtime) running(rec record) bool {
	if rec.ShimPid > 0 {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", rec.ShimPid)); err == nil &&
			containsArg(b, filepath.Join(r.ctrDir(rec.ID), "shim.json")) {
			return true
		}
	}
	ct, err := libcontainer.Load(r.lcRoot(), rec.ID)
	if err != nil {
		return false
	}
	s, err := ct.Status()
	return err == nil && s == libcontainer.Running
}

func containsArg(cmdline []byte, arg string) bool {
	for _, a := range splitNUL(cmdline) {
		if a == arg {
			return true
		}
	}
	return false
}

func splitNUL(b []byte) []string {
	var out []string
	start := 0
	for i, c := range b {
		if c == 0 {
			out = append(out, string(b[start:i]))
			start = i + 1
		}
	}
	if start < len(b) {
		out = append(out, string(b[start:]))
	}
	return out
}

// Containers lists every container recorded in the state directory,
// running or exited, oldest first; one this Runtime is still starting is
// left out until StartContainer returns it.
func (r *Runtime) Containers(ctx context.Context) ([]ContainerState, error) {
	ents, err := os.ReadDir(filepath.Join(r.cfg.StateDir, "containers"))
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var out []ContainerState
	for _, e := range ents {
		if r.isStarting(e.Name()) {
			continue
		}
		st, err := r.state(e.Name())
		if errors.Is(err, os.ErrNotExist) {
			continue // being created or removed
		}
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StartedAt.Before(out[j].StartedAt) })
	return out, nil
}
