package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/keel-edge/keel/tests/harness"
)

// BenchmarkPods measures apply-to-Running of real pods (busybox, image
// already on the node) for one pod at a time and for 50 at once, the
// agent's RSS idle and with 50 pods, and the agent binary's size. The
// agent runs in a network namespace of its own; the benchmark talks to it
// over its unix socket.
func BenchmarkPods(b *testing.B) {
	if testing.Short() {
		b.Skip("starts real containers")
	}
	if os.Geteuid() != 0 {
		b.Skip("real pods need root")
	}
	netns := harness.NetNS(b)
	data := b.TempDir()
	harness.PreloadImages(b, data)
	a := harness.StartAgent(b, harness.AgentOptions{DataDir: data, RunPods: true, NetNS: netns})
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: "http://localhost", QPS: -1,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", a.Socket)
		}})
	if err != nil {
		b.Fatal(err)
	}
	pid, err := agentPID(a.Socket, data)
	if err != nil {
		b.Fatal(err)
	}
	agentBin, _ := harness.Build(b)
	if st, err := os.Stat(agentBin); err == nil {
		figures.set(secFootprint, "agent binary size (static)", mib(st.Size()))
	}
	time.Sleep(2 * time.Second)
	recordRSS(b, pid, "agent RSS, single node idle (coordinator included)")

	ctx := context.Background()
	b.Run("one", func(b *testing.B) {
		var lat []time.Duration
		for i := 0; i < b.N; i++ {
			name := fmt.Sprintf("one-%d", i)
			d, err := toRunning(ctx, cs, []string{name})
			if err != nil {
				b.Fatal(err)
			}
			lat = append(lat, d...)
			deleteAll(ctx, b, cs)
		}
		slices.Sort(lat)
		figures.set(secPods, "apply to Running, 1 pod, p50 / p99",
			fmt.Sprintf("%s / %s (%d runs)", ms(quantile(lat, 0.50)), ms(quantile(lat, 0.99)), len(lat)))
	})
	b.Run("fifty", func(b *testing.B) {
		var lat []time.Duration
		for i := 0; i < b.N; i++ {
			names := make([]string, 50)
			for j := range names {
				names[j] = fmt.Sprintf("many-%d-%d", i, j)
			}
			d, err := toRunning(ctx, cs, names)
			if err != nil {
				b.Fatal(err)
			}
			lat = append(lat, d...)
			recordRSS(b, pid, "agent RSS, 50 pods running")
			deleteAll(ctx, b, cs)
		}
		slices.Sort(lat)
		figures.set(secPods, "apply to Running, 50 pods at once, p50 / p99 per pod",
			ms(quantile(lat, 0.50))+" / "+ms(quantile(lat, 0.99)))
	})
}

// toRunning creates the pods at once and returns, for each, the time from
// its create call to a watch showing it Running.
func toRunning(ctx context.Context, cs kubernetes.Interface, names []string) ([]time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	var mu sync.Mutex
	started := map[string]time.Time{}
	errc := make(chan error, len(names))
	for _, name := range names {
		go func() {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{
				TerminationGracePeriodSeconds: new(int64),
				Containers: []corev1.Container{{Name: "c", Image: "localhost/busybox:v1", ImagePullPolicy: corev1.PullNever,
					Command: []string{"sleep", "3600"}}}}}
			mu.Lock()
			started[name] = time.Now()
			mu.Unlock()
			_, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
			errc <- err
		}()
	}
	for range names {
		if err := <-errc; err != nil {
			return nil, err
		}
	}
	var out []time.Duration
	done := map[string]bool{}
	for len(done) < len(names) {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil, fmt.Errorf("watch closed with %d of %d running", len(done), len(names))
			}
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || done[p.Name] || p.Status.Phase != corev1.PodRunning {
				continue
			}
			mu.Lock()
			t0, mine := started[p.Name]
			mu.Unlock()
			if mine {
				done[p.Name] = true
				out = append(out, time.Since(t0))
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("%d of %d pods running: %w", len(done), len(names), ctx.Err())
		}
	}
	return out, nil
}

// deleteAll deletes the benchmark's pods and waits until they are gone.
func deleteAll(ctx context.Context, b *testing.B, cs kubernetes.Interface) {
	b.Helper()
	pods := cs.CoreV1().Pods("default")
	if err := pods.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{FieldSelector: fields.Everything().String()}); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		l, err := pods.List(ctx, metav1.ListOptions{})
		if err == nil && len(l.Items) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.Fatal("pods not deleted")
}
