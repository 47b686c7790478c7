package main

import (
	"strings"
	"testing"
)

func TestApplyConfig(t *testing.T) {
	cmd := newRunCmd()
	fs := cmd.Flags()
	if err := fs.Parse([]string{"--node-name", "from-flag"}); err != nil {
		t.Fatal(err)
	}
	err := applyConfig(fs, "agent.yaml", []byte(`
data-dir: /srv/keel
node-name: from-file
coordinator: true
join: [10.0.0.1:6443, 10.0.0.2]
fast-gossip: false
`))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"data-dir": "/srv/keel", "node-name": "from-flag", "coordinator": "true",
		"join": "[10.0.0.1:6443,10.0.0.2]", "fast-gossip": "false",
	} {
		if got := fs.Lookup(name).Value.String(); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func TestApplyConfigErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"nope: 1", `unknown key "nope"`},
		{"coordinator: maybe", "coordinator"},
		{"join: {a: b}", "join"},
		{"data-dir:", "no value"},
		{"[1, 2]", "agent.yaml"},
		{"config: other.yaml", `unknown key "config"`},
	} {
		fs := newRunCmd().Flags()
		err := applyConfig(fs, "agent.yaml", []byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "agent.yaml") {
			t.Errorf("%q: %v; want an error naming the file and %q", tc.yaml, err, tc.want)
		}
	}
}

func FuzzApplyConfig(f *testing.F) {
	f.Add([]byte("data-dir: /x\njoin: [a, b]\ncoordinator: true\n"))
	f.Add([]byte("join: [[1]]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fs := newRunCmd().Flags()
		_ = applyConfig(fs, "fuzz.yaml", data)
	})
}

func TestPlaceDefaults(t *testing.T) {
	std := &runOptions{dataDir: "/var/lib/keel", nodeName: "n1"}
	std.placeDefaults("/var/lib/keel", "/run/keel/agent.sock")
	if std.runDir != "/run/keel" || std.socket != "/run/keel/agent.sock" || std.cniConfDir != "/etc/cni/net.d" || std.cgroupRoot != "keel" {
		t.Errorf("the standard agent: %+v", std)
	}
	single := &runOptions{dataDir: "/srv/a", nodeName: "n1", singleNode: true}
	single.placeDefaults("/var/lib/keel", "/run/keel/agent.sock")
	if single.socket != "/run/keel/agent.sock" || single.cgroupRoot != "keel" {
		t.Errorf("a single-node agent: %+v", single)
	}
	own := &runOptions{dataDir: "/srv/a", nodeName: "n2", cgroupRoot: "mine"}
	own.placeDefaults("/var/lib/keel", "/run/keel/agent.sock")
	if own.runDir != "/run/keel/n2" || own.socket != "/run/keel/n2/agent.sock" || own.cniConfDir != "/srv/a/cni/net.d" || own.cgroupRoot != "mine" {
		t.Errorf("a second agent: %+v", own)
	}
}
