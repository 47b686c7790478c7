package runc

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "github.com/opencontainers/cgroups/devices" // device rules for the cgroup managers
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runc/libcontainer/utils"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// shimConfig is what the agent hands a shim (as shim.json in the
// container's directory).
type shimConfig struct {
	ID          string      `json:"id"`
	Root        string      `json:"root"`
	Spec        *specs.Spec `json:"spec"`
	LogPath     string      `json:"logPath"`
	LogMaxBytes int64       `json:"logMaxBytes"`
	LogMaxFiles int         `json:"logMaxFiles"`
	ExitFile    string      `json:"exitFile"`
	// Stdin keeps the container's stdin open for attachers (the terminal
	// carries it with Spec.Process.Terminal); StdinOnce closes it after
	// the first attacher's input ends.
	Stdin     bool `json:"stdin,omitempty"`
	StdinOnce bool `json:"stdinOnce,omitempty"`
}

// shimReport is the one message a shim sends back on fd 3.
type shimReport struct {
	Pid       int       `json:"pid,omitempty"`
	StartedAt time.Time `json:"startedAt,omitzero"`
	Error     string    `json:"error,omitempty"`
}

// exitRecord is a container's end, written by its shim.
type exitRecord struct {
	ExitCode   int       `json:"exitCode"`
	OOMKilled  bool      `json:"oomKilled"`
	FinishedAt time.Time `json:"finishedAt"`
	Reason     string    `json:"reason,omitempty"`
	Message    string    `json:"message,omitempty"`
}

// shimMain is a shim's whole life: create and start the container, tell
// the agent, copy output to the log and to attachers, wait, record the
// exit, clean up.
func shimMain(cfgPath string) int {
	// Nothing the agent leaked may reach libcontainer's init: mark every
	// inherited fd but the report pipe (3) close-on-exec. (Closing them
	// would also close descriptors libraries opened during package init.)
	_ = utils.CloseExecFrom(4)
	// Catch (not ignore: ignored dispositions survive exec into the
	// container) the signals a dying session or terminal would send.
	signal.Notify(make(chan os.Signal, 1), unix.SIGHUP, unix.SIGPIPE, unix.SIGINT, unix.SIGTERM)
	report := os.NewFile(3, "report")
	send := func(r shimReport) {
		_ = json.NewEncoder(report).Encode(r)
		report.Close()
	}
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		send(shimReport{Error: fmt.Sprintf("read shim config: %v", err)})
		return 1
	}
	var sc shimConfig
	if err := json.Unmarshal(b, &sc); err != nil {
		send(shimReport{Error: fmt.Sprintf("parse shim config: %v", err)})
		return 1
	}
	if err := os.Chdir(filepath.Dir(cfgPath)); err != nil {
		send(shimReport{Error: fmt.Sprintf("chdir: %v", err)})
		return 1
	}
	ln, err := listenAttach()
	if err != nil {
		send(shimReport{Error: err.Error()})
		return 1
	}
	ct, proc, cio, err := startContainer(sc)
	if err != nil {
		ln.Close()
		send(shimReport{Error: err.Error()})
		return 1
	}
	var stdin io.WriteCloser
	if cio.stdin != nil {
		stdin = cio.stdin
	}
	hub := newAttachHub(ln, stdin, cio.console, sc.Spec.Process.Terminal, sc.StdinOnce)
	go hub.serve()
	pid, _ := proc.Pid()
	send(shimReport{Pid: pid, StartedAt: time.Now()})

	logf, err := openLogFile(sc.LogPath, sc.LogMaxBytes, sc.LogMaxFiles, time.Now)
	var wg sync.WaitGroup
	for _, o := range cio.outs {
		wg.Go(func() {
			r := teeOutput{r: o.r, hub: hub, typ: frameStdout}
			if o.stream == "stderr" {
				r.typ = frameStderr
			}
			// Without a log the output is still drained, so the
			// container never blocks on a full pipe.
			if err != nil || logf.copyLines(o.stream, r) != nil {
				_, _ = io.Copy(io.Discard, r)
			}
			o.r.Close()
		})
	}
	ps, werr := proc.Wait()
	wg.Wait()
	rec := exitRecord{FinishedAt: time.Now()}
	if ps != nil {
		rec.ExitCode = exitCode(ps)
	} else {
		rec.ExitCode, rec.Reason, rec.Message = 255, "Unknown", fmt.Sprintf("wait: %v", werr)
	}
	if st, serr := ct.State(); serr == nil && oomKills(st.CgroupPaths) > 0 {
		rec.OOMKilled, rec.Reason = true, "OOMKilled"
	}
	if err != nil {
		rec.Message = strings.TrimSpace(rec.Message + " log: " + err.Error())
	} else {
		logf.Close()
	}
	if err := writeJSONAtomic(sc.ExitFile, rec); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	if err := ct.Destroy(); err != nil {
		fmt.Fprintln(os.Stderr, "destroy:", err)
	}
	// Attachers get the last output and then the end of it, once the
	// exit is on record.
	hub.close()
	return 0
}

