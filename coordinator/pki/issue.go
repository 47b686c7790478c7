package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// defaultServingNames are the DNS names every serving certificate carries:
// the ones in-cluster clients and local tools use to reach the API.
var defaultServingNames = []string{
	"localhost",
	"kubernetes",
	"kubernetes.default",
	"kubernetes.default.svc",
	"kubernetes.default.svc.cluster.local",
}

// defaultServingIPs are the addresses every serving certificate carries.
var defaultServingIPs = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}

// servingCN is the common name of the API serving certificate.
const servingCN = "keel-apiserver"

// ServingCert returns the API server's certificate for the given DNS names
// and IP addresses plus localhost, kubernetes, kubernetes.default,
// kubernetes.default.svc, kubernetes.default.svc.cluster.local, 127.0.0.1
// and ::1. Names are lowercased and must be DNS subdomains; a name that parses as an IP address is treated as one. The certificate on disk is
// reused while it is issued by this CA, covers every requested name and
// address and has more than 30 days left at now; otherwise a new one, valid
// for a year and carrying exactly the requested names, is issued and stored.
func (a *Authority) ServingCert(names []string, ips []net.IP, now time.Time) (tls.Certificate, error) {
	dnsNames, addrs, err := servingSANs(names, ips)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("serving certificate: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()

	certPEM, keyPEM, ok, err := a.loadLeaf(servingCertFile, servingKeyFile, x509.ExtKeyUsageServerAuth, now)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load serving certificate: %w", err)
	}
	if ok {
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err == nil && covers(pair.Leaf, dnsNames, addrs) {
			return pair, nil
		}
	}
	certPEM, keyPEM, err = a.issue(servingCN, nil, x509.ExtKeyUsageServerAuth, dnsNames, addrs, leafValidity, now)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issue serving certificate: %w", err)
	}
	if err := a.writeLeaf(servingCertFile, servingKeyFile, certPEM, keyPEM); err != nil {
		return tls.Certificate{}, fmt.Errorf("issue serving certificate: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issue serving certificate: load key pair: %w", err)
	}
	return pair, nil
}

// ClientCert issues a client certificate the way Kubernetes reads one: the
// common name is the user name and the organizations are the groups. It is
// valid from now for validity and is not stored.
func (a *Authority) ClientCert(user string, groups []string, validity time.Duration, now time.Time) (certPEM, keyPEM []byte, err error) {
	if user == "" {
		return nil, nil, errors.New("client certificate: empty user name")
	}
	if validity <= 0 {
		return nil, nil, fmt.Errorf("client certificate for %q: validity %s is not positive", user, validity)
	}
	for _, g := range groups {
		if g == "" {
			return nil, nil, fmt.Errorf("client certificate for %q: empty group name", user)
		}
	}
	return a.issue(user, slices.Clone(groups), x509.ExtKeyUsageClientAuth, nil, nil, validity, now)
}

// issue makes a key and a certificate signed by the CA and returns both PEM
// encoded.
func (a *Authority) issue(cn string, orgs []string, usage x509.ExtKeyUsage, dnsNames []string, ips []net.IP, validity time.Duration, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	tmpl, err := newLeafTemplate(cn, orgs, usage, now, validity)
	if err != nil {
		return nil, nil, err
	}
	tmpl.DNSNames, tmpl.IPAddresses = dnsNames, ips
	_, der, err := sign(tmpl, a.caCert, &key.PublicKey, a.caKey)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	return encodeCert(der), keyPEM, nil
}

// servingSANs merges the requested names and addresses with the defaults,
// lowercased, validated and without duplicates, in a stable order.
func servingSANs(names []string, ips []net.IP) ([]string, []net.IP, error) {
	var dnsNames []string
	var addrs []net.IP
	addIP := func(ip net.IP) {
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		if !slices.ContainsFunc(addrs, ip.Equal) {
			addrs = append(addrs, ip)
		}
	}
	for _, ip := range defaultServingIPs {
		addIP(ip)
	}
	for _, ip := range ips {
		if len(ip) != net.IPv4len && len(ip) != net.IPv6len {
			return nil, nil, fmt.Errorf("invalid IP address %q", ip.String())
		}
		addIP(ip)
	}
	for _, n := range slices.Concat(defaultServingNames, names) {
		n = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(n), "."))
		if n == "" {
			continue
		}
		if ip := net.ParseIP(n); ip != nil {
			addIP(ip)
			continue
		}
		if errs := validation.IsDNS1123Subdomain(n); len(errs) > 0 {
			return nil, nil, fmt.Errorf("invalid DNS name %q: %s", n, strings.Join(errs, "; "))
		}
		if !slices.Contains(dnsNames, n) {
			dnsNames = append(dnsNames, n)
		}
	}
	return dnsNames, addrs, nil
}

// covers reports whether cert carries every name and address.
func covers(cert *x509.Certificate, dnsNames []string, ips []net.IP) bool {
	if cert == nil {
		return false
	}
	for _, n := range dnsNames {
		if !slices.ContainsFunc(cert.DNSNames, func(have string) bool { return strings.EqualFold(have, n) }) {
			return false
		}
	}
	for _, ip := range ips {
		if !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
			return false
		}
	}
	return true
}

// NodeServingCert issues, in memory, the serving certificate of a node's
// API for its names and addresses (CN system:node:<first name>, as
// Kubernetes names kubelets). It is not kept: a node gets a new one each
// time it starts.
func (a *Authority) NodeServingCert(names []string, ips []net.IP, now time.Time) (tls.Certificate, error) {
	if len(names) == 0 {
		return tls.Certificate{}, fmt.Errorf("node serving certificate: a node name is required")
	}
	dnsNames, addrs, err := servingSANs(names, ips)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("node serving certificate: %w", err)
	}
	certPEM, keyPEM, err := a.issue("system:node:"+names[0], nil, x509.ExtKeyUsageServerAuth, dnsNames, addrs, leafValidity, now)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issue node serving certificate: %w", err)
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// ServingCertInMemory issues an API serving certificate like ServingCert
// but keeps it only in memory: for certificates that follow a changing
// set of addresses.
func (a *Authority) ServingCertInMemory(names []string, ips []net.IP, now time.Time) (tls.Certificate, error) {
	dnsNames, addrs, err := servingSANs(names, ips)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("serving certificate: %w", err)
	}
	certPEM, keyPEM, err := a.issue(servingCN, nil, x509.ExtKeyUsageServerAuth, dnsNames, addrs, leafValidity, now)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issue serving certificate: %w", err)
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// ChainWithCA is cert with the CA certificate after it in the chain, so a
// joining node can check the chain against the CA hash its token pins.
func (a *Authority) ChainWithCA(cert tls.Certificate) tls.Certificate {
	cert.Certificate = append(slices.Clone(cert.Certificate), a.caCert.Raw)
	return cert
}
