package agenttest

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/keel-edge/keel/agent"
)

// Runtime is an in-memory agent.Runtime. Containers "run" until the test
// exits them; time comes from Now so a fake clock drives it.
type Runtime struct {
	// Now is the clock container times are taken from (time.Now if nil).
	Now func() time.Time

	mu         sync.Mutex
	seq        int
	sandboxes  map[string]agent.SandboxSpec
	containers map[string]*entry
	startErr   map[string]error
	execCode   map[string]int
	execs      []ExecCall
	attaches   []AttachCall
	attachOut  string
	stops      []StopCall
	events     chan struct{}
}

type entry struct {
	state agent.ContainerState
	spec  agent.ContainerSpec
}

// ExecCall records one Exec.
type ExecCall struct {
	ID  string
	Cmd []string
}

// AttachCall records one Attach and the input it read.
type AttachCall struct {
	ID    string
	TTY   bool
	Stdin string
}

// StopCall records one StopContainer.
type StopCall struct {
	ID    string
	Grace time.Duration
}

// NewRuntime returns an empty runtime using now for container times.
func NewRuntime(now func() time.Time) *Runtime {
	return &Runtime{Now: now, sandboxes: map[string]agent.SandboxSpec{}, containers: map[string]*entry{},
		startErr: map[string]error{}, execCode: map[string]int{}}
}

func (r *Runtime) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

// CreateSandbox records the sandbox; it is idempotent for a UID.
func (r *Runtime) CreateSandbox(_ context.Context, spec agent.SandboxSpec) (agent.Sandbox, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sandboxes[spec.PodUID] = spec
	return agent.Sandbox{PodUID: spec.PodUID, NetNSPath: "/run/netns/" + spec.PodUID}, nil
}

// RemoveSandbox forgets the sandbox and every container of the pod.
func (r *Runtime) RemoveSandbox(_ context.Context, podUID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.sandboxes, podUID)
	for id, e := range r.containers {
		if e.state.PodUID == podUID {
			delete(r.containers, id)
		}
	}
	return nil
}

// FailStarts makes every later start of the named container fail with
// err; a nil err lets starts succeed again.
func (r *Runtime) FailStarts(container string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		delete(r.startErr, container)
		return
	}
	r.startErr[container] = err
}

// StartContainer "starts" a container: it is running from now on.
func (r *Runtime) StartContainer(_ context.Context, spec agent.ContainerSpec) (agent.ContainerState, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.sandboxes[spec.PodUID]; !ok {
		return agent.ContainerState{}, fmt.Errorf("start %s: sandbox %s: %w", spec.Name, spec.PodUID, os.ErrNotExist)
	}
	if err := r.startErr[spec.Name]; err != nil {
		return agent.ContainerState{}, err
	}
	r.seq++
	st := agent.ContainerState{ID: fmt.Sprintf("c%04d", r.seq), PodUID: spec.PodUID, Name: spec.Name,
		Attempt: spec.Attempt, Running: true, StartedAt: r.now()}
	r.containers[st.ID] = &entry{state: st, spec: spec}
	return st, nil
}

// StopContainer records the stop and exits the container (137 as after
// SIGKILL when grace is zero, 143 after SIGTERM otherwise).
func (r *Runtime) StopContainer(_ context.Context, id string, grace time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stops = append(r.stops, StopCall{ID: id, Grace: grace})
	e, ok := r.containers[id]
	if !ok {
		return fmt.Errorf("stop %s: %w", id, os.ErrNotExist)
	}
	if e.state.Running {
		code := 143
		if grace == 0 {
			code = 137
		}
		r.exitLocked(e, code, false)
	}
	return nil
}

// RemoveContainer forgets an exited container.
func (r *Runtime) RemoveContainer(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.containers[id]; ok && e.state.Running {
		return fmt.Errorf("remove %s: container is running", id)
	}
	delete(r.containers, id)
	return nil
}

