package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testConfigMap = `apiVersion: v1
kind: ConfigMap
metadata:
  name: x
data:
  k: v
`

func TestApply_createsFromFile(t *testing.T) {
	api, sock := startFakeAPI(t)
	// kubectl reads "-f -" from the process's stdin, so use a file.
	file := filepath.Join(t.TempDir(), "cm.yaml")
	if err := os.WriteFile(file, []byte(testConfigMap), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runAgentctl(t, map[string]string{"KEEL_SOCKET": sock}, "", "apply", "--validate=false", "-f", file)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, stderr)
	}
	if strings.TrimSpace(out) != "configmap/x created" {
		t.Errorf("output = %q", out)
	}
	api.mu.Lock()
	defer api.mu.Unlock()
	cm, ok := api.configMaps["x"]
	if !ok || cm.Data["k"] != "v" {
		t.Fatalf("server has %+v", api.configMaps)
	}
	if _, ok := cm.Annotations["kubectl.kubernetes.io/last-applied-configuration"]; !ok {
		t.Errorf("apply did not record the last applied configuration: %v", cm.Annotations)
	}
}

func TestApply_helpSaysAgentctl(t *testing.T) {
	out, _, err := runAgentctl(t, nil, "", "apply", "--help")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "agentctl apply -f ./pod.json") || strings.Contains(out, "kubectl apply") {
		t.Errorf("help:\n%s", out)
	}
}
