package bench

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestQuantile_nearestRank(t *testing.T) {
	ten := make([]time.Duration, 10)
	for i := range ten {
		ten[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one sample", []time.Duration{7}, 0.99, 7},
		{"median of ten", ten, 0.50, 5 * time.Millisecond},
		{"p90 of ten", ten, 0.90, 9 * time.Millisecond},
		{"p99 of ten is the largest", ten, 0.99, 10 * time.Millisecond},
		{"p100", ten, 1, 10 * time.Millisecond},
		{"tiny q is the smallest", ten, 0.001, time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := quantile(tt.sorted, tt.q); got != tt.want {
				t.Errorf("quantile(%v, %v) = %v, want %v", tt.sorted, tt.q, got, tt.want)
			}
		})
	}
}

func TestLoad_countsEveryCall(t *testing.T) {
	tests := []struct {
		name       string
		n, clients int
	}{
		{"none", 0, 4},
		{"one client", 5, 1},
		{"more clients than calls", 3, 64},
		{"many", 1000, 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := make([]int, tt.n)
			r, err := load(t.Context(), tt.n, tt.clients, func(_ context.Context, i int) error {
				seen[i]++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.lat) != tt.n {
				t.Errorf("%d latencies, want %d", len(r.lat), tt.n)
			}
			for i, c := range seen {
				if c != 1 {
					t.Errorf("call %d made %d times", i, c)
				}
			}
		})
	}
}

func TestLoad_stopsOnError(t *testing.T) {
	boom := errors.New("boom")
	_, err := load(t.Context(), 100, 4, func(_ context.Context, i int) error {
		if i == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
}

func TestTable_order(t *testing.T) {
	var tb table
	tb.set(secList, "list", "1")
	tb.set(secCreate, "creates b", "2")
	tb.set(secCreate, "creates a", "3")
	tb.set(secList, "list", "4") // replaces, keeps its place
	var buf bytes.Buffer
	if err := tb.write(&buf); err != nil {
		t.Fatal(err)
	}
	want := "figure      value\ncreates b   2\ncreates a   3\nlist        4\n"
	if buf.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", buf.String(), want)
	}
	var empty table
	buf.Reset()
	if err := empty.write(&buf); err != nil || buf.Len() != 0 {
		t.Errorf("empty table wrote %q, %v", buf.String(), err)
	}
}

func TestCount_separators(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0"}, {999, "999"}, {1000, "1,000"}, {100000, "100,000"}, {1234567, "1,234,567"}, {-12345, "-12,345"},
	}
	for _, tt := range tests {
		if got := count(tt.n); got != tt.want {
			t.Errorf("count(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestStatusKB_fields(t *testing.T) {
	text := []byte("Name:\tagent\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t12\nVmBad:\t12 MB\nVmNeg:\t-1 kB\n")
	tests := []struct {
		field   string
		want    int64
		wantErr bool
	}{
		{"VmRSS", 10240 << 10, false},
		{"VmHWM", 20480 << 10, false},
		{"Threads", 0, true},
		{"VmBad", 0, true},
		{"VmNeg", 0, true},
		{"VmSwap", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			got, err := statusKB(text, tt.field)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("statusKB(%s) = %d, %v; want %d, error %v", tt.field, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func FuzzStatusKB(f *testing.F) {
	f.Add([]byte("VmRSS:\t  1234 kB\n"), "VmRSS")
	f.Add([]byte("VmRSS:\n"), "VmRSS")
	f.Add([]byte("VmRSS: 99999999999999999999 kB"), "VmRSS")
	f.Add([]byte("a:b:c\nVmHWM: 1 kB kB"), "VmHWM")
	f.Fuzz(func(t *testing.T, text []byte, field string) {
		n, err := statusKB(text, field)
		if err == nil && (n < 0 || n%1024 != 0) {
			t.Errorf("statusKB = %d without error, want a non-negative multiple of 1024", n)
		}
	})
}

func TestReadProcStatus_self(t *testing.T) {
	st, err := readProcStatus(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.rss <= 0 || st.hwm < st.rss {
		t.Errorf("rss %d, hwm %d: want 0 < rss <= hwm", st.rss, st.hwm)
	}
}

func TestSocketPeerPID_listenerProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pid, err := socketPeerPID(path)
	if err != nil {
		t.Fatal(err)
	}
	if pid != os.Getpid() {
		t.Errorf("peer pid %d, want %d", pid, os.Getpid())
	}
	if _, err := socketPeerPID(filepath.Join(t.TempDir(), "none.sock")); err == nil {
		t.Error("peer pid of a missing socket: no error")
	}
}

func TestScanProc_findsByCommandLine(t *testing.T) {
	token := t.TempDir()
	cmd := exec.Command("sh", "-c", "read x", token) // waits on stdin until it closes
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()

	pid, err := scanProc(token)
	if err != nil {
		t.Fatal(err)
	}
	if pid != cmd.Process.Pid {
		t.Errorf("scan found pid %d, want %d", pid, cmd.Process.Pid)
	}
	if got, err := agentPID(filepath.Join(token, "none.sock"), token); err != nil || got != cmd.Process.Pid {
		t.Errorf("agentPID without a socket = %d, %v; want %d by the /proc scan", got, err, cmd.Process.Pid)
	}
	if _, err := scanProc(filepath.Join(token, "nobody-has-this")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("scan for an absent string: %v, want os.ErrNotExist", err)
	}
}
