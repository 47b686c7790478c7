package main

import (
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestGet_overSocket(t *testing.T) {
	_, sock := startFakeAPI(t)
	env := map[string]string{"KEEL_SOCKET": sock}
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, out string)
	}{
		{
			name: "table",
			args: []string{"get", "ns"},
			check: func(t *testing.T, out string) {
				for _, want := range []string{"NAME", "default", "kube-system"} {
					if !strings.Contains(out, want) {
						t.Errorf("output lacks %q:\n%s", want, out)
					}
				}
			},
		},
		{
			name: "json",
			args: []string{"get", "ns", "-o", "json"},
			check: func(t *testing.T, out string) {
				var list corev1.NamespaceList
				if err := json.Unmarshal([]byte(out), &list); err != nil {
					t.Fatalf("not JSON: %v\n%s", err, out)
				}
				if len(list.Items) != 2 || list.Items[0].Name != "default" {
					t.Errorf("items = %+v", list.Items)
				}
			},
		},
		{
			name: "name output",
			args: []string{"get", "namespaces", "-o", "name"},
			check: func(t *testing.T, out string) {
				if out != "namespace/default\nnamespace/kube-system\n" {
					t.Errorf("output = %q", out)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, err := runAgentctl(t, env, "", tt.args...)
			if err != nil {
				t.Fatalf("agentctl %v: %v\n%s", tt.args, err, stderr)
			}
			tt.check(t, out)
		})
	}
}

func TestGet_helpSaysAgentctl(t *testing.T) {
	out, _, err := runAgentctl(t, nil, "", "get", "--help")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "agentctl get pods -o wide") {
		t.Errorf("help does not show agentctl examples:\n%s", out)
	}
	if strings.Contains(out, "kubectl get") || strings.Contains(out, "kubectl api-resources") {
		t.Errorf("help still says kubectl:\n%s", out)
	}
}

func TestGet_noTransportIsClear(t *testing.T) {
	missing := t.TempDir() + "/agent.sock"
	_, _, err := runAgentctl(t, map[string]string{"KEEL_SOCKET": missing}, "", "get", "ns")
	if err == nil || !strings.Contains(err.Error(), "agent socket "+missing+" does not exist") {
		t.Fatalf("err = %v", err)
	}
}

func TestRenameKubectl_keepsOtherNames(t *testing.T) {
	tests := []struct{ in, want string }{
		{"kubectl get pods", "agentctl get pods"},
		{"  kubectl apply -f x\n  cat x | kubectl apply -f -", "  agentctl apply -f x\n  cat x | agentctl apply -f -"},
		{"kubectl.kubernetes.io/last-applied-configuration", "kubectl.kubernetes.io/last-applied-configuration"},
		{"kubectl-client-side-apply", "kubectl-client-side-apply"},
		{"mykubectl", "mykubectl"},
		{"run 'kubectl'", "run 'agentctl'"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := renameKubectl(tt.in); got != tt.want {
			t.Errorf("renameKubectl(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestGet_overSSH(t *testing.T) {
	installFakeSSH(t)
	_, sock := startFakeAPI(t)
	out, stderr, err := runAgentctl(t, nil, "", "--ssh", "root@node1:2222", "--remote-socket", sock, "get", "ns")
	if err != nil {
		t.Fatalf("get over ssh: %v\n%s", err, stderr)
	}
	if !strings.Contains(out, "default") || !strings.Contains(out, "kube-system") {
		t.Errorf("output:\n%s", out)
	}
}
