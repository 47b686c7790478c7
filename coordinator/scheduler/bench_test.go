package scheduler_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/keel-edge/keel/coordinator"
	"github.com/keel-edge/keel/coordinator/coordtest"
	"github.com/keel-edge/keel/coordinator/scheduler"
)

func benchNode(name string) *corev1.Node {
	alloc := corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("64"), corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods: resource.MustParse("1000"),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name, "zone": "z" + strconv.Itoa(len(name)%3)}},
		Status: corev1.NodeStatus{Capacity: alloc, Allocatable: alloc,
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}},
	}
}

func benchPod(ns, name string, owner types.UID) *corev1.Pod {
	yes := true
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": "bench"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "bench", UID: owner, Controller: &yes}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "localhost/busybox:v1",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")}}}}},
	}
}

// BenchmarkScheduleCore is the core alone: one Schedule and Assume per
// pod, no API.
func BenchmarkScheduleCore(b *testing.B) {
	for _, nodes := range []int{100, 1000, 5000} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			c := scheduler.NewCluster()
			for i := range nodes {
				c.SetNode(benchNode(fmt.Sprintf("node-%05d", i)))
			}
			// Keep about 20 pods per node bound: older pods are removed.
			keep := 20 * nodes
			pods := make([]*corev1.Pod, keep)
			for i := range keep {
				p := benchPod("default", fmt.Sprintf("p-%d", i), types.UID(fmt.Sprintf("rs-%d", i%50)))
				p.UID = types.UID(fmt.Sprintf("uid-%d", i))
				pods[i] = p
			}
			b.ResetTimer()
			for i := range b.N {
				p := pods[i%keep]
				if i >= keep {
					c.RemovePod(p.Namespace + "/" + p.Name)
				}
				d := c.Schedule(p)
				if d.Node == "" {
					b.Fatal(d.Message)
				}
				c.Assume(p, d.Node)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pods/s")
		})
	}
}

// BenchmarkScheduler runs the scheduler against an in-process coordinator
// with simulated nodes (Node objects, no agents), in two modes:
// concurrent, where 16 clients create pods while the scheduler binds them
// (pods bound per second, and the latency from the create call to the
// binding seen by a watch); and backlog, where the pods exist before the
// scheduler starts (pods bound per second from its start, its initial
// list included). KEEL_BENCH_MAX_PODS (default 10000) caps the pod counts
// tried; 150000 runs the largest case.
func BenchmarkScheduler(b *testing.B) {
	quietKlog()
	maxPods := 10000
	if v, err := strconv.Atoi(os.Getenv("KEEL_BENCH_MAX_PODS")); err == nil && v > 0 {
		maxPods = v
	}
	for _, nodes := range []int{100, 1000, 5000} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			env := startBench(b, nodes)
			for _, pods := range []int{10, 1000, 10000, 50000, 150000} {
				if pods > maxPods || (nodes == 100 && pods > 50000) {
					continue
				}
				for _, backlog := range []bool{false, true} {
					mode := "concurrent"
					if backlog {
						mode = "backlog"
					}
					b.Run(fmt.Sprintf("pods=%d/%s", pods, mode), func(b *testing.B) {
						for range b.N {
							env.run(b, pods, backlog)
						}
					})
				}
			}
		})
	}
}

type benchEnv struct {
	cs      kubernetes.Interface
	log     *slog.Logger
	runs    int
	mu      sync.Mutex
	created map[string]time.Time
	bound   map[string]time.Time
	count   atomic.Int64
}

