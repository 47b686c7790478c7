package agent

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// clusterDomain is the DNS domain of services and pods.
const clusterDomain = "cluster.local"

// podHostname is the hostname a pod's containers see: spec.hostname, else
// the pod's name.
func podHostname(pod *corev1.Pod) string {
	if pod.Spec.Hostname != "" {
		return pod.Spec.Hostname
	}
	return pod.Name
}

// podHostsFile is the /etc/hosts a pod's containers see, as the kubelet
// writes it: loopback names, the pod's own address and name (with its
// subdomain's FQDN), then spec.hostAliases. Host-network pods see the
// node's own file instead.
func podHostsFile(pod *corev1.Pod, podIPs []string, nodeHosts []byte) []byte {
	var b bytes.Buffer
	b.WriteString("# Kubernetes-managed hosts file")
	if pod.Spec.HostNetwork {
		b.WriteString(" (host network).\n")
		b.Write(nodeHosts)
		if len(nodeHosts) > 0 && nodeHosts[len(nodeHosts)-1] != '\n' {
			b.WriteByte('\n')
		}
	} else {
		b.WriteString(".\n")
		b.WriteString("127.0.0.1\tlocalhost\n")
		b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
		b.WriteString("fe00::0\tip6-localnet\n")
		b.WriteString("fe00::0\tip6-mcastprefix\n")
		b.WriteString("fe00::1\tip6-allnodes\n")
		b.WriteString("fe00::2\tip6-allrouters\n")
		name := podHostname(pod)
		for _, ip := range podIPs {
			if pod.Spec.Subdomain != "" {
				fmt.Fprintf(&b, "%s\t%s.%s.%s.svc.%s\t%s\n", ip, name, pod.Spec.Subdomain, pod.Namespace, clusterDomain, name)
			} else {
				fmt.Fprintf(&b, "%s\t%s\n", ip, name)
			}
		}
	}
	if len(pod.Spec.HostAliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, a := range pod.Spec.HostAliases {
			fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
		}
	}
	return b.Bytes()
}

// etcMounts writes the pod's /etc/hosts and /etc/hostname under dir and
// returns the bind mounts that put them in a container, skipping any the
// container mounts itself.
func etcMounts(dir string, pod *corev1.Pod, podIPs []string, own []Mount) ([]Mount, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("pod etc directory: %w", err)
	}
	nodeHosts, _ := os.ReadFile("/etc/hosts")
	files := map[string][]byte{
		"/etc/hosts":    podHostsFile(pod, podIPs, nodeHosts),
		"/etc/hostname": []byte(podHostname(pod) + "\n"),
	}
	var out []Mount
	for _, dst := range []string{"/etc/hosts", "/etc/hostname"} {
		taken := false
		for _, m := range own {
			taken = taken || m.Destination == dst
		}
		if taken {
			continue
		}
		src := filepath.Join(dir, filepath.Base(dst))
		if err := writeFileAtomic(src, files[dst], 0o644); err != nil {
			return nil, err
		}
		out = append(out, Mount{Source: src, Destination: dst, Type: "bind"})
	}
	return out, nil
}

// writeFileAtomic replaces path with data through a temporary file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
