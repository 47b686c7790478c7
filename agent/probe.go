package agent

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// probeKind is liveness, readiness or startup.
type probeKind string

// The probe kinds, named as in events ("Liveness probe failed: ...").
const (
	probeLiveness  probeKind = "Liveness"
	probeReadiness probeKind = "Readiness"
	probeStartup   probeKind = "Startup"
)

// probeState is one probe of one running container: a pure state machine
// fed with results and now.
type probeState struct {
	spec    corev1.Probe
	start   time.Time
	next    time.Time
	ok, bad int
	// result is the probe's verdict; message the last failure's output.
	result  bool
	message string
}

// newProbeState starts a probe for a container that started at started.
// Liveness starts out passing, readiness and startup failing.
func newProbeState(kind probeKind, p *corev1.Probe, started time.Time) *probeState {
	s := &probeState{spec: *p, start: started, result: kind == probeLiveness}
	if s.spec.PeriodSeconds <= 0 {
		s.spec.PeriodSeconds = 10
	}
	if s.spec.TimeoutSeconds <= 0 {
		s.spec.TimeoutSeconds = 1
	}
	if s.spec.SuccessThreshold <= 0 {
		s.spec.SuccessThreshold = 1
	}
	if s.spec.FailureThreshold <= 0 {
		s.spec.FailureThreshold = 3
	}
	s.next = started.Add(time.Duration(s.spec.InitialDelaySeconds) * time.Second)
	return s
}

// due reports whether the probe should run at now.
func (s *probeState) due(now time.Time) bool { return !now.Before(s.next) }

// timeout is how long one run may take.
func (s *probeState) timeout() time.Duration {
	return time.Duration(s.spec.TimeoutSeconds) * time.Second
}

// observe records one run's outcome at now and reports whether the
// verdict changed.
func (s *probeState) observe(passed bool, message string, now time.Time) bool {
	s.next = now.Add(time.Duration(s.spec.PeriodSeconds) * time.Second)
	before := s.result
	if passed {
		s.bad = 0
		s.ok++
		if s.ok >= int(s.spec.SuccessThreshold) {
			s.result = true
		}
	} else {
		s.ok = 0
		s.bad++
		s.message = message
		if s.bad >= int(s.spec.FailureThreshold) {
			s.result = false
		}
	}
	return before != s.result
}

// containerProbes are the probes of one running container.
type containerProbes struct {
	live, ready, startup *probeState
}

// newContainerProbes sets up c's probes for a container started at started.
func newContainerProbes(c *corev1.Container, started time.Time) *containerProbes {
	cp := &containerProbes{}
	if c.LivenessProbe != nil {
		cp.live = newProbeState(probeLiveness, c.LivenessProbe, started)
	}
	if c.ReadinessProbe != nil {
		cp.ready = newProbeState(probeReadiness, c.ReadinessProbe, started)
	}
	if c.StartupProbe != nil {
		cp.startup = newProbeState(probeStartup, c.StartupProbe, started)
	}
	return cp
}

// started reports whether the startup probe passed (true without one).
func (cp *containerProbes) started() bool { return cp.startup == nil || cp.startup.result }

// due lists the probes to run at now: only the startup probe until it
// passes, then liveness and readiness.
func (cp *containerProbes) due(now time.Time) []probeKind {
	if !cp.started() {
		if cp.startup.due(now) {
			return []probeKind{probeStartup}
		}
		return nil
	}
	var out []probeKind
	if cp.live != nil && cp.live.due(now) {
		out = append(out, probeLiveness)
	}
	if cp.ready != nil && cp.ready.due(now) {
		out = append(out, probeReadiness)
	}
	return out
}

func (cp *containerProbes) get(k probeKind) *probeState {
	switch k {
	case probeLiveness:
		return cp.live
	case probeReadiness:
		return cp.ready
	}
	return cp.startup
}

// unhealthy returns why the container must be restarted: a failed
// liveness probe, or a startup probe that ran out of attempts.
func (cp *containerProbes) unhealthy() (string, bool) {
	if cp.startup != nil && !cp.startup.result && cp.startup.bad >= int(cp.startup.spec.FailureThreshold) {
		return "Container failed startup probe, will be restarted", true
	}
	if cp.live != nil && !cp.live.result {
		return "Container failed liveness probe, will be restarted", true
	}
	return "", false
}
