package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/keel-edge/keel/tests/harness"
)

// clusterPods is how many pods BenchmarkCluster stores.
const clusterPods = 1000

// BenchmarkCluster measures the memory of the coordinator and of a worker
// agent in a three-node cluster (agents in network namespaces, no
// containers run) holding clusterPods pods bound across the nodes.
func BenchmarkCluster(b *testing.B) {
	if testing.Short() {
		b.Skip("starts a three-node cluster")
	}
	if os.Geteuid() != 0 {
		b.Skip("network namespaces need root")
	}
	c := harness.StartCluster(b, harness.ClusterOptions{Nodes: 3, Coordinators: 1})
	coord, worker := c.Nodes[0], c.Nodes[2]
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: "http://localhost", QPS: -1,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", coord.Socket)
		}})
	if err != nil {
		b.Fatal(err)
	}
	rss := func(a *harness.Agent, name string) {
		st, err := readProcStatus(a.PID())
		if err != nil {
			b.Fatal(err)
		}
		figures.set(secFootprint, name, mib(st.rss)+" (anonymous "+mib(st.anon)+")")
	}
	rss(coord, "coordinator RSS, 3-node cluster, idle")
	rss(worker, "worker agent RSS, idle (no pods run)")

	ctx := b.Context()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	start := time.Now()
	for range 16 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= clusterPods {
					return
				}
				p := &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%05d", i), Namespace: "default",
						Labels: map[string]string{"app": "bench"}},
					Spec: corev1.PodSpec{NodeName: c.Nodes[i%3].NodeName,
						Containers: []corev1.Container{{Name: "c", Image: "localhost/busybox:v1", Command: []string{"sleep", "3600"}}}},
				}
				if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	figures.set(secFootprint, fmt.Sprintf("%d pods created and bound, 16 clients", clusterPods), ms(time.Since(start)))
	// Let informers and caches settle before reading memory.
	time.Sleep(5 * time.Second)
	rss(coord, fmt.Sprintf("coordinator RSS, %d pods stored", clusterPods))
	rss(worker, fmt.Sprintf("worker agent RSS, %d pods in the cluster", clusterPods))
}
