package bench

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"testing"
	"text/tabwriter"
	"time"
)

// Sections order the printed table; rows keep the order they were first
// recorded in within a section.
const (
	secCreate = iota
	secBolt
	secList
	secWatch
	secPods
	secFootprint
	secMachine
)

// row is one line of the final table.
type row struct {
	section int
	seq     int
	name    string
	value   string
}

// table collects the figures of a run. A figure recorded again replaces
// the earlier value: the last (largest) b.N of a benchmark wins.
type table struct {
	mu   sync.Mutex
	rows map[string]*row
}

// figures is the table printed when the run ends.
var figures = &table{}

func (t *table) set(section int, name, value string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.rows == nil {
		t.rows = map[string]*row{}
	}
	if r, ok := t.rows[name]; ok {
		r.value = value
		return
	}
	t.rows[name] = &row{section: section, seq: len(t.rows), name: name, value: value}
}

func (t *table) write(w io.Writer) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.rows) == 0 {
		return nil
	}
	rows := make([]*row, 0, len(t.rows))
	for _, r := range t.rows {
		rows = append(rows, r)
	}
	slices.SortFunc(rows, func(a, b *row) int {
		return cmp.Or(cmp.Compare(a.section, b.section), cmp.Compare(a.seq, b.seq))
	})
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "figure\tvalue")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r.name, r.value)
	}
	return tw.Flush()
}

// TestMain prints the collected figures after the benchmarks ran; a run
// without -bench collects none and prints nothing.
func TestMain(m *testing.M) {
	code := m.Run()
	if err := figures.write(os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "print figures: %v\n", err)
	}
	os.Exit(code)
}

// ms formats a duration in milliseconds with two decimals.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

// mib formats a byte count in MiB.
func mib(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// count formats an integer with thousands separators.
func count(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + count(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