// Containers lists every container, ordered by ID.
func (r *Runtime) Containers(context.Context) ([]agent.ContainerState, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]agent.ContainerState, 0, len(r.containers))
	for _, e := range r.containers {
		out = append(out, e.state)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// SetExecResult makes Exec of cmd[0] in any container return code.
func (r *Runtime) SetExecResult(cmd0 string, code int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.execCode[cmd0] = code
}

// Exec records the call and returns the code set for cmd[0] (0 if none).
func (r *Runtime) Exec(_ context.Context, id string, cmd []string, _ agent.Streams, _ bool, _ <-chan agent.TermSize) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.containers[id]
	if !ok || !e.state.Running {
		return 0, fmt.Errorf("exec in %s: container is not running", id)
	}
	r.execs = append(r.execs, ExecCall{ID: id, Cmd: append([]string(nil), cmd...)})
	if len(cmd) == 0 {
		return 0, fmt.Errorf("exec in %s: empty command", id)
	}
	return r.execCode[cmd[0]], nil
}

// SetAttachOutput makes every later Attach write out to the attacher's
// stdout.
func (r *Runtime) SetAttachOutput(out string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attachOut = out
}

// Attach writes the output set by SetAttachOutput, reads the attacher's
// stdin (when the container was started with stdin) to its end and
// records the call; a container that does not run is an error.
func (r *Runtime) Attach(_ context.Context, id string, streams agent.Streams, tty bool, _ <-chan agent.TermSize) error {
	r.mu.Lock()
	e, ok := r.containers[id]
	running := ok && e.state.Running
	out := r.attachOut
	r.mu.Unlock()
	if !running {
		return fmt.Errorf("attach to %s: container is not running", id)
	}
	if streams.Stdout != nil && out != "" {
		if _, err := io.WriteString(streams.Stdout, out); err != nil {
			return err
		}
	}
	call := AttachCall{ID: id, TTY: tty}
	if streams.Stdin != nil && e.spec.Stdin {
		b, err := io.ReadAll(streams.Stdin)
		if err != nil {
			return err
		}
		call.Stdin = string(b)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attaches = append(r.attaches, call)
	return nil
}

// Attaches returns the Attach calls so far.
func (r *Runtime) Attaches() []AttachCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]AttachCall(nil), r.attaches...)
}

// Exit ends the running container of the pod named name with code.
func (r *Runtime) Exit(podUID, name string, code int) error {
	return r.end(podUID, name, code, false)
}

// OOM ends the running container as the kernel's OOM killer would.
func (r *Runtime) OOM(podUID, name string) error {
	return r.end(podUID, name, 137, true)
}

func (r *Runtime) end(podUID, name string, code int, oom bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.containers {
		if e.state.PodUID == podUID && e.state.Name == name && e.state.Running {
			r.exitLocked(e, code, oom)
			return nil
		}
	}
	return fmt.Errorf("no running container %s in pod %s", name, podUID)
}

// ContainerEvents returns a channel notified whenever a container exits;
// a later call replaces the earlier channel.
func (r *Runtime) ContainerEvents(context.Context) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = make(chan struct{}, 1)
	return r.events
}

func (r *Runtime) exitLocked(e *entry, code int, oom bool) {
	if r.events != nil {
		select {
		case r.events <- struct{}{}:
		default:
		}
	}
	e.state.Running = false
	e.state.ExitCode = code
	e.state.OOMKilled = oom
	e.state.FinishedAt = r.now()
	if oom {
		e.state.Reason = "OOMKilled"
	}
}

// Spec returns the spec a container was started with.
func (r *Runtime) Spec(id string) (agent.ContainerSpec, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.containers[id]
	if !ok {
		return agent.ContainerSpec{}, false
	}
	return e.spec, true
}

// Starts counts the containers ever started.
func (r *Runtime) Starts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seq
}

// Stops returns the StopContainer calls so far.
func (r *Runtime) Stops() []StopCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]StopCall(nil), r.stops...)
}

// Execs returns the Exec calls so far.
func (r *Runtime) Execs() []ExecCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ExecCall(nil), r.execs...)
}

// HasSandbox reports whether the pod's sandbox exists.
func (r *Runtime) HasSandbox(podUID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.sandboxes[podUID]
	return ok
}

// Reboot forgets every sandbox and container, as a machine restart does.
func (r *Runtime) Reboot() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sandboxes = map[string]agent.SandboxSpec{}
	r.containers = map[string]*entry{}
}
