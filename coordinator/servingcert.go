package coordinator

import (
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keel-edge/keel/coordinator/pki"
)

// servingCerts gives the API's TLS handshakes a certificate that also
// names every cluster member's address, so that a kubeconfig may name any
// node: other nodes pass API connections through to the coordinator
// unopened, and the client checks the coordinator's certificate against
// the address it dialled. A new certificate is issued in memory when the
// set of addresses changes.
type servingCerts struct {
	auth  *pki.Authority
	names []string
	base  []net.IP
	extra func() []net.IP
	chain func(tls.Certificate) tls.Certificate

	mu   sync.Mutex
	key  string
	cert *tls.Certificate
}

func (s *servingCerts) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	ips := slices.Clone(s.base)
	if s.extra != nil {
		ips = append(ips, s.extra()...)
	}
	keys := make([]string, 0, len(ips))
	for _, ip := range ips {
		keys = append(keys, ip.String())
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	key := strings.Join(keys, ",")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cert != nil && s.key == key {
		return s.cert, nil
	}
	parsed := make([]net.IP, 0, len(keys))
	for _, k := range keys {
		parsed = append(parsed, net.ParseIP(k))
	}
	c, err := s.auth.ServingCertInMemory(s.names, parsed, time.Now())
	if err != nil {
		return nil, fmt.Errorf("serving certificate for %s: %w", key, err)
	}
	c = s.chain(c)
	s.cert, s.key = &c, key
	return s.cert, nil
}