// output is one stream of the container's output.
type output struct {
	stream string
	r      *os.File
}

// containerIO is the shim's side of a container's standard streams.
type containerIO struct {
	outs []output
	// stdin is the container's stdin (the terminal with a tty); nil when
	// it reads /dev/null.
	stdin *os.File
	// console is the terminal's master side; nil without a tty.
	console *os.File
}

// startContainer creates and runs the container's init process; on error
// nothing is left behind.
func startContainer(sc shimConfig) (_ *libcontainer.Container, _ *libcontainer.Process, _ containerIO, retErr error) {
	var none containerIO
	cfg, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{CgroupName: sc.ID, Spec: sc.Spec})
	if err != nil {
		return nil, nil, none, fmt.Errorf("container config: %w", err)
	}
	ct, err := libcontainer.Create(sc.Root, sc.ID, cfg)
	if err != nil {
		return nil, nil, none, fmt.Errorf("create container: %w", err)
	}
	defer func() {
		if retErr != nil {
			_ = ct.Destroy()
		}
	}()
	p := processFromSpec(sc.Spec.Process)
	p.Init = true
	var childEnds []*os.File
	defer func() {
		for _, f := range childEnds {
			f.Close()
		}
	}()
	if sc.Spec.Process.Terminal {
		parent, child, err := utils.NewSockPair("console")
		if err != nil {
			return nil, nil, none, err
		}
		defer parent.Close()
		childEnds = append(childEnds, child)
		p.ConsoleSocket = child
		if err := ct.Run(p); err != nil {
			return nil, nil, none, err
		}
		child.Close()
		childEnds = nil
		master, err := utils.RecvFile(parent)
		if err != nil {
			_ = p.Signal(unix.SIGKILL)
			_, _ = p.Wait()
			return nil, nil, none, fmt.Errorf("receive console: %w", err)
		}
		cio := containerIO{outs: []output{{stream: "stdout", r: master}}, console: master}
		if sc.Stdin {
			cio.stdin = master
		}
		return ct, p, cio, nil
	}
	var stdinW *os.File
	if sc.Stdin {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, nil, none, err
		}
		childEnds = append(childEnds, r)
		p.Stdin, stdinW = r, w
		defer func() {
			if retErr != nil {
				w.Close()
			}
		}()
	} else {
		null, err := os.Open(os.DevNull)
		if err != nil {
			return nil, nil, none, err
		}
		childEnds = append(childEnds, null)
		p.Stdin = null
	}
	var outs []output
	for _, name := range []string{"stdout", "stderr"} {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, nil, none, err
		}
		childEnds = append(childEnds, w)
		outs = append(outs, output{stream: name, r: r})
		if name == "stdout" {
			p.Stdout = w
		} else {
			p.Stderr = w
		}
	}
	if err := ct.Run(p); err != nil {
		for _, o := range outs {
			o.r.Close()
		}
		return nil, nil, none, err
	}
	return ct, p, containerIO{outs: outs, stdin: stdinW}, nil
}

// processFromSpec builds a libcontainer process from an OCI process.
func processFromSpec(sp *specs.Process) *libcontainer.Process {
	groups := make([]int, len(sp.User.AdditionalGids))
	for i, g := range sp.User.AdditionalGids {
		groups[i] = int(g)
	}
	return &libcontainer.Process{
		Args:             sp.Args,
		Env:              sp.Env,
		Cwd:              sp.Cwd,
		UID:              int(sp.User.UID),
		GID:              int(sp.User.GID),
		AdditionalGroups: groups,
	}
}

// oomKills reads how many processes the kernel's OOM killer killed in the
// container's memory cgroup (v1 memory.oom_control or v2 memory.events).
func oomKills(paths map[string]string) int {
	files := []string{}
	if p, ok := paths["memory"]; ok {
		files = append(files, filepath.Join(p, "memory.oom_control"))
	}
	if p, ok := paths[""]; ok {
		files = append(files, filepath.Join(p, "memory.events"))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(b)) {
			k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
			if ok && k == "oom_kill" {
				n, _ := strconv.Atoi(v)
				return n
			}
		}
	}
	return 0
}

// writeJSONAtomic writes v to path through a rename.
func writeJSONAtomic(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", path, err)
	}
	return nil
}

// readJSON reads path into v.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	return nil
}

// exitCode is a process's exit status, or 128+signal if a signal ended it.
func exitCode(ps *os.ProcessState) int {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if !ok {
		return ps.ExitCode()
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
