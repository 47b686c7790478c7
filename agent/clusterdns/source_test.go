package clusterdns

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func waitView(t *testing.T, s *Source, name, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if v := s.View(); v != nil {
			if m := v.Answer(query(name, dns.TypeA)).Msg; m != nil && len(m.Answer) == 1 && m.Answer[0].(*dns.A).A.String() == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered %s", name, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSource_followsTheAPIAndKeepsItsSnapshot: the view follows
// Services through the informers; a later source whose API refuses every
// request answers from the snapshot the first one saved.
func TestSource_followsTheAPIAndKeepsItsSnapshot(t *testing.T) {
	snap := filepath.Join(t.TempDir(), "dns", "state.json")
	cs := fake.NewClientset(service("shop", "web", "10.96.0.20", corev1.ServicePort{Port: 80}))
	s, err := NewSource(informers.NewSharedInformerFactory(cs, 0), DefaultOptions(), snap, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Services("shop"); !errors.Is(err, ErrNotSynced) {
		t.Fatalf("Services before sync: %v; want ErrNotSynced", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitView(t, s, "web.shop.svc.cluster.local.", "10.96.0.20")
	if _, err := cs.CoreV1().Services("shop").Create(ctx, service("shop", "api", "10.96.0.21", corev1.ServicePort{Port: 80}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitView(t, s, "api.shop.svc.cluster.local.", "10.96.0.21")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	down := fake.NewClientset()
	down.PrependReactor("*", "*", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("connection refused")
	})
	s2, err := NewSource(informers.NewSharedInformerFactory(down, 0), DefaultOptions(), snap, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitView(t, s2, "api.shop.svc.cluster.local.", "10.96.0.21")
	svcs, err := s2.Services("shop")
	var names []string
	for _, s := range svcs {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	if err != nil || !slices.Equal(names, []string{"api", "web"}) {
		t.Fatalf("Services from the snapshot: %v, %v", names, err)
	}
}
