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
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"

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
	changed := mem.Subscribe()
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
		case <-changed:
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
	follow *follower
	log    *slog.Logger
	// joined is closed once gossip reached a known member.
	joined <-chan struct{}

	// active is the coordinator this member runs, if any.
	active atomic.Pointer[serving]
}

// joinWait is how long a candidate waits to reach a known member before
// it decides alone.
const joinWait = 10 * time.Second

// serving is a coordinator this member runs.
type serving struct {
	c      *coordinator.Coordinator
	epoch  uint64
	cancel context.CancelFunc
	done   chan error
}

func (e *elector) run(ctx context.Context) error {
	changed := e.mem.Subscribe()
	// A member that knew others decides only once it reached one of them
	// (or, after a while, alone: a cluster restarting around it), and then
	// lets gossip settle: a view of itself alone would elect it.
	select {
	case <-e.joined:
	case <-time.After(joinWait):
		e.log.Warn("no known member answered; electing from what this member sees", "waited", joinWait)
	case <-ctx.Done():
		return nil
	}
	settle := time.Now().Add(3 * time.Second)
	if e.o.fastGossip {
		settle = time.Now().Add(time.Second)
	}
	var cur *serving
	e.follow.start(ctx)
	defer func() {
		e.follow.stop()
		if cur != nil {
			cur.cancel()
			<-cur.done
		}
	}()
	go e.announceRevisions(ctx)
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
		case <-changed:
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
	ccfg.LoadBalancerPool = o.lbPool
	ccfg.ClusterCIDR = o.clusterCIDR
	ccfg.NodeMonitorGracePeriod = o.nodeGrace
	ccfg.DefaultTolerationSeconds = o.tolerationS
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
	// The coordinator's API takes over the address, the socket and the
	// store.
	e.front.stop()
	e.follow.stop()
	held, previous := e.follow.revision(), lastAnnounced(e.mem.Members(), epoch)
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
	if err = e.mem.UpdateTags(func(t *membership.Tags) { t.Epoch, t.Serving = epoch, true }); err != nil {
		s.cancel()
		<-s.done
		return nil, err
	}
	e.active.Store(s)
	e.log.Info("coordinator serving", "epoch", epoch)
	msg := fmt.Sprintf("%s took over as coordinator with epoch %d at revision %d", e.o.nodeName, epoch, c.Revision())
	evType := corev1.EventTypeNormal
	if previous > held {
		evType = corev1.EventTypeWarning
		msg += fmt.Sprintf("; the previous coordinator had announced revision %d, so at least %d revisions it wrote are missing here", previous, previous-held)
	} else if previous > 0 {
		msg += fmt.Sprintf("; it holds every revision the previous coordinator announced (%d), though writes of its last seconds may be missing", previous)
	}
	if err := c.Announce(ctx, evType, "CoordinatorTakeover", msg); err != nil {
		e.log.Warn("record the takeover", "err", err)
	}
	e.log.Info(msg)
	return s, nil
}

// stop ends a coordinator this member runs and withdraws its
// announcement.
func (e *elector) stop(s *serving) {
	e.active.CompareAndSwap(s, nil)
	s.cancel()
	if s.done != nil {
		<-s.done
	}
	if err := e.mem.UpdateTags(func(t *membership.Tags) { t.Serving = false }); err != nil {
		e.log.Error("withdraw the coordinator announcement", "err", err)
	}
	e.restartFront(context.Background())
}

// restartFront serves the API for the next coordinator again, and
// follows it.
func (e *elector) restartFront(ctx context.Context) {
	if err := e.front.start(ctx); err != nil {
		e.log.Error("serve the API for the coordinator", "err", err)
	}
	e.follow.start(ctx)
}

// announceRevisions keeps the revision this member holds (as coordinator
// or follower) in its tags, every two seconds: the election ranks
// candidates by it, and a takeover reports what it may lack by it.
func (e *elector) announceRevisions(ctx context.Context) {
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		rev := e.follow.revision()
		if s := e.active.Load(); s != nil {
			rev = s.c.Revision()
		}
		if err := e.mem.UpdateTags(func(t *membership.Tags) { t.Revision = rev }); err != nil {
			e.log.Warn("announce revision", "err", err)
		}
	}
}

// lastAnnounced is the highest revision a member serving an epoch below
// epoch announced: what the previous coordinator had, as far as gossip
// heard.
func lastAnnounced(members []membership.Member, epoch uint64) int64 {
	var rev int64
	for _, m := range members {
		if m.Tags.Serving && m.Tags.Epoch < epoch {
			rev = max(rev, m.Tags.Revision)
		}
	}
	return rev
}
