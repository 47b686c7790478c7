package keelapi

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
)

// JoinPath is where a new node presents its join token and certificate
// request (POST a JoinRequest, answered with a JoinResponse).
const JoinPath = "/keel/v1/join"

// JoinTokenPrefix starts every join token: K10 and the SHA-256 of the
// cluster CA certificate, as k3s writes them.
const JoinTokenPrefix = "K10"

// JoinToken lets a new node join the cluster. Its text form is
// K10<ca-sha256-hex>::<id>.<secret>; the id and secret are a Kubernetes
// bootstrap token, stored as the Secret kube-system/bootstrap-token-<id>,
// so tokens are listed, expired and revoked like Kubernetes' own.
type JoinToken struct {
	// CAHash pins the cluster CA: the joining node trusts nothing it has
	// not checked against it.
	CAHash string
	ID     string
	Secret string
}

// String is the token's text form.
func (t JoinToken) String() string {
	return JoinTokenPrefix + t.CAHash + "::" + t.ID + "." + t.Secret
}

// Bootstrap is the id.secret part.
func (t JoinToken) Bootstrap() string { return t.ID + "." + t.Secret }

// ParseJoinToken reads a token's text form. The error never repeats the
// secret.
func ParseJoinToken(s string) (JoinToken, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), JoinTokenPrefix)
	if !ok {
		return JoinToken{}, fmt.Errorf("join token: does not start with %s", JoinTokenPrefix)
	}
	hash, boot, ok := strings.Cut(rest, "::")
	if !ok {
		return JoinToken{}, fmt.Errorf("join token: no '::' between the CA hash and the secret")
	}
	if b, err := hex.DecodeString(hash); err != nil || len(b) != 32 || strings.ToLower(hash) != hash {
		return JoinToken{}, fmt.Errorf("join token: the CA hash is not 64 lowercase hex digits")
	}
	if !bootstraputil.IsValidBootstrapToken(boot) {
		return JoinToken{}, fmt.Errorf("join token: the secret part is not <6 of [a-z0-9]>.<16 of [a-z0-9]>")
	}
	id, secret, _ := strings.Cut(boot, ".")
	return JoinToken{CAHash: hash, ID: id, Secret: secret}, nil
}

// NewJoinToken makes a token with a fresh random id and secret for the
// CA with the given hash.
func NewJoinToken(caHash string) (JoinToken, error) {
	boot, err := bootstraputil.GenerateBootstrapToken()
	if err != nil {
		return JoinToken{}, err
	}
	id, secret, _ := strings.Cut(boot, ".")
	return JoinToken{CAHash: caHash, ID: id, Secret: secret}, nil
}

// JoinRequest is what a joining node sends to JoinPath, with its token's
// id.secret as the bearer token.
type JoinRequest struct {
	// Node is the node's name; its certificate is bound to it.
	Node string `json:"node"`
	// CSR is a PEM certificate request for the node's client
	// certificate; its key never leaves the node.
	CSR []byte `json:"csr"`
	// ServingCSR is a PEM certificate request for the node API's serving
	// certificate; only the node's name and IP addresses are honoured.
	ServingCSR []byte `json:"servingCSR,omitempty"`
	// Coordinator asks for what a coordinator candidate needs besides:
	// the CA and encryption keys. Only a token created for coordinators
	// gets them.
	Coordinator bool `json:"coordinator,omitempty"`
}

// JoinResponse carries what a node needs to take part in the cluster.
type JoinResponse struct {
	// CA is the cluster CA certificate (PEM).
	CA []byte `json:"ca"`
	// Certificate is the node's client certificate (PEM), CN
	// system:node:<node>, O system:nodes.
	Certificate []byte `json:"certificate"`
	// ServingCertificate is the node API's serving certificate (PEM),
	// when asked for.
	ServingCertificate []byte `json:"servingCertificate,omitempty"`
	// GossipKey is the cluster's gossip encryption key.
	GossipKey []byte `json:"gossipKey"`
	// Members are gossip addresses (host:port) of members to join.
	Members []string `json:"members"`
	// CAKey, EncryptionKey and AdminToken are given to coordinator
	// candidates only.
	CAKey         []byte `json:"caKey,omitempty"`
	EncryptionKey []byte `json:"encryptionKey,omitempty"`
	AdminToken    string `json:"adminToken,omitempty"`
}

// UsageCoordinator is the bootstrap token Secret's data key that lets a
// token admit coordinator candidates, which receive the CA and
// encryption keys.
const UsageCoordinator = bootstrapapi.BootstrapTokenUsagePrefix + "keel-coordinator"

// TokenSecret is the Secret that stores t in kube-system, as Kubernetes
// stores bootstrap tokens: expiring after ttl (never when zero), usable
// for authentication, and for coordinators when coordinator is set.
func TokenSecret(t JoinToken, ttl time.Duration, coordinator bool, description string, now time.Time) *corev1.Secret {
	data := map[string][]byte{
		bootstrapapi.BootstrapTokenIDKey:               []byte(t.ID),
		bootstrapapi.BootstrapTokenSecretKey:           []byte(t.Secret),
		bootstrapapi.BootstrapTokenUsageAuthentication: []byte("true"),
	}
	if ttl != 0 {
		data[bootstrapapi.BootstrapTokenExpirationKey] = []byte(now.Add(ttl).UTC().Format(time.RFC3339))
	}
	if coordinator {
		data[UsageCoordinator] = []byte("true")
	}
	if description != "" {
		data[bootstrapapi.BootstrapTokenDescriptionKey] = []byte(description)
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: bootstraputil.BootstrapTokenSecretName(t.ID), Namespace: metav1.NamespaceSystem},
		Type:       bootstrapapi.SecretTypeBootstrapToken,
		Data:       data,
	}
}
