package coordinator

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/keel-edge/keel/coordinator/keelapi"
	"github.com/keel-edge/keel/coordinator/pki"
)

func csrFor(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func TestCoordinator_join(t *testing.T) {
	r := startCoordinator(t, t.TempDir(), func(c *Config) {
		c.GossipMembers = func() []string { return []string{"192.0.2.1:7946"} }
	})
	ctx := context.Background()
	var st keelapi.ClusterStatus
	raw, err := r.cs.CoreV1().RESTClient().Get().AbsPath(keelapi.StatusPath).DoRaw(ctx)
	if err != nil || json.Unmarshal(raw, &st) != nil || len(st.CAHash) != 64 {
		t.Fatalf("status: %s %v", raw, err)
	}
	now := time.Now()
	mkToken := func(ttl time.Duration, coordinator bool) keelapi.JoinToken {
		tok, err := keelapi.NewJoinToken(st.CAHash)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.cs.CoreV1().Secrets("kube-system").Create(ctx, keelapi.TokenSecret(tok, ttl, coordinator, "test", now), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		return tok
	}
	worker, coord, expired := mkToken(time.Hour, false), mkToken(0, true), mkToken(-time.Minute, false)

	// The joining side checks the server against the token's CA hash
	// before it sends anything.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	post := func(bearer string, req keelapi.JoinRequest) (int, keelapi.JoinResponse, string) {
		t.Helper()
		body, _ := json.Marshal(req)
		hr, _ := http.NewRequest(http.MethodPost, r.c.APIURL()+keelapi.JoinPath, bytes.NewReader(body))
		if bearer != "" {
			hr.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := client.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		var jr keelapi.JoinResponse
		if resp.StatusCode == http.StatusOK {
			if err := json.Unmarshal(buf.Bytes(), &jr); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode, jr, buf.String()
	}

	code, jr, body := post(worker.Bootstrap(), keelapi.JoinRequest{Node: "n1", CSR: csrFor(t, key)})
	if code != http.StatusOK {
		t.Fatalf("worker join: %d %s", code, body)
	}
	block, _ := pem.Decode(jr.Certificate)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil || cert.Subject.CommonName != "system:node:n1" || cert.Subject.Organization[0] != "system:nodes" {
		t.Fatalf("certificate %v %v", cert.Subject, err)
	}
	if len(jr.GossipKey) != 32 || len(jr.Members) != 1 || len(jr.CAKey) != 0 || len(jr.EncryptionKey) != 0 {
		t.Fatalf("worker response: members %v, gossip %d, ca key %d, enc key %d", jr.Members, len(jr.GossipKey), len(jr.CAKey), len(jr.EncryptionKey))
	}

	// The certificate it got works, with a node's rights.
	keyDER, _ := x509.MarshalECPrivateKey(key)
	n1, err := kubernetes.NewForConfig(&rest.Config{Host: r.c.APIURL(), TLSClientConfig: rest.TLSClientConfig{
		CAData: jr.CA, CertData: jr.Certificate, KeyData: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n1.CoreV1().Pods("").List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("list pods as n1: %v", err)
	}
	if _, err := n1.CoreV1().Secrets("kube-system").Create(ctx, keelapi.TokenSecret(worker, 0, true, "", now), metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("a node minted a token: %v", err)
	}

	for _, tc := range []struct {
		name   string
		bearer string
		req    keelapi.JoinRequest
		code   int
		want   string
	}{
		{"no token", "", keelapi.JoinRequest{Node: "n2", CSR: csrFor(t, key)}, 401, "bootstrap token"},
		{"wrong secret", worker.ID + ".0000000000000000", keelapi.JoinRequest{Node: "n2", CSR: csrFor(t, key)}, 401, "does not match"},
		{"unknown id", "zzzzzz.0000000000000000", keelapi.JoinRequest{Node: "n2", CSR: csrFor(t, key)}, 401, "unknown"},
		{"expired", expired.Bootstrap(), keelapi.JoinRequest{Node: "n2", CSR: csrFor(t, key)}, 401, "expired"},
		{"worker token for a coordinator", worker.Bootstrap(), keelapi.JoinRequest{Node: "n2", CSR: csrFor(t, key), Coordinator: true}, 403, "workers only"},
		{"bad node name", worker.Bootstrap(), keelapi.JoinRequest{Node: "N_2", CSR: csrFor(t, key)}, 400, "node name"},
		{"bad csr", worker.Bootstrap(), keelapi.JoinRequest{Node: "n2", CSR: []byte("x")}, 400, "CERTIFICATE REQUEST"},
	} {
		code, _, body := post(tc.bearer, tc.req)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s; want %d with %q", tc.name, code, body, tc.code, tc.want)
		}
		if strings.Contains(body, worker.Secret) {
			t.Errorf("%s: the answer repeats the secret", tc.name)
		}
	}

	code, jr, body = post(coord.Bootstrap(), keelapi.JoinRequest{Node: "c2", CSR: csrFor(t, key), Coordinator: true})
	if code != http.StatusOK || len(jr.CAKey) == 0 || len(jr.EncryptionKey) == 0 {
		t.Fatalf("coordinator join: %d %s", code, body)
	}
}

func TestCoordinator_joinWithoutGossip(t *testing.T) {
	r := startCoordinator(t, t.TempDir())
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Post(r.c.APIURL()+keelapi.JoinPath, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("join a single-node cluster: %d", resp.StatusCode)
	}
}

func FuzzJoin(f *testing.F) {
	auth, err := pki.LoadOrCreate(f.TempDir(), time.Now())
	if err != nil {
		f.Fatal(err)
	}
	tok := keelapi.JoinToken{CAHash: auth.CAHash(), ID: "abcdef", Secret: "0123456789abcdef"}
	h := &joinHandler{
		auth: auth,
		secret: func(_ context.Context, name string) (*corev1.Secret, error) {
			return keelapi.TokenSecret(tok, time.Hour, false, "", time.Now()), nil
		},
		members:       func() []string { return nil },
		encryptionKey: func() ([]byte, error) { return nil, nil },
		now:           time.Now,
		log:           slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	f.Add("Bearer abcdef.0123456789abcdef", []byte(`{"node":"n1","csr":"eA=="}`))
	f.Add("Bearer abcdef.0123456789abcdef", []byte(`{"node":"n1","coordinator":true}`))
	f.Add("Bearer x", []byte(`{`))
	f.Fuzz(func(t *testing.T, authz string, body []byte) {
		req, _ := http.NewRequest(http.MethodPost, "https://x"+keelapi.JoinPath, bytes.NewReader(body))
		req.Header.Set("Authorization", authz)
		resp, code, err := h.join(req)
		if (err == nil) != (code == http.StatusOK) || (err == nil) != (resp != nil) {
			t.Fatalf("code %d with err %v and response %v", code, err, resp != nil)
		}
		if err != nil && strings.Contains(err.Error(), tok.Secret) {
			t.Fatalf("error repeats the secret: %v", err)
		}
	})
}
