package apiserver_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// BenchmarkServer_create measures acknowledged (fsynced) creates through
// client-go over TLS with 64 concurrent clients; the end-to-end figure
// against a real agent is tests/bench.
func BenchmarkServer_create(b *testing.B) {
	s := newTestServer(b)
	cfg := *s.cfg
	cfg.QPS = -1 // no client-side rate limit
	cs, err := kubernetes.NewForConfig(&cfg)
	if err != nil {
		b.Fatal(err)
	}
	cms := cs.CoreV1().ConfigMaps("default")
	value := strings.Repeat("x", 1024)
	var n atomic.Int64
	const clients = 64
	b.ResetTimer()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := n.Add(1)
				if i > int64(b.N) {
					return
				}
				cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i)}, Data: map[string]string{"v": value}}
				if _, err := cms.Create(context.Background(), cm, metav1.CreateOptions{}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
}
