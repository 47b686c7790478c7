// Package election decides which member of the cluster is the
// coordinator. It is a pure core: the membership view, the epochs each
// member announces and the time come in; a decision comes out. The agent
// gathers the view from serf, acts on the decision (start or stop its
// coordinator, persist epochs, announce them in its tags) and asks again
// whenever the view changes or the decision says when.
//
// The rules:
//   - A live coordinator is kept. An alive, eligible member announcing that
//     it serves epoch E is the coordinator as long as no alive member
//     announces a higher epoch and E is not below the highest epoch this
//     member has seen (a lower epoch is fenced off: it belongs to a
//     coordinator that was replaced while it was away). Stability first:
//     a better-ranked member joining does not depose a serving coordinator.
//   - Otherwise the alive eligible members are ranked by last epoch, then
//     last revision (the most complete store), then priority, then name,
//     and the first one takes over with an epoch higher than any epoch
//     seen. Only the winner acts; the others wait for its announcement.
//   - A member that just started waits for gossip to settle before it
//     takes over, unless it knows of no other eligible member: a rank
//     computed from a half-learned view would elect the wrong member.
package election

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Member is what the view holds about one cluster member.
type Member struct {
	Name string
	// Alive is serf's verdict: false once the member failed or left.
	Alive bool
	// Eligible marks a member started as a coordinator candidate.
	Eligible bool
	// Epoch is the highest epoch the member has served or seen.
	Epoch uint64
	// Revision is the newest store revision the member holds.
	Revision int64
	// Priority breaks ties between equally complete candidates; higher
	// wins.
	Priority int
	// Serving says the member announces itself as the coordinator of
	// Epoch.
	Serving bool
}

// View is everything a decision is made from.
type View struct {
	// Self is the deciding member's name; it is in Members.
	Self    string
	Members []Member
	// HighestEpoch is the highest epoch Self has persisted as seen.
	HighestEpoch uint64
	// Now and SettleUntil: before SettleUntil, Self does not take over
	// while other eligible members are known.
	Now, SettleUntil time.Time
}

// Decision is what Self should do.
type Decision struct {
	// Coordinator is the member that serves or should serve; empty when
	// no eligible member is alive.
	Coordinator string
	// Epoch is the coordinator's epoch; for a takeover, the new one.
	Epoch uint64
	// TakeOver tells Self to become the coordinator with Epoch. It has
	// to persist Epoch before it serves.
	TakeOver bool
	// StepDown tells Self, which announces that it serves, to stop: its
	// epoch has been superseded.
	StepDown bool
	// RecheckAt, when not zero, is when the decision may change without
	// the view changing.
	RecheckAt time.Time
	// Reason explains the decision for logs and events.
	Reason string
}

// Decide applies the rules to v.
func Decide(v View) Decision {
	self, ok := find(v.Members, v.Self)
	if !ok {
		return Decision{Reason: fmt.Sprintf("%s is not in its own view", v.Self)}
	}
	highest := v.HighestEpoch
	for _, m := range v.Members {
		highest = max(highest, m.Epoch)
	}

	if cur, ok := serving(v.Members, v.HighestEpoch); ok {
		d := Decision{Coordinator: cur.Name, Epoch: cur.Epoch,
			Reason: fmt.Sprintf("%s serves epoch %d", cur.Name, cur.Epoch)}
		if self.Serving && cur.Name != self.Name {
			d.StepDown = true
			d.Reason = fmt.Sprintf("%s serves epoch %d, above this member's %d", cur.Name, cur.Epoch, self.Epoch)
		}
		return d
	}

	cands := candidates(v.Members)
	if len(cands) == 0 {
		d := Decision{Reason: "no eligible member is alive"}
		d.StepDown = self.Serving
		return d
	}
	win := cands[0]
	d := Decision{Coordinator: win.Name, Epoch: highest + 1}
	if win.Name != self.Name {
		d.StepDown = self.Serving
		d.Reason = fmt.Sprintf("%s ranks first among %d candidates; waiting for it to take over", win.Name, len(cands))
		return d
	}
	if self.Serving && self.Epoch == highest {
		// Self still serves the newest epoch, and a lower view of its
		// own announcement (not yet gossiped back) should not bump it.
		return Decision{Coordinator: self.Name, Epoch: self.Epoch, Reason: "this member serves the newest epoch"}
	}
	if v.Now.Before(v.SettleUntil) && len(cands) > 1 {
		d.RecheckAt = v.SettleUntil
		d.Reason = fmt.Sprintf("ranks first among %d candidates; waiting for membership to settle", len(cands))
		return d
	}
	d.TakeOver = true
	d.Reason = fmt.Sprintf("ranks first among %d candidates; taking over with epoch %d", len(cands), d.Epoch)
	return d
}

// serving is the member that currently holds the coordinator role: the
// alive, eligible member announcing the highest epoch, if that epoch is
// not below floor.
func serving(ms []Member, floor uint64) (Member, bool) {
	var best Member
	found := false
	for _, m := range ms {
		if !m.Alive || !m.Eligible || !m.Serving || m.Epoch < floor {
			continue
		}
		if !found || m.Epoch > best.Epoch || (m.Epoch == best.Epoch && m.Name < best.Name) {
			best, found = m, true
		}
	}
	return best, found
}

// candidates are the alive eligible members, best first.
func candidates(ms []Member) []Member {
	var out []Member
	for _, m := range ms {
		if m.Alive && m.Eligible {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, Rank)
	return out
}

// Rank orders candidates best first: newest epoch, then newest revision,
// then highest priority, then name.
func Rank(a, b Member) int {
	if c := cmp.Compare(b.Epoch, a.Epoch); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Revision, a.Revision); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
		return c
	}
	return cmp.Compare(a.Name, b.Name)
}

func find(ms []Member, name string) (Member, bool) {
	for _, m := range ms {
		if m.Name == name {
			return m, true
		}
	}
	return Member{}, false
}
