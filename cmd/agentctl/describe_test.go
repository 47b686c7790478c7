package main

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"strings"
	"testing"
)

func TestDescribe_overSocket(t *testing.T) {
	api, sock := startFakeAPI(t)
	api.configMaps["x"] = &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "default", Labels: map[string]string{"app": "web"}},
		Data:       map[string]string{"greeting": "hello"},
	}
	out, stderr, err := runAgentctl(t, map[string]string{"KEEL_SOCKET": sock}, "", "describe", "configmap", "x")
	if err != nil {
		t.Fatalf("describe: %v\n%s", err, stderr)
	}
	for _, want := range []string{"Name:", "x", "Namespace:", "default", "app=web", "greeting", "hello"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe output lacks %q:\n%s", want, out)
		}
	}
}

func TestDescribe_helpSaysAgentctl(t *testing.T) {
	out, _, err := runAgentctl(t, nil, "", "describe", "--help")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "agentctl describe") || strings.Contains(out, "kubectl describe") {
		t.Errorf("help:\n%s", out)
	}
}
