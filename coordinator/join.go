package coordinator

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
	bootstrapsecret "k8s.io/cluster-bootstrap/util/secrets"

	"github.com/keel-edge/keel/coordinator/keelapi"
	"github.com/keel-edge/keel/coordinator/pki"
)

// NodeCertValidity is how long a node's client certificate is valid.
const NodeCertValidity = 365 * 24 * time.Hour

// maxJoinRequest bounds a join request's body.
const maxJoinRequest = 64 << 10

// joinHandler admits new nodes: it checks their bootstrap token, signs
// their certificate request and hands out what they need to take part.
type joinHandler struct {
	auth *pki.Authority
	// secret reads a Secret in kube-system.
	secret func(ctx context.Context, name string) (*corev1.Secret, error)
	// members are gossip addresses to join; nil when the cluster runs
	// without gossip.
	members func() []string
	// encryptionKey is the store's sealing key, for coordinators.
	encryptionKey func() ([]byte, error)
	now           func() time.Time
	log           *slog.Logger
}

func (h *joinHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	resp, code, err := h.join(r)
	if err != nil {
		if code >= 500 {
			h.log.Error("join failed", "err", err, "remote", r.RemoteAddr)
		} else {
			h.log.Warn("join refused", "err", err, "remote", r.RemoteAddr)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
			Status: metav1.StatusFailure, Code: int32(code), Message: err.Error(), Reason: reasonFor(code)})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

func reasonFor(code int) metav1.StatusReason {
	switch code {
	case http.StatusUnauthorized:
		return metav1.StatusReasonUnauthorized
	case http.StatusForbidden:
		return metav1.StatusReasonForbidden
	case http.StatusBadRequest:
		return metav1.StatusReasonBadRequest
	case http.StatusMethodNotAllowed:
		return metav1.StatusReasonMethodNotAllowed
	}
	return metav1.StatusReasonServiceUnavailable
}

// join does the work; its errors never carry the token's secret.
func (h *joinHandler) join(r *http.Request) (*keelapi.JoinResponse, int, error) {
	if r.Method != http.MethodPost {
		return nil, http.StatusMethodNotAllowed, errors.New("join: POST a join request")
	}
	if h.members == nil {
		return nil, http.StatusServiceUnavailable, errors.New("join: this cluster runs without gossip (its coordinator was started with --single-node)")
	}
	boot, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !bootstraputil.IsValidBootstrapToken(boot) {
		return nil, http.StatusUnauthorized, errors.New("join: a bootstrap token (id.secret) is required as the bearer token")
	}
	id, secret, _ := strings.Cut(boot, ".")
	tok, err := h.secret(r.Context(), bootstraputil.BootstrapTokenSecretName(id))
	if apierrors.IsNotFound(err) {
		return nil, http.StatusUnauthorized, fmt.Errorf("join: token %s is unknown", id)
	}
	if err != nil {
		return nil, http.StatusServiceUnavailable, fmt.Errorf("join: look up token %s: %w", id, err)
	}
	if tok.Type != bootstrapapi.SecretTypeBootstrapToken ||
		subtle.ConstantTimeCompare([]byte(bootstrapsecret.GetData(tok, bootstrapapi.BootstrapTokenSecretKey)), []byte(secret)) != 1 {
		return nil, http.StatusUnauthorized, fmt.Errorf("join: token %s does not match", id)
	}
	if bootstrapsecret.HasExpired(tok, h.now()) {
		return nil, http.StatusUnauthorized, fmt.Errorf("join: token %s has expired", id)
	}
	if bootstrapsecret.GetData(tok, bootstrapapi.BootstrapTokenUsageAuthentication) != "true" {
		return nil, http.StatusForbidden, fmt.Errorf("join: token %s is not usable for authentication", id)
	}

	var req keelapi.JoinRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxJoinRequest)).Decode(&req); err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("join: request body: %w", err)
	}
	if errs := validation.IsDNS1123Subdomain(req.Node); len(errs) > 0 {
		return nil, http.StatusBadRequest, fmt.Errorf("join: node name %q: %s", req.Node, strings.Join(errs, "; "))
	}
	if req.Coordinator && bootstrapsecret.GetData(tok, keelapi.UsageCoordinator) != "true" {
		return nil, http.StatusForbidden, fmt.Errorf("join: token %s admits workers only; create one with --coordinator", id)
	}
	cert, err := h.auth.SignClientCSR(req.CSR, NodeUser(req.Node), []string{NodesGroup}, NodeCertValidity, h.now())
	if err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("join: node %s: %w", req.Node, err)
	}
	var serving []byte
	if len(req.ServingCSR) > 0 {
		if serving, err = h.auth.SignNodeServingCSR(req.ServingCSR, req.Node, h.now()); err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("join: node %s: %w", req.Node, err)
		}
	}
	gossip, err := h.auth.GossipKey()
	if err != nil {
		return nil, http.StatusServiceUnavailable, fmt.Errorf("join: %w", err)
	}
	resp := &keelapi.JoinResponse{CA: h.auth.CAPEM(), Certificate: cert, ServingCertificate: serving, GossipKey: gossip, Members: h.members()}
	if req.Coordinator {
		if resp.CAKey, err = h.auth.CAKeyPEM(); err != nil {
			return nil, http.StatusServiceUnavailable, fmt.Errorf("join: %w", err)
		}
		if resp.EncryptionKey, err = h.encryptionKey(); err != nil {
			return nil, http.StatusServiceUnavailable, fmt.Errorf("join: %w", err)
		}
		resp.AdminToken = h.auth.AdminToken()
	}
	h.log.Info("node joined", "node", req.Node, "token", id, "coordinator", req.Coordinator)
	return resp, http.StatusOK, nil
}
