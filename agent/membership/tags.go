package membership

import (
	"fmt"
	"net/netip"
	"strconv"
)

// Tags are what a member announces about itself over gossip. Serf
// carries them as a small string map; Encode and DecodeTags are the
// only places that know its keys.
type Tags struct {
	// Eligible marks a coordinator candidate.
	Eligible bool
	// API is the member's Kubernetes API address (host:port).
	API string
	// PodCIDR is the pod network the member's node was given.
	PodCIDR string
	// Epoch is the highest coordinator epoch the member has served or
	// seen; Serving says it is the coordinator of that epoch.
	Epoch   uint64
	Serving bool
	// Revision is the newest store revision the member holds.
	Revision int64
	// Priority ranks equally complete coordinator candidates.
	Priority int
}

const (
	tagRole     = "role"
	tagAPI      = "api"
	tagPodCIDR  = "podcidr"
	tagEpoch    = "epoch"
	tagServing  = "serving"
	tagRevision = "rev"
	tagPriority = "prio"

	roleCoordinator = "coordinator"
	roleWorker      = "worker"
)

// Encode gives the serf tag map.
func (t Tags) Encode() map[string]string {
	m := map[string]string{tagRole: roleWorker}
	if t.Eligible {
		m[tagRole] = roleCoordinator
	}
	if t.API != "" {
		m[tagAPI] = t.API
	}
	if t.PodCIDR != "" {
		m[tagPodCIDR] = t.PodCIDR
	}
	if t.Epoch != 0 {
		m[tagEpoch] = strconv.FormatUint(t.Epoch, 10)
	}
	if t.Serving {
		m[tagServing] = "1"
	}
	if t.Revision != 0 {
		m[tagRevision] = strconv.FormatInt(t.Revision, 10)
	}
	if t.Priority != 0 {
		m[tagPriority] = strconv.Itoa(t.Priority)
	}
	return m
}

// DecodeTags reads a member's tag map. Tags come from other machines, so
// every value is checked; unknown keys are ignored, for newer members.
func DecodeTags(m map[string]string) (Tags, error) {
	var t Tags
	switch r := m[tagRole]; r {
	case roleCoordinator:
		t.Eligible = true
	case roleWorker, "":
	default:
		return Tags{}, fmt.Errorf("tag %s: %q is neither %s nor %s", tagRole, r, roleCoordinator, roleWorker)
	}
	if v, ok := m[tagAPI]; ok {
		if _, err := netip.ParseAddrPort(v); err != nil {
			return Tags{}, fmt.Errorf("tag %s: %w", tagAPI, err)
		}
		t.API = v
	}
	if v, ok := m[tagPodCIDR]; ok {
		if _, err := netip.ParsePrefix(v); err != nil {
			return Tags{}, fmt.Errorf("tag %s: %w", tagPodCIDR, err)
		}
		t.PodCIDR = v
	}
	var err error
	if v, ok := m[tagEpoch]; ok {
		if t.Epoch, err = strconv.ParseUint(v, 10, 64); err != nil {
			return Tags{}, fmt.Errorf("tag %s: %w", tagEpoch, err)
		}
	}
	switch v := m[tagServing]; v {
	case "1":
		t.Serving = true
	case "", "0":
	default:
		return Tags{}, fmt.Errorf("tag %s: %q is not 0 or 1", tagServing, v)
	}
	if v, ok := m[tagRevision]; ok {
		if t.Revision, err = strconv.ParseInt(v, 10, 64); err != nil || t.Revision < 0 {
			return Tags{}, fmt.Errorf("tag %s: %q is not a revision", tagRevision, v)
		}
	}
	if v, ok := m[tagPriority]; ok {
		if t.Priority, err = strconv.Atoi(v); err != nil {
			return Tags{}, fmt.Errorf("tag %s: %w", tagPriority, err)
		}
	}
	if t.Serving && (!t.Eligible || t.Epoch == 0) {
		return Tags{}, fmt.Errorf("tag %s: only a coordinator candidate with an epoch can serve", tagServing)
	}
	return t, nil
}