func startBench(b *testing.B, nodes int) *benchEnv {
	c := coordtest.Start(b, func(c *coordinator.Config) { c.Controllers = false })
	rc := coordinator.LocalConfig(c.Config.Socket)
	rc.QPS = -1 // no client-side rate limit: the API server is what is measured
	// Protobuf bodies, as Kubernetes' own components use.
	rc.ContentType = "application/vnd.kubernetes.protobuf"
	rc.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	start := time.Now()
	g := errgroup.Group{}
	g.SetLimit(32)
	for i := range nodes {
		g.Go(func() error {
			n := benchNode(fmt.Sprintf("node-%05d", i))
			st := n.Status
			n, err := cs.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
			if err != nil {
				return err
			}
			n.Status = st
			_, err = cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	fmt.Printf("nodes=%d: created in %v\n", nodes, time.Since(start).Round(time.Millisecond))

	env := &benchEnv{cs: cs, created: map[string]time.Time{}, bound: map[string]time.Time{}}
	factory := informers.NewSharedInformerFactory(cs, 0)
	inf := factory.Core().V1().Pods().Informer()
	seen := func(obj any) {
		if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" {
			now := time.Now()
			key := p.Namespace + "/" + p.Name
			env.mu.Lock()
			if _, ok := env.bound[key]; !ok {
				env.bound[key] = now
				env.count.Add(1)
			}
			env.mu.Unlock()
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: seen, UpdateFunc: func(_, obj any) { seen(obj) }}); err != nil {
		b.Fatal(err)
	}
	env.log = c.Config.Log
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	b.Cleanup(func() {
		cancel()
		factory.Shutdown()
	})
	cache.WaitForCacheSync(ctx.Done(), inf.HasSynced)
	return env
}

// startScheduler runs a scheduler until the returned function is called.
func (e *benchEnv) startScheduler(b *testing.B) func() {
	cfg := scheduler.DefaultConfig(e.cs)
	cfg.Log = e.log
	if v, err := strconv.Atoi(os.Getenv("KEEL_BENCH_WORKERS")); err == nil && v > 0 {
		cfg.Workers = v
	}
	s, err := scheduler.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("scheduler run: %v", err)
		}
	}
}

// run creates pods in a namespace of their own and waits for all to be
// bound, with the scheduler running (concurrent) or started once they all
// exist (backlog).
func (e *benchEnv) run(b *testing.B, pods int, backlog bool) {
	b.StopTimer()
	ctx := context.Background()
	e.runs++
	ns := fmt.Sprintf("bench-%d", e.runs)
	if _, err := e.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	before := e.count.Load()
	var stop func()
	if !backlog {
		stop = e.startScheduler(b)
		// One pod bound first, so that the figures leave out the
		// scheduler's start.
		if _, err := e.cs.CoreV1().Pods(ns).Create(ctx, benchPod(ns, "warm-up", "warm-up"), metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		for e.count.Load() == before {
			time.Sleep(time.Millisecond)
		}
		before++
	}
	b.StartTimer()
	start := time.Now()
	g := errgroup.Group{}
	g.SetLimit(16)
	for i := range pods {
		g.Go(func() error {
			p := benchPod(ns, fmt.Sprintf("p-%d", i), types.UID(fmt.Sprintf("%s-rs-%d", ns, i%50)))
			t := time.Now()
			e.mu.Lock()
			e.created[ns+"/"+p.Name] = t
			e.mu.Unlock()
			_, err := e.cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	createdIn := time.Since(start)
	if backlog {
		start = time.Now()
		stop = e.startScheduler(b)
	}
	defer stop()
	deadline := time.Now().Add(10 * time.Minute)
	for e.count.Load()-before < int64(pods) {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d pods bound after 10 minutes", e.count.Load()-before, pods)
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()

	e.mu.Lock()
	lat := make([]time.Duration, 0, pods)
	var last time.Time
	for key, t := range e.created {
		if bt, ok := e.bound[key]; ok {
			lat = append(lat, bt.Sub(t))
			if bt.After(last) {
				last = bt
			}
			delete(e.created, key)
		}
	}
	e.mu.Unlock()
	slices.Sort(lat)
	pct := func(q float64) time.Duration {
		return lat[min(len(lat)-1, int(q*float64(len(lat))))].Round(time.Microsecond)
	}
	elapsed = last.Sub(start)
	if backlog {
		fmt.Printf("%s: created %.0f/s beforehand, bound %.0f pods/s\n", b.Name(), float64(pods)/createdIn.Seconds(), float64(pods)/elapsed.Seconds())
	} else {
		fmt.Printf("%s: created %.0f/s, bound %.0f pods/s, create-to-bind p50 %v p99 %v max %v\n",
			b.Name(), float64(pods)/createdIn.Seconds(), float64(pods)/elapsed.Seconds(), pct(0.5), pct(0.99), lat[len(lat)-1].Round(time.Microsecond))
		b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-ms")
	}
	b.ReportMetric(float64(pods)/elapsed.Seconds(), "pods/s")
}

// quietKlog drops client-go's own logs (the event recorder complains
// when a run's coordinator stops before its last events are written).
func quietKlog() {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	_ = fs.Set("logtostderr", "false")
	_ = fs.Set("stderrthreshold", "FATAL")
	klog.SetOutput(io.Discard)
}
