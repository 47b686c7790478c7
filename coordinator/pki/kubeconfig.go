package pki

import (
	"fmt"
	"net/url"

	clientcmd "k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Names inside the admin kubeconfig.
const (
	// KubeconfigCluster is the cluster entry of the admin kubeconfig.
	KubeconfigCluster = "keel"
	// KubeconfigContext is the context of the admin kubeconfig; it uses the
	// client certificate user.
	KubeconfigContext = "keel"
	// KubeconfigCertUser is the user entry carrying the admin client
	// certificate and key.
	KubeconfigCertUser = "admin"
	// KubeconfigTokenUser is the user entry carrying the admin bearer token
	// (select it with kubectl --user admin-token).
	KubeconfigTokenUser = "admin-token"
)

// AdminKubeconfig returns a kubeconfig for server (an https URL) with the
// cluster CA, the admin client certificate and key, and the admin token, all
// embedded. Its current context uses the certificate. The result holds
// secrets: write it with WriteFileAtomic and mode 0600.
func (a *Authority) AdminKubeconfig(server string) ([]byte, error) {
	u, err := url.Parse(server)
	if err != nil {
		return nil, fmt.Errorf("admin kubeconfig: server %q: %w", server, err)
	}
	if u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("admin kubeconfig: server %q: want an https://host[:port] URL", server)
	}
	certPEM, keyPEM := a.AdminCert()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[KubeconfigCluster] = &clientcmdapi.Cluster{
		Server:                   server,
		CertificateAuthorityData: a.CAPEM(),
	}
	cfg.AuthInfos[KubeconfigCertUser] = &clientcmdapi.AuthInfo{
		ClientCertificateData: certPEM,
		ClientKeyData:         keyPEM,
	}
	cfg.AuthInfos[KubeconfigTokenUser] = &clientcmdapi.AuthInfo{
		Token: a.AdminToken(),
	}
	cfg.Contexts[KubeconfigContext] = &clientcmdapi.Context{
		Cluster:  KubeconfigCluster,
		AuthInfo: KubeconfigCertUser,
	}
	cfg.CurrentContext = KubeconfigContext
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("admin kubeconfig: encode: %w", err)
	}
	return data, nil
}
