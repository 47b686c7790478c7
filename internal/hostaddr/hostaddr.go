// Package hostaddr lists the machine's own addresses, for the node's
// status and the API's advertise address and certificate.
package hostaddr

import "net"

// Global returns the global unicast addresses of the interfaces that are
// up, loopback excluded, in interface order.
func Global() []net.IP {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var out []net.IP
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.IsGlobalUnicast() {
				out = append(out, n.IP)
			}
		}
	}
	return out
}

// FirstIPv4 is the first of Global that is IPv4, or nil.
func FirstIPv4() net.IP {
	for _, ip := range Global() {
		if v4 := ip.To4(); v4 != nil {
			return v4
		}
	}
	return nil
}
