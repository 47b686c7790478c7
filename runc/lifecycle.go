package runc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// pollEvery is how often a waiter looks for a container's exit record.
const pollEvery = 10 * time.Millisecond

// StopContainer sends SIGTERM, waits up to grace, then sends SIGKILL; it
// returns once the container's exit is recorded. Stopping an exited
// container does nothing.
func (r *Runtime) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	if err := validName("container id", id); err != nil {
		return err
	}
	st, err := r.state(id)
	if err != nil {
		return err
	}
	if !st.Running {
		return nil
	}
	if grace > 0 {
		if err := r.signal(id, unix.SIGTERM); err != nil {
			return err
		}
		gctx, cancel := context.WithTimeout(ctx, grace)
		err := r.waitExit(gctx, id)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if err := r.signal(id, unix.SIGKILL); err != nil {
		return err
	}
	return r.waitExit(ctx, id)
}

// signal signals the container's init; a container that already stopped
// is not an error.
func (r *Runtime) signal(id string, sig unix.Signal) error {
	ct, err := libcontainer.Load(r.lcRoot(), id)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, libcontainer.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load %s: %w", id, err)
	}
	if err := ct.Signal(sig); err != nil && !errors.Is(err, libcontainer.ErrNotRunning) {
		return fmt.Errorf("signal %s: %w", id, err)
	}
	return nil
}

// waitExit polls until the container is no longer running.
func (r *Runtime) waitExit(ctx context.Context, id string) error {
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		st, err := r.state(id)
		if err != nil {
			return err
		}
		if !st.Running {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s to exit: %w", id, ctx.Err())
		case <-t.C:
		}
	}
}

// Wait blocks until the container has exited and returns its final state.
func (r *Runtime) Wait(ctx context.Context, id string) (ContainerState, error) {
	if err := validName("container id", id); err != nil {
		return ContainerState{}, err
	}
	if err := r.waitExit(ctx, id); err != nil {
		return ContainerState{}, err
	}
	return r.state(id)
}

// RemoveContainer deletes an exited container's records (not its log);
// removing a missing container is not an error.
func (r *Runtime) RemoveContainer(ctx context.Context, id string) error {
	if err := validName("container id", id); err != nil {
		return err
	}
	st, err := r.state(id)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.Running {
		return fmt.Errorf("remove %s: container is running", id)
	}
	if ct, err := libcontainer.Load(r.lcRoot(), id); err == nil {
		if err := ct.Destroy(); err != nil {
			return fmt.Errorf("destroy %s: %w", id, err)
		}
	}
	if err := os.RemoveAll(r.ctrDir(id)); err != nil {
		return fmt.Errorf("remove %s: %w", id, err)
	}
	_ = os.RemoveAll(filepath.Join(r.lcRoot(), id))
	return nil
}
