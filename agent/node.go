package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Config configures the node loop.
type Config struct {
	// Node is the node's identity.
	Node NodeFacts
	// StatusInterval is how often the node posts its status.
	StatusInterval time.Duration
	// LeaseInterval is how often the node renews its heartbeat Lease in
	// kube-node-lease; the lease lasts four intervals. The coordinator
	// declares a node lost when its lease runs out, so this bounds how
	// fast a dead node is noticed when gossip cannot tell.
	LeaseInterval time.Duration
	// Log receives the loop's logs.
	Log *slog.Logger
}

// DefaultConfig is a node named name reporting every 10 seconds.
func DefaultConfig(name, version string) Config {
	return Config{
		Node:           NodeFacts{Name: name, Version: version, MaxPods: 110},
		StatusInterval: 10 * time.Second,
		LeaseInterval:  2 * time.Second,
		Log:            slog.Default(),
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Node.Name == "":
		return errors.New("node name is required")
	case c.StatusInterval <= 0 || c.LeaseInterval <= 0:
		return errors.New("status and lease intervals must be positive")
	case c.Node.MaxPods <= 0:
		return errors.New("max pods must be positive")
	}
	return nil
}

// Agent is the node loop.
type Agent struct {
	cfg Config
	cs  kubernetes.Interface
}

// New returns an agent that talks to the API through cs.
func New(cfg Config, cs kubernetes.Interface) (*Agent, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Agent{cfg: cfg, cs: cs}, nil
}

// Run registers the node, posts its status and renews its lease until
// ctx ends; a node that runs no pods also finishes their deletion.
func (a *Agent) Run(ctx context.Context) error {
	if a.cfg.Node.NoPods {
		go a.finishDeletions(ctx)
	}
	status := time.NewTicker(a.cfg.StatusInterval)
	defer status.Stop()
	lease := time.NewTicker(a.cfg.LeaseInterval)
	defer lease.Stop()
	var node *corev1.Node
	for {
		if n, err := a.syncNode(ctx); err != nil && ctx.Err() == nil {
			a.cfg.Log.Warn("post node status", "err", err)
		} else if err == nil {
			node = n
		}
	leases:
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-status.C:
				break leases
			case <-lease.C:
				if node == nil {
					break leases
				}
				if err := a.renewLease(ctx, node, time.Now()); err != nil && ctx.Err() == nil {
					a.cfg.Log.Warn("renew node lease", "err", err)
				}
			}
		}
	}
}

// syncNode creates the Node when it is missing, writes its status and
// renews its lease; it returns the Node as stored.
func (a *Agent) syncNode(ctx context.Context) (*corev1.Node, error) {
	host, err := ReadHostFacts()
	if err != nil {
		return nil, err
	}
	nodes := a.cs.CoreV1().Nodes()
	n := a.cfg.Node
	cur, err := nodes.Get(ctx, n.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: nodeLabels(n, host)},
			Spec:       nodeSpec(n),
			Status:     nodeStatus(n, host, nil, time.Now()),
		}
		if cur, err = nodes.Create(ctx, node, metav1.CreateOptions{}); err != nil {
			return nil, fmt.Errorf("register node %s: %w", n.Name, err)
		}
		a.cfg.Log.Info("node registered")
	} else if err != nil {
		return nil, fmt.Errorf("get node %s: %w", n.Name, err)
	}
	now := time.Now()
	cur.Status = nodeStatus(n, host, cur.Status.Conditions, now)
	updated, err := nodes.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("update node %s status: %w", n.Name, err)
	}
	return updated, a.renewLease(ctx, updated, now)
}

// renewLease renews the node's heartbeat lease in kube-node-lease.
func (a *Agent) renewLease(ctx context.Context, node *corev1.Node, now time.Time) error {
	leases := a.cs.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	cur, err := leases.Get(ctx, node.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = leases.Create(ctx, nodeLease(node, nil, a.cfg.LeaseInterval, now), metav1.CreateOptions{})
	} else if err == nil {
		_, err = leases.Update(ctx, nodeLease(node, cur, a.cfg.LeaseInterval, now), metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("renew node lease %s: %w", node.Name, err)
	}
	return nil
}

// nodeSpec is the spec a node registers with.
func nodeSpec(n NodeFacts) corev1.NodeSpec {
	var spec corev1.NodeSpec
	if n.PodCIDR != "" {
		spec.PodCIDR, spec.PodCIDRs = n.PodCIDR, []string{n.PodCIDR}
	}
	if n.NoPods {
		spec.Taints = []corev1.Taint{NoPodsTaint}
	}
	return spec
}

// WaitPodCIDR waits until node name is registered with a pod CIDR (the
// coordinator gives one to every Node) and returns it.
func WaitPodCIDR(ctx context.Context, cs kubernetes.Interface, name string) (string, error) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		n, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err == nil && n.Spec.PodCIDR != "" {
			return n.Spec.PodCIDR, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("node %s got no pod CIDR: %w", name, context.Cause(ctx))
		case <-tick.C:
		}
	}
}

// finishDeletions deletes, at once, the pods bound to a node that runs
// none when they are marked for deletion: the node has nothing to stop,
// and the final delete is the node's to make.
func (a *Agent) finishDeletions(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	pods := a.cs.CoreV1().Pods("")
	for {
		list, err := pods.List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + a.cfg.Node.Name})
		if err == nil {
			for i := range list.Items {
				p := &list.Items[i]
				if p.DeletionTimestamp == nil {
					continue
				}
				uid := p.UID
				err := a.cs.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
					GracePeriodSeconds: new(int64), Preconditions: &metav1.Preconditions{UID: &uid}})
				if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
					a.cfg.Log.Warn("finish a pod's deletion", "pod", p.Namespace+"/"+p.Name, "err", err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
