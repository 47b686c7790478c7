package election

import (
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := func(name string, epoch uint64, rev int64, opts ...func(*Member)) Member {
		mb := Member{Name: name, Alive: true, Eligible: true, Epoch: epoch, Revision: rev}
		for _, o := range opts {
			o(&mb)
		}
		return mb
	}
	dead := func(m *Member) { m.Alive = false }
	worker := func(m *Member) { m.Eligible = false }
	serves := func(m *Member) { m.Serving = true }
	prio := func(p int) func(*Member) { return func(m *Member) { m.Priority = p } }

	tests := []struct {
		name string
		view View
		want Decision
	}{
		{
			name: "alone: takes over with epoch 1",
			view: View{Self: "a", Members: []Member{m("a", 0, 0)}, Now: t0, SettleUntil: t0.Add(time.Second)},
			want: Decision{Coordinator: "a", Epoch: 1, TakeOver: true},
		},
		{
			name: "alone after a restart: a new epoch above the persisted one",
			view: View{Self: "a", Members: []Member{m("a", 4, 90)}, HighestEpoch: 5, Now: t0},
			want: Decision{Coordinator: "a", Epoch: 6, TakeOver: true},
		},
		{
			name: "serving the newest epoch: keeps serving, no new epoch",
			view: View{Self: "a", Members: []Member{m("a", 3, 10, serves), m("b", 3, 10)}, HighestEpoch: 3, Now: t0},
			want: Decision{Coordinator: "a", Epoch: 3},
		},
		{
			name: "a live coordinator is kept even when another ranks higher",
			view: View{Self: "b", Members: []Member{m("a", 3, 10, serves), m("b", 3, 50, prio(9))}, HighestEpoch: 3, Now: t0},
			want: Decision{Coordinator: "a", Epoch: 3},
		},
		{
			name: "the coordinator died: the most complete store wins",
			view: View{Self: "b", Members: []Member{m("a", 3, 100, serves, dead), m("b", 3, 90), m("c", 3, 80)}, HighestEpoch: 3, Now: t0},
			want: Decision{Coordinator: "b", Epoch: 4, TakeOver: true},
		},
		{
			name: "the coordinator died: a lesser candidate waits for the winner",
			view: View{Self: "c", Members: []Member{m("a", 3, 100, serves, dead), m("b", 3, 90), m("c", 3, 80)}, HighestEpoch: 3, Now: t0},
			want: Decision{Coordinator: "b", Epoch: 4},
		},
		{
			name: "epoch ranks before revision",
			view: View{Self: "b", Members: []Member{m("a", 2, 500), m("b", 3, 10)}, Now: t0},
			want: Decision{Coordinator: "b", Epoch: 4, TakeOver: true},
		},
		{
			name: "priority breaks a tie of epoch and revision",
			view: View{Self: "b", Members: []Member{m("a", 1, 5), m("b", 1, 5, prio(1))}, Now: t0},
			want: Decision{Coordinator: "b", Epoch: 2, TakeOver: true},
		},
		{
			name: "name breaks a full tie",
			view: View{Self: "b", Members: []Member{m("a", 1, 5), m("b", 1, 5)}, Now: t0},
			want: Decision{Coordinator: "a", Epoch: 2},
		},
		{
			name: "workers are never candidates",
			view: View{Self: "w", Members: []Member{m("a", 1, 5, dead), m("w", 9, 99, worker)}, Now: t0},
			want: Decision{},
		},
		{
			name: "a fenced coordinator (epoch below the highest seen) is ignored",
			view: View{Self: "b", Members: []Member{m("a", 2, 100, serves), m("b", 3, 50)}, HighestEpoch: 3, Now: t0},
			want: Decision{Coordinator: "b", Epoch: 4, TakeOver: true},
		},
		{
			name: "two announce serving: the higher epoch stays, the other steps down",
			view: View{Self: "a", Members: []Member{m("a", 2, 100, serves), m("b", 3, 50, serves)}, HighestEpoch: 2, Now: t0},
			want: Decision{Coordinator: "b", Epoch: 3, StepDown: true},
		},
		{
			name: "while settling, a winner among several waits",
			view: View{Self: "a", Members: []Member{m("a", 1, 5), m("b", 1, 4)}, Now: t0, SettleUntil: t0.Add(2 * time.Second)},
			want: Decision{Coordinator: "a", Epoch: 2, RecheckAt: t0.Add(2 * time.Second)},
		},
		{
			name: "after settling, it takes over",
			view: View{Self: "a", Members: []Member{m("a", 1, 5), m("b", 1, 4)}, Now: t0.Add(3 * time.Second), SettleUntil: t0.Add(2 * time.Second)},
			want: Decision{Coordinator: "a", Epoch: 2, TakeOver: true},
		},
		{
			name: "a serving member that is no longer eligible-alive elsewhere steps down when outranked",
			view: View{Self: "a", Members: []Member{m("a", 1, 5, serves), m("b", 1, 9)}, HighestEpoch: 2, Now: t0},
			want: Decision{Coordinator: "b", Epoch: 3, StepDown: true},
		},
		{
			name: "self missing from the view: no decision",
			view: View{Self: "x", Members: []Member{m("a", 1, 5)}, Now: t0},
			want: Decision{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Decide(tt.view)
			if got.Reason == "" {
				t.Errorf("no reason given")
			}
			got.Reason = ""
			if got != tt.want {
				t.Errorf("Decide:\n got  %+v\n want %+v", got, tt.want)
			}
		})
	}
}

// TestDecideAgrees checks that every member, deciding from the same view,
// names the same coordinator and that exactly one of them acts.
func TestDecideAgrees(t *testing.T) {
	members := []Member{
		{Name: "a", Alive: true, Eligible: true, Epoch: 7, Revision: 10},
		{Name: "b", Alive: true, Eligible: true, Epoch: 7, Revision: 12},
		{Name: "c", Alive: true, Eligible: true, Epoch: 6, Revision: 99},
		{Name: "d", Alive: true, Eligible: false, Epoch: 7, Revision: 50},
		{Name: "e", Alive: false, Eligible: true, Epoch: 7, Revision: 13, Serving: true},
	}
	takers, names := 0, map[string]bool{}
	for _, self := range members {
		if !self.Alive {
			continue
		}
		d := Decide(View{Self: self.Name, Members: members, HighestEpoch: 7})
		names[d.Coordinator] = true
		if d.TakeOver {
			takers++
			if self.Name != "b" || d.Epoch != 8 {
				t.Errorf("%s takes over with epoch %d; want b with 8", self.Name, d.Epoch)
			}
		}
	}
	if takers != 1 || len(names) != 1 || !names["b"] {
		t.Errorf("takers %d, named %v; want exactly b", takers, names)
	}
}
