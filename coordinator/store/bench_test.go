package store

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// benchPod is a pod manifest of about 1 KiB, the typical stored value.
var benchPod = func() []byte {
	const pod = `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"web-7d4b9c6f5d-x2x9p","generateName":"web-7d4b9c6f5d-","namespace":"default","uid":"0f5b1c7e-6a0d-4c53-9f55-2d4e3b1a9c77","resourceVersion":"12345","creationTimestamp":"2025-01-01T00:00:00Z","labels":{"app":"web","pod-template-hash":"7d4b9c6f5d"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-7d4b9c6f5d","uid":"6b1d2f0a-3c4e-4f5a-8b9c-0d1e2f3a4b5c","controller":true,"blockOwnerDeletion":true}]},"spec":{"containers":[{"name":"web","image":"registry.local/web:1.4.2","ports":[{"containerPort":8080,"protocol":"TCP"}],"resources":{"limits":{"cpu":"500m","memory":"256Mi"},"requests":{"cpu":"100m","memory":"64Mi"}},"terminationMessagePath":"/dev/termination-log","imagePullPolicy":"IfNotPresent"}],"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","nodeName":"edge-node-17","schedulerName":"default-scheduler"},"status":{"phase":"Running","podIP":"10.42.17.23","qosClass":"Burstable"}}`
	return []byte(pod + strings.Repeat(" ", max(0, 1024-len(pod))))
}()

// BenchmarkStore_Create measures acknowledged (fsynced) single-key creates
// of 1 KiB values with 1 and 64 concurrent clients: through the store's
// group commit, and through raw bbolt with one Update per put and with
// db.Batch, for comparison. Metrics: creates/s and p50/p99 latency in ms.
func BenchmarkStore_Create(b *testing.B) {
	for _, clients := range []int{1, 64} {
		b.Run(fmt.Sprintf("store/clients=%d", clients), func(b *testing.B) {
			cfg := DefaultConfig(filepath.Join(b.TempDir(), "store.db"))
			s, err := Open(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			runClients(b, clients, func(i int) error {
				_, err := s.Commit(context.Background(), Op{
					Kind: Create, Bucket: "pods", Key: fmt.Sprintf("default/pod-%09d", i),
					Value: func(int64) ([]byte, error) { return benchPod, nil },
				})
				return err
			})
		})
		for _, mode := range []string{"bolt-update", "bolt-batch"} {
			b.Run(fmt.Sprintf("%s/clients=%d", mode, clients), func(b *testing.B) {
				db, err := bolt.Open(filepath.Join(b.TempDir(), "bolt.db"), 0o600, &bolt.Options{
					NoFreelistSync: true, FreelistType: bolt.FreelistMapType,
				})
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				write := db.Update
				if mode == "bolt-batch" {
					write = db.Batch
				}
				runClients(b, clients, func(i int) error {
					key := fmt.Appendf(nil, "default/pod-%09d", i)
					return write(func(tx *bolt.Tx) error {
						bk, err := tx.CreateBucketIfNotExists([]byte("pods"))
						if err != nil {
							return err
						}
						return bk.Put(key, benchPod)
					})
				})
			})
		}
	}
}

// runClients runs b.N calls of op spread over clients goroutines and
// reports throughput and latency percentiles.
func runClients(b *testing.B, clients int, op func(i int) error) {
	b.Helper()
	lat := make([]time.Duration, b.N)
	var (
		nextOp  atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		opErr   error
	)
	b.ResetTimer()
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(nextOp.Add(1)) - 1
				if i >= b.N {
					return
				}
				t0 := time.Now()
				if err := op(i); err != nil {
					errOnce.Do(func() { opErr = err })
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if opErr != nil {
		b.Fatal(opErr)
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "creates/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
