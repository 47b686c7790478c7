package agent

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
)

// probeResult is one finished probe run.
type probeResult struct {
	id      string
	kind    probeKind
	passed  bool
	message string
	at      time.Time
}

// prober runs the probes of running containers: the loop's goroutine owns
// its state; each run is a goroutine reporting on results.
type prober struct {
	rt       Runtime
	clk      clock.PassiveClock
	sem      chan struct{}
	wg       sync.WaitGroup
	results  chan probeResult
	probes   map[string]*containerProbes
	owner    map[string]string // container ID -> pod UID
	inflight map[string]bool
}

func newProber(rt Runtime, clk clock.PassiveClock, workers int) *prober {
	return &prober{rt: rt, clk: clk, sem: make(chan struct{}, workers), results: make(chan probeResult),
		probes: map[string]*containerProbes{}, owner: map[string]string{}, inflight: map[string]bool{}}
}

// sync sets up probes for new running containers, drops those of gone
// ones and starts the runs that are due at now.
func (p *prober) sync(ctx context.Context, pods map[string]*podState, observed []ContainerState, now time.Time) {
	alive := map[string]bool{}
	for _, c := range observed {
		st := pods[c.PodUID]
		if !c.Running || st == nil || st.Deleted {
			continue
		}
		spec := findContainer(st.Pod, c.Name)
		if spec == nil || isInit(st.Pod, c.Name) && !isSidecar(spec) {
			continue
		}
		alive[c.ID] = true
		cp := p.probes[c.ID]
		if cp == nil {
			cp = newContainerProbes(spec, c.StartedAt)
			p.probes[c.ID] = cp
			p.owner[c.ID] = c.PodUID
		}
		var ip string
		if len(st.Sandbox.PodIPs) > 0 {
			ip = st.Sandbox.PodIPs[0]
		}
		for _, k := range cp.due(now) {
			key := c.ID + "/" + string(k)
			if p.inflight[key] {
				continue
			}
			p.inflight[key] = true
			p.start(ctx, c.ID, k, cp.get(k), spec.DeepCopy(), ip)
		}
	}
	for id := range p.probes {
		if !alive[id] {
			delete(p.probes, id)
			delete(p.owner, id)
		}
	}
}

func isInit(pod *corev1.Pod, name string) bool {
	for _, c := range pod.Spec.InitContainers {
		if c.Name == name {
			return true
		}
	}
	return false
}

func (p *prober) start(ctx context.Context, id string, k probeKind, s *probeState, c *corev1.Container, ip string) {
	h, timeout := s.spec.ProbeHandler, s.timeout()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		select {
		case p.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		ok, msg := runHandler(ctx, p.rt, h, c, id, ip, timeout)
		<-p.sem
		select {
		case p.results <- probeResult{id: id, kind: k, passed: ok, message: msg, at: p.clk.Now()}:
		case <-ctx.Done():
		}
	}()
}

// record applies a run's result and reports a failure as an Unhealthy
// event on the pod.
func (p *prober) record(r probeResult, events record.EventRecorder, pods map[string]*podState) {
	delete(p.inflight, r.id+"/"+string(r.kind))
	cp := p.probes[r.id]
	if cp == nil {
		return
	}
	s := cp.get(r.kind)
	if s == nil {
		return
	}
	s.observe(r.passed, r.message, r.at)
	if st := pods[p.owner[r.id]]; !r.passed && st != nil {
		events.Event(st.Pod, corev1.EventTypeWarning, "Unhealthy", fmt.Sprintf("%s probe failed: %s", r.kind, oneLine(r.message)))
	}
}

// unhealthy lists running containers to restart, with why.
func (p *prober) unhealthy() map[string]string {
	out := map[string]string{}
	for id, cp := range p.probes {
		if msg, bad := cp.unhealthy(); bad {
			out[id] = msg
		}
	}
	return out
}

// view is the probes' verdicts for status.
func (p *prober) view() probeView {
	v := probeView{Ready: map[string]bool{}, Started: map[string]bool{}}
	for id, cp := range p.probes {
		if cp.ready != nil {
			v.Ready[id] = cp.started() && cp.ready.result
		}
		if cp.startup != nil {
			v.Started[id] = cp.started()
		}
	}
	return v
}

// wait waits for the runs in flight (after their context ended).
func (p *prober) wait() { p.wg.Wait() }
