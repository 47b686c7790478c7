package agent

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/keel-edge/keel/agent/clusterdns"
)

// DefaultClusterDomain is the DNS domain of services and pods unless the
// node is told otherwise.
const DefaultClusterDomain = "cluster.local"

// Limits of a pod's resolv.conf, the kubelet's (and the C library's).
const (
	maxDNSNameservers  = 3
	maxDNSSearches     = 32
	maxDNSSearchChars  = 2048
	defaultNdotsOption = "ndots:5"
)

// podDNS is what the node knows for pods' resolver configuration.
type podDNS struct {
	// ClusterDNS are the cluster DNS servers' addresses.
	ClusterDNS []string
	// Domain is the cluster domain.
	Domain string
	// Node is the node's own resolver configuration.
	Node clusterdns.ResolvConf
}

// dnsWarning is an event for a pod whose resolver configuration was
// adjusted.
type dnsWarning struct{ Reason, Message string }

// podResolvConf is the /etc/resolv.conf of a pod's containers, formed as
// the kubelet forms it: dnsPolicy ClusterFirst (the default) points at
// the cluster DNS with the search path "<ns>.svc.<domain> svc.<domain>
// <domain>" then the node's, and ndots:5; a host-network pod with
// ClusterFirst gets the node's configuration (Default), unless its policy
// is ClusterFirstWithHostNet; None starts empty. spec.dnsConfig's
// nameservers and searches are then appended (without duplicates) and its
// options override by name. Over the limits (3 nameservers, 32 search
// domains, 2048 characters of search line) the excess is dropped with a
// warning.
func podResolvConf(pod *corev1.Pod, d podDNS) (clusterdns.ResolvConf, []dnsWarning) {
	var warns []dnsWarning
	policy := pod.Spec.DNSPolicy
	if policy == "" {
		policy = corev1.DNSClusterFirst
	}
	if policy == corev1.DNSClusterFirst && pod.Spec.HostNetwork {
		policy = corev1.DNSDefault
	}
	if (policy == corev1.DNSClusterFirst || policy == corev1.DNSClusterFirstWithHostNet) && len(d.ClusterDNS) == 0 {
		warns = append(warns, dnsWarning{"MissingClusterDNS", fmt.Sprintf(
			"pod: %q. the node has no cluster DNS configured and cannot create the pod with %q policy; falling back to %q policy",
			pod.Namespace+"/"+pod.Name, policy, corev1.DNSDefault)})
		policy = corev1.DNSDefault
	}
	var rc clusterdns.ResolvConf
	switch policy {
	case corev1.DNSClusterFirst, corev1.DNSClusterFirstWithHostNet:
		rc.Nameservers = append(rc.Nameservers, d.ClusterDNS...)
		rc.Searches = append([]string{pod.Namespace + ".svc." + d.Domain, "svc." + d.Domain, d.Domain}, d.Node.Searches...)
		rc.Options = []string{defaultNdotsOption}
	case corev1.DNSDefault:
		rc.Nameservers = append(rc.Nameservers, d.Node.Nameservers...)
		rc.Searches = append(rc.Searches, d.Node.Searches...)
		rc.Options = append(rc.Options, d.Node.Options...)
	}
	if c := pod.Spec.DNSConfig; c != nil {
		rc.Nameservers = append(rc.Nameservers, c.Nameservers...)
		rc.Searches = append(rc.Searches, c.Searches...)
		rc.Options = mergeDNSOptions(rc.Options, c.Options)
	}
	rc.Nameservers = withoutDuplicates(rc.Nameservers)
	rc.Searches = withoutDuplicates(rc.Searches)
	if len(rc.Nameservers) > maxDNSNameservers {
		rc.Nameservers = rc.Nameservers[:maxDNSNameservers]
		warns = append(warns, dnsWarning{"DNSConfigForming", "Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: " +
			strings.Join(rc.Nameservers, " ")})
	}
	cut := false
	if len(rc.Searches) > maxDNSSearches {
		rc.Searches, cut = rc.Searches[:maxDNSSearches], true
	}
	for len(rc.Searches) > 0 && len(strings.Join(rc.Searches, " ")) > maxDNSSearchChars {
		rc.Searches, cut = rc.Searches[:len(rc.Searches)-1], true
	}
	if cut {
		warns = append(warns, dnsWarning{"DNSConfigForming", "Search Line limits were exceeded, some search paths have been omitted, the applied search line is: " +
			strings.Join(rc.Searches, " ")})
	}
	return rc, warns
}

// mergeDNSOptions overrides options by name ("ndots" in "ndots:5") with
// pod's, keeping the first one's order and appending new names.
func mergeDNSOptions(have []string, pod []corev1.PodDNSConfigOption) []string {
	var names []string
	vals := map[string]string{}
	put := func(name, opt string) {
		if _, ok := vals[name]; !ok {
			names = append(names, name)
		}
		vals[name] = opt
	}
	for _, o := range have {
		name, _, _ := strings.Cut(o, ":")
		put(name, o)
	}
	for _, o := range pod {
		opt := o.Name
		if o.Value != nil {
			opt += ":" + *o.Value
		}
		put(o.Name, opt)
	}
	var out []string
	for _, n := range names {
		out = append(out, vals[n])
	}
	return out
}

func withoutDuplicates(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

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
func podHostsFile(pod *corev1.Pod, podIPs []string, domain string, nodeHosts []byte) []byte {
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
				fmt.Fprintf(&b, "%s\t%s.%s.%s.svc.%s\t%s\n", ip, name, pod.Spec.Subdomain, pod.Namespace, domain, name)
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

// etcFiles are the contents of the files a pod's containers see in
// /etc, by path.
type etcFiles map[string][]byte

// podEtcFiles are the pod's /etc/hosts, /etc/hostname and
// /etc/resolv.conf.
func podEtcFiles(pod *corev1.Pod, podIPs []string, domain string, resolv clusterdns.ResolvConf, nodeHosts []byte) etcFiles {
	return etcFiles{
		"/etc/hosts":       podHostsFile(pod, podIPs, domain, nodeHosts),
		"/etc/hostname":    []byte(podHostname(pod) + "\n"),
		"/etc/resolv.conf": resolv.Format(),
	}
}

// etcMounts writes files under dir and returns the bind mounts that put
// them in a container, skipping any the container mounts itself.
func etcMounts(dir string, files etcFiles, own []Mount) ([]Mount, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("pod etc directory: %w", err)
	}
	var out []Mount
	for _, dst := range []string{"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"} {
		if _, ok := files[dst]; !ok {
			continue
		}
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
