package coordinator

import (
	"crypto/tls"
	"net"
	"runtime"

	"github.com/keel-edge/keel/internal/hostaddr"
)

// advertiseIP picks the address clients are told to reach the API at: the
// configured one, else the listen address when it is a specific one
// (loopback included: nothing else would answer), else the host's first
// address, else loopback. The kubernetes service names it as its endpoint
// only when it is not loopback, which endpoints may not be.
func advertiseIP(configured string, listen net.IP) net.IP {
	if ip := net.ParseIP(configured); ip != nil {
		return ip
	}
	if !listen.IsUnspecified() {
		return listen
	}
	if ip := hostaddr.FirstIPv4(); ip != nil {
		return ip
	}
	return net.IPv4(127, 0, 0, 1)
}

// servingIPs are the IP SANs of the serving certificate: the listen and
// advertise addresses, and every host address when listening on all.
func servingIPs(listen, advertise net.IP) []net.IP {
	ips := []net.IP{advertise}
	if !listen.IsUnspecified() {
		return append(ips, listen)
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ips
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			ips = append(ips, n.IP)
		}
	}
	return ips
}

// localHost is the host a local client dials for an API listening on ip:
// 127.0.0.1 for a wildcard listener (Go's is dual-stack, even for
// 0.0.0.0, and answers IPv4 loopback), else ip itself.
func localHost(ip net.IP) string {
	if ip.IsUnspecified() {
		return "127.0.0.1"
	}
	return ip.String()
}

func tlsListener(ln net.Listener, cfg *tls.Config) net.Listener { return tls.NewListener(ln, cfg) }

func goVersion() string { return runtime.Version() }

func platform() string { return runtime.GOOS + "/" + runtime.GOARCH }
