package bench

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/keel-edge/keel/tests/harness"
)

// Namespaces the benchmark writes to.
const (
	nsCreate = "bench-create"
	nsList   = "bench-list"
	nsWatch  = "bench-watch"
)

// fillClients is how many concurrent clients fill the list namespace.
const fillClients = 64

// watchEvents is how many creates the watch delivery latency is taken over.
const watchEvents = 500

// warmupCreates is how many creates each client makes before timing.
const warmupCreates = 200

// listSizes are the namespace sizes a full List is timed at.
var listSizes = []int{10_000, 100_000}

// payload is the 1 KiB of data each benchmark ConfigMap carries.
var payload = strings.Repeat("0123456789abcdef", 64)

// configMap is the object every benchmark create sends.
func configMap(ns, name string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "bench"}},
		Data:       map[string]string{"payload": payload},
	}
}

func cmName(i int64) string { return fmt.Sprintf("cm-%08d", i) }

// wire is the encoding a client speaks to the API.
type wire struct {
	name        string
	contentType string
	accept      string
}

var (
	// wireJSON sends and accepts JSON only, so the server converts nothing.
	wireJSON = wire{"JSON", "application/json", "application/json"}
	// wireProtobuf is what Kubernetes' own components configure: protobuf
	// bodies, protobuf or JSON answers.
	wireProtobuf = wire{"protobuf", "application/vnd.kubernetes.protobuf",
		"application/vnd.kubernetes.protobuf,application/json"}
)

// newClientset is a client of the API in kubeconfig speaking w, without
// client-side rate limiting.
func newClientset(kubeconfig string, w wire) (*kubernetes.Clientset, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", kubeconfig, err)
	}
	cfg.QPS = -1 // no client-side limiter
	cfg.ContentType = w.contentType
	cfg.AcceptContentTypes = w.accept
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", kubeconfig, err)
	}
	return cs, nil
}

// BenchmarkAgent starts a real single-node agent and measures it through
// its HTTPS API with client-go: durable creates, full lists at 10k and 100k
// objects, watch delivery latency, and the agent's memory and store size.
// Right after the API's creates it runs raw bbolt puts on the same
// filesystem, so both see the disk in the same state. The figures are
// printed as one table when the run ends.
func BenchmarkAgent(b *testing.B) {
	if testing.Short() {
		b.Skip("starts an agent and writes 100k objects; skipped with -short")
	}
	recordLoad("machine load average at start")
	a := harness.StartAgent(b, harness.AgentOptions{})
	pid, err := agentPID(a.Socket, a.DataDir)
	if err != nil {
		b.Fatal(err)
	}
	recordRSS(b, pid, "agent RSS, idle after start")
	clients := map[wire]*kubernetes.Clientset{}
	for _, w := range []wire{wireJSON, wireProtobuf} {
		if clients[w], err = newClientset(a.Kubeconfig, w); err != nil {
			b.Fatal(err)
		}
	}
	cs := clients[wireJSON]
	ctx := b.Context()
	for _, ns := range []string{nsCreate, nsList, nsWatch} {
		obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
		if _, err := cs.CoreV1().Namespaces().Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			b.Fatalf("create namespace %s: %v", ns, err)
		}
	}

	created := benchCreates(b, clients)
	benchBolt(b, filepath.Dir(a.DataDir))

	filled := 0
	for _, size := range listSizes {
		r, err := fill(ctx, cs, filled, size)
		if err != nil {
			b.Fatal(err)
		}
		figures.set(secCreate, fmt.Sprintf("creates/s, %d clients (JSON), filling %s to %s",
			fillClients, count(int64(filled)), count(int64(size))),
			fmt.Sprintf("%.0f (p99 %s)", r.rate(), ms(r.pct(0.99))))
		filled = size
		if size == listSizes[len(listSizes)-1] {
			stored := int64(size) + created
			recordRSS(b, pid, fmt.Sprintf("agent RSS, %s ConfigMaps stored", count(stored)))
			if err := recordFiles(a.DataDir, stored); err != nil {
				b.Fatal(err)
			}
		}
		benchList(b, cs, size)
	}
	st := recordRSS(b, pid, "agent RSS after the lists")
	figures.set(secFootprint, "agent peak RSS (VmHWM) over the run", mib(st.hwm))

	wr, err := watchLatency(ctx, cs, nsWatch, watchEvents)
	if err != nil {
		b.Fatal(err)
	}
	r := wr.afterReturn
	figures.set(secWatch, fmt.Sprintf("watch delivery after create returned, p50 / p99 (%d events)", len(r.lat)),
		ms(r.pct(0.50))+" / "+ms(r.pct(0.99)))
	figures.set(secWatch, "events already there when create returned", fmt.Sprintf("%d of %d", wr.early, len(r.lat)))
	figures.set(secWatch, "watch delivery after create sent, p50 / p99",
		ms(wr.afterSend.pct(0.50))+" / "+ms(wr.afterSend.pct(0.99)))
	recordLoad("machine load average at end")
}

