package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodHostsFile(t *testing.T) {
	pod := func(mutate func(*corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "shop"}}
		mutate(p)
		return p
	}
	tests := []struct {
		name     string
		pod      *corev1.Pod
		contains []string
		absent   []string
	}{
		{"plain", pod(func(*corev1.Pod) {}), []string{"127.0.0.1\tlocalhost\n", "10.244.0.7\tweb-0\n"}, []string{"HostAliases"}},
		{"subdomain", pod(func(p *corev1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = "db", "cluster" }),
			[]string{"10.244.0.7\tdb.cluster.shop.svc.cluster.local\tdb\n"}, nil},
		{"aliases", pod(func(p *corev1.Pod) {
			p.Spec.HostAliases = []corev1.HostAlias{{IP: "192.0.2.9", Hostnames: []string{"a", "b"}}}
		}), []string{"# Entries added by HostAliases.\n192.0.2.9\ta\tb\n"}, nil},
		{"host network", pod(func(p *corev1.Pod) { p.Spec.HostNetwork = true }), []string{"node-entry"}, []string{"10.244.0.7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(podHostsFile(tt.pod, []string{"10.244.0.7"}, []byte("192.0.2.1 node-entry")))
			for _, c := range tt.contains {
				if !strings.Contains(got, c) {
					t.Errorf("missing %q in\n%s", c, got)
				}
			}
			for _, c := range tt.absent {
				if strings.Contains(got, c) {
					t.Errorf("unexpected %q in\n%s", c, got)
				}
			}
		})
	}
}

func TestEtcMounts_skipsWhatTheContainerMounts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etc")
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"}}
	ms, err := etcMounts(dir, p, []string{"10.244.0.2"}, []Mount{{Destination: "/etc/hosts"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].Destination != "/etc/hostname" {
		t.Fatalf("mounts %+v", ms)
	}
	if data, _ := os.ReadFile(ms[0].Source); string(data) != "web\n" {
		t.Fatalf("hostname file %q", data)
	}
}
