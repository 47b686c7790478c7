package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keel-edge/keel/agent/membership"
	"github.com/keel-edge/keel/coordinator"
	"github.com/keel-edge/keel/coordinator/election"
	"github.com/keel-edge/keel/coordinator/pki"
)

// epochs is the highest coordinator epoch this member has seen, kept on
// disk: a coordinator announcing a lower one is fenced off.
type epochs struct {
	path string
	mu   sync.Mutex
	max  uint64
}

func loadEpochs(path string) (*epochs, error) {
	e := &epochs{path: path}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return e, nil
	case err != nil:
		return nil, fmt.Errorf("epoch: %w", err)
	}
	if e.max, err = strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64); err != nil {
		return nil, fmt.Errorf("epoch file %s: %w", path, err)
	}
	return e, nil
}

func (e *epochs) highest() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.max
}

// observe raises the highest epoch to n, on disk first.
func (e *epochs) observe(n uint64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if n <= e.max {
		return nil
	}
	if err := pki.WriteFileAtomic(e.path, []byte(strconv.FormatUint(n, 10)+"\n"), 0o600); err != nil {
		return fmt.Errorf("persist epoch %d: %w", n, err)
	}
	e.max = n
	return nil
}

// watchEpochs raises the persisted epoch to the highest any alive member
// announces.
func watchEpochs(ctx context.Context, mem *membership.Membership, ep *epochs, log *slog.Logger) error {
	for {
		for _, m := range mem.Members() {
			if m.Status == membership.Alive && m.TagErr == nil {
				if err := ep.observe(m.Tags.Epoch); err != nil {
					log.Error("epoch", "err", err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-mem.Changed():
		case <-time.After(5 * time.Second):
		}
	}
}

// elector runs the election for a coordinator candidate and starts or
// stops the coordinator as it decides.
type elector struct {
	mem    *membership.Membership
	epochs *epochs
	o      *runOptions
	adv    net.IP
	front  *apiFront
	log    *slog.Logger
}

// serving is a coordinator this member runs.
type serving struct {
	c      *coordinator.Coordinator
	epoch  uint64
	cancel context.CancelFunc
	done   chan error
}

func (e *elector) run(ctx context.Context) error {
	settle := time.Now().Add(3 * time.Second)
	if e.o.fastGossip {
		settle = time.Now().Add(time.Second)
	}
	var cur *serving
	defer func() {
		if cur != nil {
			cur.cancel()
			<-cur.done
		}
	}()
	status := map[string]membership.Status{}
	for {
		members := e.mem.Members()
		d := election.Decide(e.view(members, settle))
		switch {
		case d.TakeOver && cur == nil:
			e.log.Info("taking over as coordinator", "epoch", d.Epoch, "reason", d.Reason)
			s, err := e.start(ctx, d.Epoch)
			if err != nil {
				e.log.Error("start the coordinator", "epoch", d.Epoch, "err", err)
				break
			}
			cur = s
		case d.StepDown && cur != nil:
			e.log.Warn("stepping down as coordinator", "reason", d.Reason)
			e.stop(cur)
			cur = nil
		}
		if cur != nil {
			for _, m := range members {
				if status[m.Name] == membership.Alive && m.Status == membership.Failed {
					e.log.Warn("member failed; marking its node unreachable", "member", m.Name)
					go cur.c.NodeUnreachable(ctx, m.Name)
				}
			}
		}
		for _, m := range members {
			status[m.Name] = m.Status
		}
		wait := 5 * time.Second
		if !d.RecheckAt.IsZero() {
			wait = max(time.Until(d.RecheckAt), 10*time.Millisecond)
		}
		var done chan error
		if cur != nil {
			done = cur.done
		}
		select {
		case <-ctx.Done():
			return nil
		case <-e.mem.Changed():
		case <-time.After(wait):
		case err := <-done:
			e.log.Error("coordinator stopped", "err", err)
			cur.done = nil
			e.stop(cur)
			cur = nil
		}
	}
}

// view is the election's input from the gossip view.
func (e *elector) view(members []membership.Member, settle time.Time) election.View {
	v := election.View{Self: e.o.nodeName, HighestEpoch: e.epochs.highest(), Now: time.Now(), SettleUntil: settle}
	for _, m := range members {
		v.Members = append(v.Members, election.Member{
			Name:     m.Name,
			Alive:    m.Status == membership.Alive,
			Eligible: m.TagErr == nil && m.Tags.Eligible,
			Epoch:    m.Tags.Epoch,
			Revision: m.Tags.Revision,
			Priority: m.Tags.Priority,
			Serving:  m.Tags.Serving,
		})
	}
	return v
}

// start persists epoch, runs the coordinator and announces it once its
// API serves.
func (e *elector) start(ctx context.Context, epoch uint64) (_ *serving, err error) {
	if err := e.epochs.observe(epoch); err != nil {
		return nil, err
	}
	o := e.o
	ccfg := coordinator.DefaultConfig(o.dataDir)
	ccfg.NodeName = o.nodeName
	ccfg.APIAddr = o.apiAddr
	ccfg.Socket = o.socket
	ccfg.AdvertiseIP = e.adv.String()
	ccfg.ServiceCIDR = o.serviceCIDR
	ccfg.NodePortRange = o.nodePorts
	ccfg.ClusterCIDR = o.clusterCIDR
	ccfg.Log = e.log.With("epoch", epoch)
	ccfg.GossipMembers = func() []string {
		var out []string
		for _, m := range e.mem.Members() {
			if m.Status == membership.Alive {
				out = append(out, m.Addr.String())
			}
		}
		return out
	}
	ccfg.MemberIPs = func() []net.IP {
		var out []net.IP
		for _, m := range e.mem.Members() {
			if m.Status == membership.Alive {
				out = append(out, m.Addr.Addr().AsSlice())
			}
		}
		return out
	}
	c, err := coordinator.New(ccfg)
	if err != nil {
		return nil, err
	}
	// The coordinator's API takes over the address and socket.
	e.front.stop()
	defer func() {
		if err != nil {
			e.restartFront(ctx)
		}
	}()
	cctx, cancel := context.WithCancel(ctx)
	s := &serving{c: c, epoch: epoch, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- c.Run(cctx) }()
	select {
	case <-c.Ready():
	case err := <-s.done:
		cancel()
		return nil, fmt.Errorf("coordinator: %w", err)
	case <-ctx.Done():
		cancel()
		<-s.done
		return nil, ctx.Err()
	}
	t := e.mem.Tags()
	t.Epoch, t.Serving = epoch, true
	if err = e.mem.SetTags(t); err != nil {
		s.cancel()
		<-s.done
		return nil, err
	}
	e.log.Info("coordinator serving", "epoch", epoch)
	return s, nil
}

// stop ends a coordinator this member runs and withdraws its
// announcement.
func (e *elector) stop(s *serving) {
	s.cancel()
	if s.done != nil {
		<-s.done
	}
	t := e.mem.Tags()
	t.Serving = false
	if err := e.mem.SetTags(t); err != nil {
		e.log.Error("withdraw the coordinator announcement", "err", err)
	}
	e.restartFront(context.Background())
}

// restartFront serves the API for the next coordinator again.
func (e *elector) restartFront(ctx context.Context) {
	if err := e.front.start(ctx); err != nil {
		e.log.Error("serve the API for the coordinator", "err", err)
	}
}
