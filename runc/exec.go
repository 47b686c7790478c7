package runc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
	"golang.org/x/sys/unix"
)

// Exec runs cmd in the running container id with the container's
// environment, user and working directory, wiring its stdio to streams
// (with tty, one terminal carries stdin and output to Stdout, and resize
// sets its size: sizes already queued are applied before stdin is wired).
// It returns the process's exit code (128+signal when
// killed). Cancelling ctx kills the process.
func (r *Runtime) Exec(ctx context.Context, id string, cmd []string, streams Streams, tty bool, resize <-chan TermSize) (int, error) {
	if err := validName("container id", id); err != nil {
		return 0, err
	}
	if len(cmd) == 0 {
		return 0, errors.New("exec: empty command")
	}
	var rec record
	if err := readJSON(filepath.Join(r.ctrDir(id), "meta.json"), &rec); err != nil {
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	ct, err := libcontainer.Load(r.lcRoot(), id)
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	// Created counts as running: a container just started may still show
	// it for a moment, until its init has handed over to the process.
	if s, err := ct.Status(); err != nil || (s != libcontainer.Running && s != libcontainer.Created) {
		return 0, fmt.Errorf("exec in %s: container is not running", id)
	}
	sp, err := buildSpec(id, rec.Spec, nsPaths{}, "")
	if err != nil {
		return 0, err
	}
	p := processFromSpec(sp.Process)
	p.Args = cmd
	var copies sync.WaitGroup
	var closeAfterStart []io.Closer
	defer func() {
		for _, c := range closeAfterStart {
			c.Close()
		}
	}()
	var master *os.File
	if tty {
		parent, child, err := utils.NewSockPair("console")
		if err != nil {
			return 0, err
		}
		defer parent.Close()
		closeAfterStart = append(closeAfterStart, child)
		p.ConsoleSocket = child
		if err := ct.Run(p); err != nil {
			return 0, fmt.Errorf("exec in %s: %w", id, err)
		}
		child.Close()
		closeAfterStart = nil
		master, err = utils.RecvFile(parent)
		if err != nil {
			_ = p.Signal(unix.SIGKILL)
			_, _ = p.Wait()
			return 0, fmt.Errorf("exec in %s: receive console: %w", id, err)
		}
		defer master.Close()
		for drained := false; !drained; {
			select {
			case sz, ok := <-resize:
				if !ok {
					resize, drained = nil, true
					break
				}
				_ = unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: sz.Width, Row: sz.Height})
			default:
				drained = true
			}
		}
		if streams.Stdin != nil {
			go func() { _, _ = io.Copy(master, streams.Stdin) }()
		}
		out := streams.Stdout
		if out == nil {
			out = io.Discard
		}
		copies.Go(func() { _, _ = io.Copy(out, master) })
		go func() {
			for resize != nil {
				select {
				case sz, ok := <-resize:
					if !ok {
						return
					}
					_ = unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: sz.Width, Row: sz.Height})
				case <-ctx.Done():
					return
				}
			}
		}()
	} else {
		var stdinW *os.File
		if streams.Stdin != nil {
			rd, wr, err := os.Pipe()
			if err != nil {
				return 0, err
			}
			closeAfterStart = append(closeAfterStart, rd)
			p.Stdin, stdinW = rd, wr
		}
		for i, w := range []io.Writer{streams.Stdout, streams.Stderr} {
			if w == nil {
				continue
			}
			rd, wr, err := os.Pipe()
			if err != nil {
				return 0, err
			}
			closeAfterStart = append(closeAfterStart, wr)
			if i == 0 {
				p.Stdout = wr
			} else {
				p.Stderr = wr
			}
			copies.Go(func() {
				_, _ = io.Copy(w, rd)
				rd.Close()
			})
		}
		if err := ct.Run(p); err != nil {
			if stdinW != nil {
				stdinW.Close()
			}
			for _, c := range closeAfterStart {
				c.Close()
			}
			closeAfterStart = nil
			copies.Wait()
			return 0, fmt.Errorf("exec in %s: %w", id, err)
		}
		for _, c := range closeAfterStart {
			c.Close()
		}
		closeAfterStart = nil
		if stdinW != nil {
			go func() {
				_, _ = io.Copy(stdinW, streams.Stdin)
				stdinW.Close()
			}()
		}
	}
	stop := context.AfterFunc(ctx, func() { _ = p.Signal(unix.SIGKILL) })
	defer stop()
	ps, err := p.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return 0, fmt.Errorf("exec in %s: wait: %w", id, err)
	}
	if master != nil {
		// The terminal reports EIO once the last writer is gone; do not
		// wait for background processes that kept it open.
		master.Close()
	}
	copies.Wait()
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	return exitCode(ps), nil
}
