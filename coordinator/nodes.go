package coordinator

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/keel-edge/keel/coordinator/apiserver"
	"github.com/keel-edge/keel/coordinator/pki"
)

// NodeAPIUser is the common name the API server presents to node APIs,
// and the one they admit.
const NodeAPIUser = "keel-apiserver"

// nodeDialer reaches nodes' APIs as the API server: it reads a node's
// address and port from its Node object and presents a client certificate
// of the cluster CA, verifying the node's serving certificate against the
// same CA.
type nodeDialer struct {
	nodes func(ctx context.Context, name string) (*corev1.Node, error)

	once      sync.Once
	transport *http.Transport
	err       error
	auth      *pki.Authority
}

func newNodeDialer(auth *pki.Authority, cs kubernetes.Interface) *nodeDialer {
	return &nodeDialer{auth: auth, nodes: func(ctx context.Context, name string) (*corev1.Node, error) {
		return cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	}}
}

func (d *nodeDialer) transportFor() (*http.Transport, error) {
	d.once.Do(func() {
		certPEM, keyPEM, err := d.auth.ClientCert(NodeAPIUser, nil, 365*24*time.Hour, time.Now())
		if err != nil {
			d.err = fmt.Errorf("node API client certificate: %w", err)
			return
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			d.err = fmt.Errorf("node API client certificate: %w", err)
			return
		}
		d.transport = &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: d.auth.CAPool(), Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
			DialContext:     (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			IdleConnTimeout: 90 * time.Second,
		}
	})
	return d.transport, d.err
}

// connect returns how to reach node name's API.
func (d *nodeDialer) connect(name string) (apiserver.NodeConnection, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	node, err := d.nodes(ctx, name)
	if err != nil {
		return apiserver.NodeConnection{}, err
	}
	host, port, err := nodeAPIAddress(node)
	if err != nil {
		return apiserver.NodeConnection{}, err
	}
	tr, err := d.transportFor()
	if err != nil {
		return apiserver.NodeConnection{}, err
	}
	u := &url.URL{Scheme: "https", Host: net.JoinHostPort(host, strconv.Itoa(int(port)))}
	return apiserver.NodeConnection{URL: u, Transport: tr}, nil
}

// nodeAPIAddress is the address of a node's API: its first InternalIP
// (else Hostname) address and the port it reports as its daemon endpoint.
func nodeAPIAddress(node *corev1.Node) (string, int32, error) {
	port := node.Status.DaemonEndpoints.KubeletEndpoint.Port
	if port == 0 {
		return "", 0, fmt.Errorf("node %s reports no node API port", node.Name)
	}
	for _, t := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeHostName} {
		for _, a := range node.Status.Addresses {
			if a.Type == t && a.Address != "" {
				return a.Address, port, nil
			}
		}
	}
	return "", 0, fmt.Errorf("node %s reports no address", node.Name)
}

// NodeServingCert issues the serving certificate of a node's API for the
// node's names and addresses, signed by the cluster CA, with the CA pool
// to verify the API server's client certificate by. A single-node agent
// takes it in process; joining nodes will get theirs by a signed request.
func (c *Coordinator) NodeServingCert(names []string, ips []net.IP) (tls.Certificate, *tls.Config, error) {
	c.mu.Lock()
	auth := c.auth
	c.mu.Unlock()
	if auth == nil {
		return tls.Certificate{}, nil, fmt.Errorf("the coordinator is not running")
	}
	cert, err := auth.NodeServingCert(names, ips, time.Now())
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return cert, auth.TLSConfig(cert), nil
}
