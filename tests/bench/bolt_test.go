package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// benchBolt runs, as sub-benchmarks of b, the disk's limit for the API's
// create figures: raw bbolt on a file in dir, one fsynced commit per put
// (NoSync false) either as its own Update transaction or grouped by
// db.Batch, with 1 and 64 goroutines. The value is the JSON of the
// benchmark's ConfigMap, so puts are the size of what the API stores. The
// file is opened with the freelist options the coordinator's store uses,
// so the difference to the API figures is the work above bbolt.
func benchBolt(b *testing.B, dir string) {
	value, err := json.Marshal(configMap("bench", "cm-00000000"))
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"update", "batch"} {
		for _, n := range []int{1, 64} {
			b.Run(fmt.Sprintf("bolt/%s/goroutines=%d", mode, n), func(b *testing.B) {
				path := filepath.Join(dir, fmt.Sprintf("bolt-%s-%d-%d.db", mode, n, b.N))
				defer os.Remove(path)
				db, err := bolt.Open(path, 0o600, &bolt.Options{
					NoFreelistSync: true, FreelistType: bolt.FreelistMapType,
				})
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				if err := db.Update(func(tx *bolt.Tx) error {
					_, err := tx.CreateBucket([]byte("configmaps"))
					return err
				}); err != nil {
					b.Fatal(err)
				}
				commit := db.Update
				if mode == "batch" {
					commit = db.Batch
				}
				r := benchLoad(b, n, "puts", func(_ context.Context, i int) error {
					key := fmt.Appendf(nil, "bench/cm-%08d", i)
					return commit(func(tx *bolt.Tx) error {
						return tx.Bucket([]byte("configmaps")).Put(key, value)
					})
				})
				what := fmt.Sprintf("bbolt %s, %d goroutine%s", map[string]string{"update": "Update", "batch": "Batch"}[mode], n, plural(n))
				figures.set(secBolt, "puts/s, "+what, fmt.Sprintf("%.0f", r.rate()))
				figures.set(secBolt, "put p50 / p99, "+what, ms(r.pct(0.50))+" / "+ms(r.pct(0.99)))
			})
		}
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
