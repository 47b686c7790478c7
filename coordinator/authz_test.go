package coordinator

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/keel-edge/keel/coordinator/apiserver"
	"github.com/keel-edge/keel/coordinator/pki"
)

func TestAuthorize(t *testing.T) {
	node := apiserver.User{Name: NodeUser("n1"), Groups: []string{NodesGroup}}
	other := apiserver.User{Name: "alice", Groups: []string{"devs"}}
	fake := apiserver.User{Name: NodeUser("n1")} // the name without the group
	for _, tc := range []struct {
		u     apiserver.User
		a     apiserver.Attributes
		allow bool
	}{
		{node, apiserver.Attributes{Verb: "list", Resource: "secrets", Namespace: "default"}, true},
		{node, apiserver.Attributes{Verb: "watch", Group: "apps", Resource: "deployments"}, true},
		{node, apiserver.Attributes{Verb: "update", Resource: "nodes", Subresource: "status", Name: "n1"}, true},
		{node, apiserver.Attributes{Verb: "create", Resource: "nodes", Name: "n1"}, true},
		{node, apiserver.Attributes{Verb: "deletecollection", Resource: "nodes"}, false},
		{node, apiserver.Attributes{Verb: "patch", Resource: "pods", Subresource: "status", Namespace: "default"}, true},
		{node, apiserver.Attributes{Verb: "delete", Resource: "pods", Namespace: "default"}, true},
		{node, apiserver.Attributes{Verb: "create", Resource: "pods", Namespace: "default"}, false},
		{node, apiserver.Attributes{Verb: "update", Resource: "pods", Namespace: "default"}, false},
		{node, apiserver.Attributes{Verb: "create", Resource: "pods", Subresource: "binding", Namespace: "default"}, false},
		{node, apiserver.Attributes{Verb: "create", Resource: "events", Namespace: "default"}, true},
		{node, apiserver.Attributes{Verb: "update", Group: "coordination.k8s.io", Resource: "leases", Namespace: "kube-node-lease"}, true},
		{node, apiserver.Attributes{Verb: "update", Group: "coordination.k8s.io", Resource: "leases", Namespace: "kube-system"}, false},
		{node, apiserver.Attributes{Verb: "create", Resource: "secrets", Namespace: "default"}, false},
		{node, apiserver.Attributes{Verb: "get", Path: "/apis/apps/v1"}, true},
		{node, apiserver.Attributes{Verb: "get", Path: "/keel/v1/status"}, true},
		{node, apiserver.Attributes{Verb: "get", Path: "/keel/v1/kubeconfig"}, false},
		{node, apiserver.Attributes{Verb: "post", Path: "/keel/v1/nodes/n2/images"}, false},
		{other, apiserver.Attributes{Verb: "get", Resource: "pods", Namespace: "default"}, false},
		{fake, apiserver.Attributes{Verb: "get", Resource: "pods", Namespace: "default"}, false},
	} {
		err := authorize(tc.u, tc.a)
		if (err == nil) != tc.allow {
			t.Errorf("%s %+v: %v, want allowed=%v", tc.u.Name, tc.a, err, tc.allow)
		}
		if err != nil && !apierrors.IsForbidden(err) {
			t.Errorf("%s %+v: %v is not a 403", tc.u.Name, tc.a, err)
		}
	}
}

// nodeClient talks to r's API with the client certificate of node.
func nodeClient(t *testing.T, r *running, dataDir, node string) kubernetes.Interface {
	t.Helper()
	auth, err := pki.LoadOrCreate(filepath.Join(dataDir, "pki"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := auth.ClientCert(NodeUser(node), []string{NodesGroup}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: r.c.APIURL(),
		TLSClientConfig: rest.TLSClientConfig{CAData: auth.CAPEM(), CertData: cert, KeyData: key}})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func TestCoordinator_nodeRestriction(t *testing.T) {
	dir := t.TempDir()
	r := startCoordinator(t, dir)
	ctx := context.Background()
	n1 := nodeClient(t, r, dir, "n1")

	if _, err := n1.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("own node: %v", err)
	}
	_, err := n1.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n2"}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `node "n1" may not modify node "n2"`) {
		t.Fatalf("another node: %v", err)
	}
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "n2", Namespace: corev1.NamespaceNodeLease}}
	if _, err := n1.CoordinationV1().Leases(corev1.NamespaceNodeLease).Create(ctx, lease, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("another node's lease: %v", err)
	}

	mk := func(name, node string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
		p, err := r.cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	mine, theirs := mk("mine", "n1"), mk("theirs", "n2")
	mine.Status.Phase = corev1.PodRunning
	if _, err := n1.CoreV1().Pods("default").UpdateStatus(ctx, mine, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("own pod's status: %v", err)
	}
	theirs.Status.Phase = corev1.PodRunning
	if _, err := n1.CoreV1().Pods("default").UpdateStatus(ctx, theirs, metav1.UpdateOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("another node's pod status: %v", err)
	}
	if err := n1.CoreV1().Pods("default").Delete(ctx, "theirs", *metav1.NewDeleteOptions(0)); !apierrors.IsForbidden(err) {
		t.Fatalf("delete another node's pod: %v", err)
	}
	if _, err := n1.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("create a pod: %v", err)
	}
	if _, err := n1.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("read secrets: %v", err)
	}
	if err := n1.CoreV1().Pods("default").Delete(ctx, "mine", *metav1.NewDeleteOptions(0)); err != nil {
		t.Fatalf("final delete of its own pod: %v", err)
	}
}
