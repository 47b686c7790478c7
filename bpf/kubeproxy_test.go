package bpf

import (
	"bytes"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
)

// benchService is one service of the load-balancing benchmark: a cluster
// IP and port in front of backends, all TCP.
type benchService struct {
	name     string
	vip      netip.Addr
	port     uint16
	backends []netip.AddrPort
}

// kubeProxyChain names a per-service or per-endpoint chain the way
// kube-proxy's iptables mode does: a prefix and the first 16 characters of
// the base32 SHA-256 of what the chain stands for.
func kubeProxyChain(prefix, of string) string {
	sum := sha256.Sum256([]byte(of))
	return prefix + base32.StdEncoding.EncodeToString(sum[:])[:16]
}

// kubeProxyRuleset is the nat table kube-proxy's iptables mode installs
// for services: the service portals hooked into PREROUTING and OUTPUT, one
// KUBE-SERVICES rule per service port jumping to its KUBE-SVC chain, which
// picks an endpoint with a cascade of statistic matches, and one KUBE-SEP
// chain per endpoint doing the DNAT; the masquerade mark for traffic from
// outside the cluster CIDR and KUBE-POSTROUTING that applies it. The text
// is iptables-restore input that replaces the whole table, which is what
// kube-proxy's full sync writes.
func kubeProxyRuleset(svcs []benchService, clusterCIDR string) []byte {
	var chains, rules bytes.Buffer
	chains.WriteString("*nat\n")
	for _, c := range []string{"KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"} {
		fmt.Fprintf(&chains, ":%s - [0:0]\n", c)
	}
	rules.WriteString("-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n")
	rules.WriteString("-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n")
	rules.WriteString("-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING\n")
	rules.WriteString("-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000\n")
	rules.WriteString("-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN\n")
	rules.WriteString("-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000\n")
	rules.WriteString("-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully\n")
	for _, s := range svcs {
		portName := fmt.Sprintf("default/%s:http", s.name)
		svcChain := kubeProxyChain("KUBE-SVC-", portName+"tcp")
		fmt.Fprintf(&chains, ":%s - [0:0]\n", svcChain)
		fmt.Fprintf(&rules, "-A KUBE-SERVICES -m comment --comment \"%s cluster IP\" -m tcp -p tcp -d %s/32 --dport %d -j %s\n",
			portName, s.vip, s.port, svcChain)
		fmt.Fprintf(&rules, "-A %s -m comment --comment \"%s cluster IP\" -m tcp -p tcp -d %s/32 --dport %d ! -s %s -j KUBE-MARK-MASQ\n",
			svcChain, portName, s.vip, s.port, clusterCIDR)
		for i, be := range s.backends {
			sepChain := kubeProxyChain("KUBE-SEP-", portName+"tcp"+be.String())
			fmt.Fprintf(&chains, ":%s - [0:0]\n", sepChain)
			stat := ""
			if left := len(s.backends) - i; left > 1 {
				stat = fmt.Sprintf(" -m statistic --mode random --probability %0.10f", 1/float64(left))
			}
			fmt.Fprintf(&rules, "-A %s -m comment --comment \"%s -> %s\"%s -j %s\n", svcChain, portName, be, stat, sepChain)
			fmt.Fprintf(&rules, "-A %s -m comment --comment \"%s\" -s %s/32 -j KUBE-MARK-MASQ\n", sepChain, portName, be.Addr())
			fmt.Fprintf(&rules, "-A %s -m comment --comment \"%s\" -m tcp -p tcp -j DNAT --to-destination %s\n", sepChain, portName, be)
		}
	}
	rules.WriteString("-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS\n")
	rules.WriteString("COMMIT\n")
	chains.Write(rules.Bytes())
	return chains.Bytes()
}

// iptablesRestore replaces the nat table of the calling thread's network
// namespace with ruleset.
func iptablesRestore(ruleset []byte) error {
	cmd := exec.Command("iptables-restore", "-w")
	cmd.Stdin = bytes.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("iptables-restore: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

func TestKubeProxyRuleset_layout(t *testing.T) {
	svcs := []benchService{{
		name: "web", vip: netip.MustParseAddr("10.96.0.10"), port: 80,
		backends: []netip.AddrPort{netip.MustParseAddrPort("10.0.1.1:8080"), netip.MustParseAddrPort("10.0.1.2:8080"), netip.MustParseAddrPort("10.0.1.3:8080")},
	}}
	rs := string(kubeProxyRuleset(svcs, "10.244.0.0/16"))
	svc := kubeProxyChain("KUBE-SVC-", "default/web:httptcp")
	for _, want := range []string{
		"*nat\n:KUBE-SERVICES - [0:0]\n",
		":" + svc + " - [0:0]\n",
		"-A KUBE-SERVICES -m comment --comment \"default/web:http cluster IP\" -m tcp -p tcp -d 10.96.0.10/32 --dport 80 -j " + svc + "\n",
		"--probability 0.3333333333 -j KUBE-SEP-",
		"--probability 0.5000000000 -j KUBE-SEP-",
		"-j DNAT --to-destination 10.0.1.3:8080\n",
		"--dst-type LOCAL -j KUBE-NODEPORTS\nCOMMIT\n",
	} {
		if !strings.Contains(rs, want) {
			t.Errorf("ruleset lacks %q:\n%s", want, rs)
		}
	}
	if n := strings.Count(rs, "-m statistic"); n != 2 {
		t.Errorf("%d statistic matches for 3 endpoints, want 2 (the last endpoint takes what is left)", n)
	}
	if len(svc) != len("KUBE-SVC-")+16 {
		t.Errorf("chain %q: kube-proxy's names have 16 hash characters", svc)
	}
}
