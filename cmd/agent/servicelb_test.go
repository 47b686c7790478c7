package main

import "testing"

func TestServiceLBOptions_placeDefaults(t *testing.T) {
	tests := []struct {
		parent         string
		given          serviceLBOptions
		pinDir, cgroup string
	}{
		{"keel", serviceLBOptions{}, "/sys/fs/bpf/keel", "/"},
		{"keel-n2", serviceLBOptions{}, "/sys/fs/bpf/keel-n2", "/keel-n2"},
		{"keel", serviceLBOptions{pinDir: "/mnt/bpf/x", cgroup: "/pods"}, "/mnt/bpf/x", "/pods"},
	}
	for _, tc := range tests {
		s := tc.given
		s.placeDefaults(tc.parent)
		if s.pinDir != tc.pinDir || s.cgroup != tc.cgroup {
			t.Errorf("parent %q, given %+v: pins %q, cgroup %q; want %q, %q", tc.parent, tc.given, s.pinDir, s.cgroup, tc.pinDir, tc.cgroup)
		}
	}
}
