package main

import (
	"strings"
	"testing"
)

func TestPodRoutingFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
		err  string
	}{
		{nil, "auto", ""},
		{[]string{"--pod-routing", "vxlan"}, "vxlan", ""},
		{[]string{"--pod-routing=direct"}, "direct", ""},
		{[]string{"--pod-routing", "geneve"}, "", "want auto, direct or vxlan"},
	} {
		fs := newRunCmd().Flags()
		err := fs.Parse(tc.args)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "pod-routing") {
				t.Errorf("%v: %v; want an error naming the flag and %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got := fs.Lookup("pod-routing").Value.String(); got != tc.want {
			t.Errorf("%v: pod-routing = %q, want %q", tc.args, got, tc.want)
		}
	}
	fs := newRunCmd().Flags()
	if err := applyConfig(fs, "agent.yaml", []byte("pod-routing: vxlan\n")); err != nil || fs.Lookup("pod-routing").Value.String() != "vxlan" {
		t.Errorf("from a config file: %v, %q", err, fs.Lookup("pod-routing").Value.String())
	}
}
