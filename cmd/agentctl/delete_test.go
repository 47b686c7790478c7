package main

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDelete_byName(t *testing.T) {
	api, sock := startFakeAPI(t)
	api.configMaps["x"] = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "default"}}
	out, stderr, err := runAgentctl(t, map[string]string{"KEEL_SOCKET": sock}, "", "delete", "cm", "x", "--wait=false")
	if err != nil {
		t.Fatalf("delete: %v\n%s", err, stderr)
	}
	if strings.TrimSpace(out) != `configmap "x" deleted` {
		t.Errorf("output = %q", out)
	}
	if _, ok := api.configMaps["x"]; ok {
		t.Errorf("configmap still on the server")
	}
}

func TestDelete_notFoundIsKubectlsError(t *testing.T) {
	_, sock := startFakeAPI(t)
	_, _, err := runAgentctl(t, map[string]string{"KEEL_SOCKET": sock}, "", "delete", "cm", "nope")
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("err = %v, want kubectl's not found", err)
	}
}
