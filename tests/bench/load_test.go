package bench

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
)

// result is what a load run measured: the wall time and one latency per
// completed call, sorted.
type result struct {
	wall time.Duration
	lat  []time.Duration
}

// rate is completed calls per second of wall time.
func (r result) rate() float64 {
	if r.wall <= 0 {
		return 0
	}
	return float64(len(r.lat)) / r.wall.Seconds()
}

// pct is the nearest-rank q-quantile (0 < q <= 1) of the latencies.
func (r result) pct(q float64) time.Duration {
	return quantile(r.lat, q)
}

// quantile is the nearest-rank q-quantile of sorted durations: the
// smallest value with at least q of the samples at or below it.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// load makes n calls of op from clients goroutines, each call taking the
// next index, and times every call. The first error stops the run.
func load(ctx context.Context, n, clients int, op func(ctx context.Context, i int) error) (result, error) {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	start := time.Now()
	for range min(clients, max(n, 1)) {
		g.Go(func() error {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return nil
				}
				t0 := time.Now()
				if err := op(ctx, i); err != nil {
					return err
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	err := g.Wait()
	wall := time.Since(start)
	if err != nil {
		return result{}, err
	}
	slices.Sort(lat)
	return result{wall: wall, lat: lat}, nil
}

// benchLoad runs b.N calls of op over clients goroutines inside a
// benchmark and reports ops/s and p50/p99 latency as metrics.
func benchLoad(b *testing.B, clients int, unit string, op func(ctx context.Context, i int) error) result {
	b.Helper()
	b.ResetTimer()
	r, err := load(b.Context(), b.N, clients, op)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(r.rate(), unit+"/s")
	b.ReportMetric(float64(r.pct(0.50))/float64(time.Millisecond), "p50-ms")
	b.ReportMetric(float64(r.pct(0.99))/float64(time.Millisecond), "p99-ms")
	return r
}
