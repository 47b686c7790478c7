package agent

import (
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// podState is what the node keeps of a pod besides the runtime's view;
// it is persisted so a restarted agent (or a rebooted node with no
// coordinator) carries on.
type podState struct {
	// Pod is the last desired pod seen.
	Pod *corev1.Pod `json:"pod"`
	// Deleted marks a pod gone from the API (or being deleted): the node
	// stops it and then forgets it.
	Deleted bool `json:"deleted,omitempty"`
	// Admitted marks a pod that fit the node; Rejected holds why not.
	Admitted bool        `json:"admitted,omitempty"`
	Rejected *failure    `json:"rejected,omitempty"`
	Sandbox  sandboxInfo `json:"sandbox"`
	// StartTime is when the node first acknowledged the pod.
	StartTime time.Time `json:"startTime"`
	// Containers are per-container records, by name.
	Containers map[string]*containerRecord `json:"containers,omitempty"`
}

// sandboxInfo is the pod's sandbox as created in one boot of the node.
type sandboxInfo struct {
	BootID string   `json:"bootID,omitempty"`
	NetNS  string   `json:"netns,omitempty"`
	PodIPs []string `json:"podIPs,omitempty"`
}

// containerRecord is the node's memory of one container name of a pod.
type containerRecord struct {
	// Streak counts restarts in the current crash loop (for back-off).
	Streak int `json:"streak,omitempty"`
	// NextAttempt is the attempt number of the next start.
	NextAttempt int `json:"nextAttempt,omitempty"`
	// Failure is the last start that did not produce a container.
	Failure *failure `json:"failure,omitempty"`
	// Image and ImageID are what the running attempt was started from.
	Image   string `json:"image,omitempty"`
	ImageID string `json:"imageID,omitempty"`
}

// failure is a start that failed before a container existed, or a pod's
// rejection.
type failure struct {
	Reason  string    `json:"reason"`
	Message string    `json:"message"`
	At      time.Time `json:"at"`
}

func (s *podState) record(name string) *containerRecord {
	if s.Containers == nil {
		s.Containers = map[string]*containerRecord{}
	}
	r := s.Containers[name]
	if r == nil {
		r = &containerRecord{}
		s.Containers[name] = r
	}
	return r
}

// history is one pod's containers of one name, newest first.
type history []ContainerState

func (h history) latest() *ContainerState {
	if len(h) == 0 {
		return nil
	}
	return &h[0]
}

// byPodAndName groups observed containers by pod UID and name, newest
// attempt first.
func byPodAndName(cs []ContainerState) map[string]map[string]history {
	out := map[string]map[string]history{}
	for _, c := range cs {
		m := out[c.PodUID]
		if m == nil {
			m = map[string]history{}
			out[c.PodUID] = m
		}
		m[c.Name] = append(m[c.Name], c)
	}
	for _, m := range out {
		for _, h := range m {
			sort.SliceStable(h, func(i, j int) bool {
				if h[i].Attempt != h[j].Attempt {
					return h[i].Attempt > h[j].Attempt
				}
				return h[i].StartedAt.After(h[j].StartedAt)
			})
		}
	}
	return out
}

// gracePeriod is how long a stopping pod's containers get: the deletion's
// grace, else the spec's, else 30 seconds.
func gracePeriod(p *corev1.Pod) time.Duration {
	switch {
	case p.DeletionGracePeriodSeconds != nil:
		return time.Duration(*p.DeletionGracePeriodSeconds) * time.Second
	case p.Spec.TerminationGracePeriodSeconds != nil:
		return time.Duration(*p.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	return 30 * time.Second
}
