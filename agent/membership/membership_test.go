package membership

import (
	"bytes"
	"io"
	"log/slog"
	"reflect"
	"testing"
	"time"
)

func TestTagsRoundTrip(t *testing.T) {
	for _, tags := range []Tags{
		{},
		{API: "10.0.0.1:6443", PodCIDR: "10.244.1.0/24"},
		{Eligible: true, API: "[fd00::1]:6443", Epoch: 7, Serving: true, Revision: 12345, Priority: -2},
	} {
		got, err := DecodeTags(tags.Encode())
		if err != nil {
			t.Fatalf("decode %+v: %v", tags, err)
		}
		if got != tags {
			t.Errorf("round trip: got %+v, want %+v", got, tags)
		}
	}
}

func TestDecodeTagsErrors(t *testing.T) {
	for _, tc := range []struct {
		tags map[string]string
		want string
	}{
		{map[string]string{"role": "boss"}, `tag role: "boss"`},
		{map[string]string{"api": "nohost"}, "tag api"},
		{map[string]string{"podcidr": "10.0.0.0/99"}, "tag podcidr"},
		{map[string]string{"epoch": "-1"}, "tag epoch"},
		{map[string]string{"rev": "x"}, "tag rev"},
		{map[string]string{"serving": "yes"}, "tag serving"},
		{map[string]string{"serving": "1", "epoch": "3"}, "only a coordinator candidate"},
		{map[string]string{"role": "coordinator", "serving": "1"}, "only a coordinator candidate"},
	} {
		_, err := DecodeTags(tc.tags)
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
			t.Errorf("DecodeTags(%v) = %v; want an error containing %q", tc.tags, err, tc.want)
		}
	}
}

func FuzzDecodeTags(f *testing.F) {
	f.Add("coordinator", "10.0.0.1:6443", "10.244.0.0/24", "3", "1", "99", "0")
	f.Add("worker", "", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, role, api, cidr, epoch, serving, rev, prio string) {
		in := map[string]string{"role": role, "api": api, "podcidr": cidr, "epoch": epoch, "serving": serving, "rev": rev, "prio": prio}
		tags, err := DecodeTags(in)
		if err != nil {
			return
		}
		again, err := DecodeTags(tags.Encode())
		if err != nil || again != tags {
			t.Fatalf("re-decoding %+v: %+v, %v", tags, again, err)
		}
	})
}

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func startMember(t *testing.T, name string, key []byte, tags Tags) *Membership {
	t.Helper()
	m, err := Start(Config{NodeName: name, Bind: "127.0.0.1:0", Key: key, Tags: tags, Fast: true,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown() })
	return m
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func statuses(m *Membership) map[string]Status {
	out := map[string]Status{}
	for _, mb := range m.Members() {
		out[mb.Name] = mb.Status
	}
	return out
}

func TestMembership(t *testing.T) {
	key := testKey(1)
	a := startMember(t, "a", key, Tags{Eligible: true, API: "127.0.0.1:6443"})
	b := startMember(t, "b", key, Tags{})
	c := startMember(t, "c", key, Tags{})
	changed := a.Subscribe()
	for _, m := range []*Membership{b, c} {
		if _, err := m.Join([]string{a.Local().Addr.String()}); err != nil {
			t.Fatal(err)
		}
	}
	all := map[string]Status{"a": Alive, "b": Alive, "c": Alive}
	waitFor(t, "three alive members", func() bool { return reflect.DeepEqual(statuses(c), all) })

	// Tags travel.
	if err := a.SetTags(Tags{Eligible: true, API: "127.0.0.1:6443", Epoch: 1, Serving: true}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a's new tags at c", func() bool {
		for _, mb := range c.Members() {
			if mb.Name == "a" && mb.Tags.Serving && mb.Tags.Epoch == 1 {
				return true
			}
		}
		return false
	})

	// A member that stops without leaving is declared failed; one that
	// leaves is declared left.
	b.Shutdown()
	waitFor(t, "b failed", func() bool { return statuses(a)["b"] == Failed })
	if err := c.Leave(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "c left", func() bool { return statuses(a)["c"] == Left })
	select {
	case <-changed:
	default:
		t.Error("no change notification")
	}
}

func TestMembershipWrongKey(t *testing.T) {
	a := startMember(t, "a", testKey(1), Tags{})
	x := startMember(t, "x", testKey(2), Tags{})
	if _, err := x.Join([]string{a.Local().Addr.String()}); err == nil {
		t.Fatal("a member with another key joined")
	}
	if got := statuses(a); len(got) != 1 {
		t.Fatalf("a sees %v", got)
	}
}

func TestStartErrors(t *testing.T) {
	if _, err := Start(Config{NodeName: "a", Bind: "127.0.0.1:0", Key: []byte("short")}); err == nil {
		t.Error("short key accepted")
	}
	if _, err := Start(Config{Bind: "127.0.0.1:0", Key: testKey(1)}); err == nil {
		t.Error("no node name accepted")
	}
	if _, err := Start(Config{NodeName: "a", Bind: "127.0.0.1", Key: testKey(1)}); err == nil {
		t.Error("bind without port accepted")
	}
}
