package kubectl

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/keel-edge/keel/internal/kubectlbin"
)

var update = flag.Bool("update", false, "rewrite the expected outputs in testdata/*.txt with what kubectl printed")

// TestScenarios runs every testdata/*.txt script with each kubectl release
// in kubectlbin.Versions, each run against its own fresh agent.
func TestScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the kubectl scenarios start real agents (tier 2)")
	}
	for _, file := range scenarioFiles(t) {
		name := strings.TrimSuffix(filepath.Base(file), ".txt")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			text, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			script, err := ParseScript(file, string(text))
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			got := make([]map[string]string, len(script.Steps))
			for i := range got {
				got[i] = map[string]string{}
			}
			if *update {
				t.Cleanup(func() {
					mu.Lock()
					defer mu.Unlock()
					if out := script.Rewrite(kubectlbin.Versions, got); out != string(text) {
						if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
							t.Errorf("update %s: %v", file, err)
						}
					}
				})
			}
			for _, version := range kubectlbin.Versions {
				t.Run(version, func(t *testing.T) {
					t.Parallel()
					runScript(t, script, version, func(i int, out string) {
						mu.Lock()
						defer mu.Unlock()
						got[i][version] = out
					})
				})
			}
		})
	}
}

// scenarioFiles are the scripts in testdata.
func scenarioFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios in testdata/*.txt (err %v)", err)
	}
	return files
}

// runScript runs every step of script with kubectl <version>, records each
// normalised output and, unless -update, compares it with the expected one.
func runScript(t *testing.T, script *Script, version string, record func(step int, out string)) {
	r := newRun(t, version, kubectlbin.Require(t, version))
	for i, st := range script.Steps {
		out := r.step(st)
		record(i, out)
		if *update {
			continue
		}
		want, ok := st.Want(version)
		if !ok {
			t.Errorf("%s:%d: no expected output for kubectl %s (run with -update)", script.Name, st.Line, version)
			continue
		}
		if out != want {
			t.Errorf("%s:%d: kubectl %s: %s\n%s", script.Name, st.Line, version, st.Cmd, diffLines(want, out))
		}
	}
}

// diffLines shows want and got line by line: common lines indented,
// missing ones with "-", unexpected ones with "+" (a longest common
// subsequence of lines).
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	// lcs[i][j] is the length of the longest common subsequence of w[i:]
	// and g[j:].
	lcs := make([][]int, len(w)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(g)+1)
	}
	for i := len(w) - 1; i >= 0; i-- {
		for j := len(g) - 1; j >= 0; j-- {
			if w[i] == g[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var b strings.Builder
	b.WriteString("--- want\n+++ got\n")
	i, j := 0, 0
	for i < len(w) || j < len(g) {
		switch {
		case i < len(w) && j < len(g) && w[i] == g[j]:
			b.WriteString("  " + w[i] + "\n")
			i, j = i+1, j+1
		case j < len(g) && (i == len(w) || lcs[i][j+1] >= lcs[i+1][j]):
			b.WriteString("+ " + g[j] + "\n")
			j++
		default:
			b.WriteString("- " + w[i] + "\n")
			i++
		}
	}
	return b.String()
}

func TestDiffLines_marksChanges(t *testing.T) {
	tests := []struct{ want, got, out string }{
		{"a\nb", "a\nb", "  a\n  b\n"},
		{"a\nc", "a\nb\nc", "  a\n+ b\n  c\n"},
		{"a\nb\nc", "a\nc", "  a\n- b\n  c\n"},
		{"a", "b", "+ b\n- a\n"},
	}
	for _, tt := range tests {
		if got := diffLines(tt.want, tt.got); got != "--- want\n+++ got\n"+tt.out {
			t.Errorf("diffLines(%q, %q) =\n%s", tt.want, tt.got, got)
		}
	}
}