// benchCreates warms the clients up, then runs the create sub-benchmarks
// for each wire and 1 and 64 clients in nsCreate. It returns how many
// ConfigMaps it created.
func benchCreates(b *testing.B, clients map[wire]*kubernetes.Clientset) int64 {
	var created atomic.Int64
	create := func(cms typedcorev1.ConfigMapInterface) func(context.Context, int) error {
		return func(ctx context.Context, _ int) error {
			_, err := cms.Create(ctx, configMap(nsCreate, cmName(created.Add(1))), metav1.CreateOptions{})
			return err
		}
	}
	// Warm up connections and the agent's start-up work before timing.
	for _, w := range []wire{wireJSON, wireProtobuf} {
		if _, err := load(b.Context(), warmupCreates, 8, create(clients[w].CoreV1().ConfigMaps(nsCreate))); err != nil {
			b.Fatalf("warm up: %v", err)
		}
	}
	for _, w := range []wire{wireJSON, wireProtobuf} {
		for _, n := range []int{1, 64} {
			b.Run(fmt.Sprintf("create/%s/clients=%d", w.name, n), func(b *testing.B) {
				r := benchLoad(b, n, "creates", create(clients[w].CoreV1().ConfigMaps(nsCreate)))
				what := fmt.Sprintf("%d client%s (%s)", n, plural(n), w.name)
				figures.set(secCreate, "creates/s, "+what, fmt.Sprintf("%.0f", r.rate()))
				figures.set(secCreate, "create p50 / p99, "+what, ms(r.pct(0.50))+" / "+ms(r.pct(0.99)))
			})
		}
	}
	return created.Load()
}

// benchList runs the list sub-benchmarks of nsList, which holds size
// objects: through client-go's typed client, and as the raw body without
// decoding, which separates the server's time from the client's.
func benchList(b *testing.B, cs *kubernetes.Clientset, size int) {
	b.Run(fmt.Sprintf("list/typed/objects=%d", size), func(b *testing.B) {
		cms := cs.CoreV1().ConfigMaps(nsList)
		r := benchRepeat(b, func(ctx context.Context) error {
			l, err := cms.List(ctx, metav1.ListOptions{})
			if err == nil && len(l.Items) != size {
				err = fmt.Errorf("list %s: %d items, want %d", nsList, len(l.Items), size)
			}
			return err
		})
		figures.set(secList, fmt.Sprintf("list %s objects, client-go typed (p50)", count(int64(size))),
			fmt.Sprintf("%s (%d run%s)", ms(r.pct(0.50)), len(r.lat), plural(len(r.lat))))
	})
	b.Run(fmt.Sprintf("list/raw/objects=%d", size), func(b *testing.B) {
		var body int
		r := benchRepeat(b, func(ctx context.Context) error {
			raw, err := cs.CoreV1().RESTClient().Get().Namespace(nsList).Resource("configmaps").DoRaw(ctx)
			body = len(raw)
			return err
		})
		figures.set(secList, fmt.Sprintf("list %s objects, raw body no decode (p50)", count(int64(size))),
			fmt.Sprintf("%s (%d run%s, %s)", ms(r.pct(0.50)), len(r.lat), plural(len(r.lat)), mib(int64(body))))
	})
}

// fill creates ConfigMaps from index from up to to in nsList with
// fillClients concurrent clients.
func fill(ctx context.Context, cs *kubernetes.Clientset, from, to int) (result, error) {
	cms := cs.CoreV1().ConfigMaps(nsList)
	r, err := load(ctx, to-from, fillClients, func(ctx context.Context, i int) error {
		_, err := cms.Create(ctx, configMap(nsList, cmName(int64(from+i))), metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return result{}, fmt.Errorf("fill %s to %d: %w", nsList, to, err)
	}
	return r, nil
}

// benchRepeat times b.N sequential calls of op and reports the median.
func benchRepeat(b *testing.B, op func(ctx context.Context) error) result {
	b.Helper()
	b.ResetTimer()
	r, err := load(b.Context(), b.N, 1, func(ctx context.Context, _ int) error { return op(ctx) })
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(r.pct(0.50))/float64(time.Millisecond), "p50-ms")
	return r
}

// recordRSS records the agent's resident set now under name.
func recordRSS(b *testing.B, pid int, name string) procStatus {
	b.Helper()
	st, err := readProcStatus(pid)
	if err != nil {
		b.Fatal(err)
	}
	figures.set(secFootprint, name, mib(st.rss))
	return st
}

// recordLoad records the 1, 5 and 15 minute load averages: figures taken
// while other work shares the machine are worth less.
func recordLoad(name string) {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		figures.set(secMachine, name, strings.Join(f[:3], " ")+fmt.Sprintf(" (%d CPUs)", runtime.NumCPU()))
	}
}

// recordFiles records the size of every bbolt file in the agent's data
// directory, and the bytes per stored object of the largest.
func recordFiles(dataDir string, stored int64) error {
	var largest int64
	err := filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".db" {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dataDir, path)
		figures.set(secFootprint, "file size, "+rel, mib(info.Size()))
		largest = max(largest, info.Size())
		return nil
	})
	if err != nil {
		return fmt.Errorf("walk %s: %w", dataDir, err)
	}
	if stored > 0 && largest > 0 {
		figures.set(secFootprint, "store bytes per stored ConfigMap", fmt.Sprintf("%.0f", float64(largest)/float64(stored)))
	}
	return nil
}
