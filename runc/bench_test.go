package runc

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// BenchmarkStartLatency measures create+start until the container runs,
// for this runtime (StartContainer returns once the process runs) and
// for the Debian runc binary on the same bundle (runc run -d), and
// prints p50/p99 of both. Run with -benchtime=50x.
func BenchmarkStartLatency(b *testing.B) {
	r := testRuntime(b)
	cs := runPod(b, r, "bench")
	cs.Args = []string{"/bin/sleep", "1000"}
	ctx := context.Background()
	var ours, theirs []time.Duration
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		st, err := r.StartContainer(ctx, cs)
		ours = append(ours, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := r.StopContainer(ctx, st.ID, 0); err != nil {
			b.Fatal(err)
		}
		if err := r.RemoveContainer(ctx, st.ID); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	runcBin, err := exec.LookPath("runc")
	if err != nil {
		b.Logf("no runc binary (apt-get install runc): comparison skipped")
	} else {
		theirs = benchRuncBinary(b, r, runcBin, cs, len(ours))
	}
	fmt.Printf("\n%-28s %6s %10s %10s\n", "start latency", "n", "p50", "p99")
	for _, row := range []struct {
		name string
		d    []time.Duration
	}{{"keel runc.Runtime", ours}, {"runc run -d (" + runcVersion(runcBin) + ")", theirs}} {
		if len(row.d) == 0 {
			continue
		}
		fmt.Printf("%-28s %6d %10s %10s\n", row.name, len(row.d), pct(row.d, 50), pct(row.d, 99))
	}
}

// benchRuncBinary times `runc run -d` of the same spec n times.
func benchRuncBinary(b *testing.B, r *Runtime, runcBin string, cs ContainerSpec, n int) []time.Duration {
	var sb sandboxRecord
	if err := readJSON(filepath.Join(r.sandboxDir(cs.PodUID), "sandbox.json"), &sb); err != nil {
		b.Fatal(err)
	}
	root := b.TempDir()
	var out []time.Duration
	for i := range n {
		id := fmt.Sprintf("bench-runc-%d", i)
		spec, err := buildSpec(id, cs, sb.NS, "/keel-test/"+id)
		if err != nil {
			b.Fatal(err)
		}
		bundle := b.TempDir()
		js, _ := json.Marshal(spec)
		if err := os.WriteFile(filepath.Join(bundle, "config.json"), js, 0o644); err != nil {
			b.Fatal(err)
		}
		// Detached, the container inherits runc's stdio: /dev/null, so
		// nothing waits on its output.
		cmd := exec.Command(runcBin, "--root", root, "run", "-d", "--bundle", bundle, id)
		start := time.Now()
		err = cmd.Run()
		out = append(out, time.Since(start))
		if err != nil {
			b.Fatalf("runc run %s: %v", id, err)
		}
		if msg, err := exec.Command(runcBin, "--root", root, "delete", "-f", id).CombinedOutput(); err != nil {
			b.Fatalf("runc delete: %v: %s", err, msg)
		}
	}
	return out
}

func runcVersion(bin string) string {
	if bin == "" {
		return "absent"
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "?"
	}
	var v string
	fmt.Sscanf(string(out), "runc version %s", &v)
	return v
}

// pct is the p-th percentile of ds.
func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return s[i].Round(100 * time.Microsecond)
}
