package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/keel-edge/keel/agent/clusterdns"
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
			got := string(podHostsFile(tt.pod, []string{"10.244.0.7"}, "cluster.local", []byte("192.0.2.1 node-entry")))
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
	files := podEtcFiles(p, []string{"10.244.0.2"}, "cluster.local", clusterdns.ResolvConf{Nameservers: []string{"169.254.20.10"}}, nil)
	ms, err := etcMounts(dir, files, []Mount{{Destination: "/etc/hosts"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Destination != "/etc/hostname" || ms[1].Destination != "/etc/resolv.conf" {
		t.Fatalf("mounts %+v", ms)
	}
	if data, _ := os.ReadFile(ms[0].Source); string(data) != "web\n" {
		t.Fatalf("hostname file %q", data)
	}
	if data, _ := os.ReadFile(ms[1].Source); string(data) != "nameserver 169.254.20.10\n" {
		t.Fatalf("resolv.conf %q", data)
	}
}

func TestPodResolvConf(t *testing.T) {
	node := clusterdns.ResolvConf{Nameservers: []string{"192.0.2.53", "192.0.2.54"}, Searches: []string{"corp.example"}, Options: []string{"edns0", "ndots:1"}}
	d := podDNS{ClusterDNS: []string{"169.254.20.10"}, Domain: "cluster.local", Node: node}
	pod := func(mutate func(*corev1.PodSpec)) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"}}
		mutate(&p.Spec)
		return p
	}
	withKubeDNS := d
	withKubeDNS.ClusterDNS = []string{"169.254.20.10", "10.96.0.10"}
	clusterFirst := clusterdns.ResolvConf{Nameservers: []string{"169.254.20.10"},
		Searches: []string{"shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"}, Options: []string{"ndots:5"}}
	long := func(n, size int) []string {
		var out []string
		for i := 0; i < n; i++ {
			out = append(out, fmt.Sprintf("%0*d.example", size-8, i))
		}
		return out
	}
	tests := []struct {
		name  string
		pod   *corev1.Pod
		d     podDNS
		want  clusterdns.ResolvConf
		warns []string
	}{
		{name: "ClusterFirst by default", pod: pod(func(*corev1.PodSpec) {}), d: d, want: clusterFirst},
		{name: "ClusterFirst", pod: pod(func(s *corev1.PodSpec) { s.DNSPolicy = corev1.DNSClusterFirst }), d: d, want: clusterFirst},
		{name: "host network with ClusterFirst gets Default", pod: pod(func(s *corev1.PodSpec) { s.HostNetwork = true }), d: d, want: node},
		{name: "ClusterFirstWithHostNet", pod: pod(func(s *corev1.PodSpec) {
			s.HostNetwork, s.DNSPolicy = true, corev1.DNSClusterFirstWithHostNet
		}), d: d, want: clusterFirst},
		{name: "Default", pod: pod(func(s *corev1.PodSpec) { s.DNSPolicy = corev1.DNSDefault }), d: d, want: node},
		{name: "None with dnsConfig", pod: pod(func(s *corev1.PodSpec) {
			s.DNSPolicy = corev1.DNSNone
			s.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"1.2.3.4"}, Searches: []string{"a.example"},
				Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptrTo("2")}, {Name: "edns0"}}}
		}), d: d, want: clusterdns.ResolvConf{Nameservers: []string{"1.2.3.4"}, Searches: []string{"a.example"}, Options: []string{"ndots:2", "edns0"}}},
		{name: "None alone is empty", pod: pod(func(s *corev1.PodSpec) { s.DNSPolicy = corev1.DNSNone }), d: d, want: clusterdns.ResolvConf{}},
		{name: "dnsConfig merged into ClusterFirst", pod: pod(func(s *corev1.PodSpec) {
			s.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"169.254.20.10", "10.0.0.9"}, Searches: []string{"cluster.local", "extra.example"},
				Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptrTo("3")}, {Name: "timeout", Value: ptrTo("1")}}}
		}), d: d, want: clusterdns.ResolvConf{Nameservers: []string{"169.254.20.10", "10.0.0.9"},
			Searches: []string{"shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example", "extra.example"},
			Options:  []string{"ndots:3", "timeout:1"}}},
		{name: "other cluster domain", pod: pod(func(*corev1.PodSpec) {}), d: podDNS{ClusterDNS: []string{"10.0.0.10"}, Domain: "edge.example"},
			want: clusterdns.ResolvConf{Nameservers: []string{"10.0.0.10"}, Searches: []string{"shop.svc.edge.example", "svc.edge.example", "edge.example"}, Options: []string{"ndots:5"}}},
		{name: "no cluster DNS falls back to Default", pod: pod(func(*corev1.PodSpec) {}), d: podDNS{Domain: "cluster.local", Node: node}, want: node,
			warns: []string{"MissingClusterDNS"}},
		{name: "over three nameservers", pod: pod(func(s *corev1.PodSpec) {
			s.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}}
		}), d: d, want: clusterdns.ResolvConf{Nameservers: []string{"169.254.20.10", "10.0.0.1", "10.0.0.2"}, Searches: clusterFirst.Searches, Options: clusterFirst.Options},
			warns: []string{"DNSConfigForming: Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: 169.254.20.10 10.0.0.1 10.0.0.2"}},
		{name: "the node's DNS, then the kube-dns service's", pod: pod(func(*corev1.PodSpec) {}), d: withKubeDNS,
			want: clusterdns.ResolvConf{Nameservers: []string{"169.254.20.10", "10.96.0.10"}, Searches: clusterFirst.Searches, Options: clusterFirst.Options}},
		{name: "both cluster servers stay first within the limit", pod: pod(func(s *corev1.PodSpec) {
			s.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"10.96.0.10", "10.0.0.1", "10.0.0.2"}}
		}), d: withKubeDNS, want: clusterdns.ResolvConf{Nameservers: []string{"169.254.20.10", "10.96.0.10", "10.0.0.1"}, Searches: clusterFirst.Searches, Options: clusterFirst.Options},
			warns: []string{"DNSConfigForming: Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: 169.254.20.10 10.96.0.10 10.0.0.1"}},
		{name: "Default ignores the cluster servers", pod: pod(func(s *corev1.PodSpec) { s.DNSPolicy = corev1.DNSDefault }), d: withKubeDNS, want: node},
		{name: "over 32 search domains", pod: pod(func(s *corev1.PodSpec) {
			s.DNSPolicy = corev1.DNSNone
			s.DNSConfig = &corev1.PodDNSConfig{Searches: long(40, 12)}
		}), d: d, want: clusterdns.ResolvConf{Searches: long(32, 12)}, warns: []string{"DNSConfigForming: Search Line limits"}},
		{name: "over 2048 characters of search line", pod: pod(func(s *corev1.PodSpec) {
			s.DNSPolicy = corev1.DNSNone
			s.DNSConfig = &corev1.PodDNSConfig{Searches: long(20, 200)}
		}), d: d, want: clusterdns.ResolvConf{Searches: long(10, 200)}, warns: []string{"DNSConfigForming: Search Line limits"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warns := podResolvConf(tt.pod, tt.d)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			if len(warns) != len(tt.warns) {
				t.Fatalf("warnings %+v; want %q", warns, tt.warns)
			}
			for i, w := range warns {
				if !strings.HasPrefix(w.Reason+": "+w.Message, tt.warns[i]) && w.Reason != tt.warns[i] {
					t.Errorf("warning %+v; want %q", w, tt.warns[i])
				}
			}
		})
	}
}

func ptrTo[T any](v T) *T { return &v }
