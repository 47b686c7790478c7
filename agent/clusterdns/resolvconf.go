package clusterdns

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
)

// ResolvConf is what a resolv.conf file says, in the file's order.
type ResolvConf struct {
	// Nameservers are IP addresses.
	Nameservers []string
	// Searches is the search list ("domain" counts as a one-entry list;
	// the last search or domain line wins, as in glibc).
	Searches []string
	// Options are the words of every options line ("ndots:5", "edns0").
	Options []string
}

// SystemdResolvConf lists the upstream servers of systemd-resolved, whose
// stub at 127.0.0.53 is what /etc/resolv.conf names on such machines.
const SystemdResolvConf = "/run/systemd/resolve/resolv.conf"

// resolvedStub is systemd-resolved's local stub resolver.
const resolvedStub = "127.0.0.53"

// ParseResolvConf reads resolv.conf syntax from r; name says where it came
// from in errors. Comments start with # or ;. Unknown keywords are ignored
// as the C library ignores them; a nameserver that is not an IP address
// is an error naming the line.
func ParseResolvConf(r io.Reader, name string) (ResolvConf, error) {
	var rc ResolvConf
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) < 2 {
				return ResolvConf{}, fmt.Errorf("%s:%d: nameserver without an address", name, n)
			}
			ip, err := netip.ParseAddr(f[1])
			if err != nil {
				return ResolvConf{}, fmt.Errorf("%s:%d: nameserver %q is not an IP address", name, n, f[1])
			}
			rc.Nameservers = append(rc.Nameservers, ip.String())
		case "search", "domain":
			rc.Searches = nil
			for _, s := range f[1:] {
				if s = strings.TrimSuffix(s, "."); s != "" {
					rc.Searches = append(rc.Searches, s)
				}
			}
		case "options":
			rc.Options = append(rc.Options, f[1:]...)
		}
	}
	if err := sc.Err(); err != nil {
		return ResolvConf{}, fmt.Errorf("%s: %w", name, err)
	}
	return rc, nil
}

// ReadNodeResolvConf reads the node's resolver configuration from path.
// When path names systemd-resolved's stub as its only server and
// SystemdResolvConf exists, that file is read instead, as kubeadm sets the
// kubelet up: the stub listens on the node's loopback, which pods cannot
// reach. It returns the file it read.
func ReadNodeResolvConf(path string) (ResolvConf, string, error) {
	rc, err := readResolvConf(path)
	if err != nil {
		return ResolvConf{}, path, err
	}
	if len(rc.Nameservers) == 1 && rc.Nameservers[0] == resolvedStub {
		real, err := readResolvConf(SystemdResolvConf)
		if err == nil {
			return real, SystemdResolvConf, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return ResolvConf{}, SystemdResolvConf, err
		}
	}
	return rc, path, nil
}

func readResolvConf(path string) (ResolvConf, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return ResolvConf{}, fmt.Errorf("resolver configuration: %w", err)
	}
	return ParseResolvConf(bytes.NewReader(data), path)
}

// Upstreams are the nameservers as host:port addresses on port 53.
func (rc ResolvConf) Upstreams() []string {
	out := make([]string, 0, len(rc.Nameservers))
	for _, s := range rc.Nameservers {
		out = append(out, net.JoinHostPort(s, "53"))
	}
	return out
}

// Format writes rc in resolv.conf syntax: nameserver lines, then a search
// line and an options line when they are not empty.
func (rc ResolvConf) Format() []byte {
	var b bytes.Buffer
	for _, s := range rc.Nameservers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(rc.Searches) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(rc.Searches, " "))
	}
	if len(rc.Options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(rc.Options, " "))
	}
	return b.Bytes()
}
