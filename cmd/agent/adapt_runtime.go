package main

import (
	"context"
	"time"

	"github.com/keel-edge/keel/agent"
	"github.com/keel-edge/keel/runc"
)

// nodeRuntime presents the libcontainer runtime to the node loop. The
// adapter declares value types of the agent's shape instead of importing
// the agent, so they convert one to one here.
type nodeRuntime struct{ r *runc.Runtime }

var _ agent.Runtime = nodeRuntime{}

func (a nodeRuntime) CreateSandbox(ctx context.Context, s agent.SandboxSpec) (agent.Sandbox, error) {
	sb, err := a.r.CreateSandbox(ctx, runc.SandboxSpec(s))
	return agent.Sandbox(sb), err
}

func (a nodeRuntime) RemoveSandbox(ctx context.Context, podUID string) error {
	return a.r.RemoveSandbox(ctx, podUID)
}

func (a nodeRuntime) StartContainer(ctx context.Context, s agent.ContainerSpec) (agent.ContainerState, error) {
	mounts := make([]runc.Mount, len(s.Mounts))
	for i, m := range s.Mounts {
		mounts[i] = runc.Mount(m)
	}
	st, err := a.r.StartContainer(ctx, runc.ContainerSpec{
		PodUID: s.PodUID, Name: s.Name, Attempt: s.Attempt, RootFS: s.RootFS,
		Args: s.Args, Env: s.Env, WorkingDir: s.WorkingDir,
		User: s.User, Group: s.Group, AdditionalGroups: s.AdditionalGroups,
		Mounts: mounts, Resources: runc.Resources(s.Resources), Security: runc.Security(s.Security),
		TTY: s.TTY, Stdin: s.Stdin, LogPath: s.LogPath,
	})
	return agent.ContainerState(st), err
}

func (a nodeRuntime) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	return a.r.StopContainer(ctx, id, grace)
}

func (a nodeRuntime) RemoveContainer(ctx context.Context, id string) error {
	return a.r.RemoveContainer(ctx, id)
}

func (a nodeRuntime) Containers(ctx context.Context) ([]agent.ContainerState, error) {
	states, err := a.r.Containers(ctx)
	out := make([]agent.ContainerState, len(states))
	for i, s := range states {
		out[i] = agent.ContainerState(s)
	}
	return out, err
}

func (a nodeRuntime) Exec(ctx context.Context, id string, cmd []string, s agent.Streams, tty bool, resize <-chan agent.TermSize) (int, error) {
	var rs chan runc.TermSize
	if resize != nil {
		rs = make(chan runc.TermSize)
		go func() {
			defer close(rs)
			for {
				select {
				case sz, ok := <-resize:
					if !ok {
						return
					}
					select {
					case rs <- runc.TermSize(sz):
					case <-ctx.Done():
						return
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	return a.r.Exec(ctx, id, cmd, runc.Streams(s), tty, rs)
}
