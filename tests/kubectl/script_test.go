package kubectl

import (
	"errors"
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/keel-edge/keel/internal/kubectlbin"
)

func TestParseScript_steps(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []Step
	}{
		{
			name: "one step",
			text: "# comment\nkubectl get ns\n----\nNAME\ndefault\n",
			want: []Step{{Line: 2, Cmd: "kubectl get ns", Expected: map[string]string{"": "NAME\ndefault"}}},
		},
		{
			name: "empty output and two steps",
			text: "a\n----\n\nb\n----\nout\n",
			want: []Step{
				{Line: 1, Cmd: "a", Expected: map[string]string{"": ""}},
				{Line: 4, Cmd: "b", Expected: map[string]string{"": "out"}},
			},
		},
		{
			name: "multi-line command",
			text: "cat <<EOF\nx\nEOF\n----\nx\n",
			want: []Step{{Line: 1, Cmd: "cat <<EOF\nx\nEOF", Expected: map[string]string{"": "x"}}},
		},
		{
			name: "fenced output with blank lines",
			text: "a\n----\n----\none\n\ntwo\n----\n----\n\nb\n----\n",
			want: []Step{
				{Line: 1, Cmd: "a", Expected: map[string]string{"": "one\n\ntwo"}},
				{Line: 10, Cmd: "b", Expected: map[string]string{"": ""}},
			},
		},
		{
			name: "blocks per release",
			text: "v\n---- 1.27\nold\n\n---- 1.33\n----\nnew\n\nnewer\n----\n----\n",
			want: []Step{{Line: 1, Cmd: "v", Expected: map[string]string{"1.27": "old", "1.33": "new\n\nnewer"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseScript("t.txt", tt.text)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Steps) != len(tt.want) {
				t.Fatalf("got %d steps, want %d", len(s.Steps), len(tt.want))
			}
			for i, st := range s.Steps {
				w := tt.want[i]
				if st.Line != w.Line || st.Cmd != w.Cmd || !maps.Equal(st.Expected, w.Expected) {
					t.Errorf("step %d = {%d %q %q}, want {%d %q %q}", i, st.Line, st.Cmd, st.Expected, w.Line, w.Cmd, w.Expected)
				}
			}
		})
	}
}

func TestParseScript_errors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"output without command", "----\nx\n", "t.txt:1: expected output without a command"},
		{"command without output", "# c\nkubectl get ns\n", "t.txt:2: command has no ---- line"},
		{"unclosed fence", "a\n----\n----\nx\n", "t.txt:2: fenced output"},
		{"duplicate release", "a\n---- 1.27\nx\n\n---- 1.27\ny\n", "t.txt:5: second expected block for \"kubectl 1.27\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseScript("t.txt", tt.text)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to start with %q", err, tt.want)
			}
		})
	}
}

func TestStep_want(t *testing.T) {
	st := &Step{Expected: map[string]string{"": "any", "1.27": "old"}}
	for v, want := range map[string]string{"1.27": "old", "1.33": "any"} {
		if got, ok := st.Want(v); !ok || got != want {
			t.Errorf("Want(%s) = %q, %t; want %q", v, got, ok, want)
		}
	}
	if _, ok := (&Step{Expected: map[string]string{"1.27": "x"}}).Want("1.33"); ok {
		t.Error("a step with only a 1.27 block applies to 1.33")
	}
}

func TestScript_rewrite(t *testing.T) {
	versions := []string{"1.27", "1.33"}
	tests := []struct {
		name string
		text string
		got  []map[string]string
		want string
	}{
		{
			name: "same on every release",
			text: "# c\na\n----\nold\n\nb\n----\nkeep\n",
			got:  []map[string]string{{"1.27": "new", "1.33": "new"}, nil},
			want: "# c\na\n----\nnew\n\nb\n----\nkeep\n",
		},
		{
			name: "releases differ",
			text: "a\n----\nold\n\nb\n----\n",
			got:  []map[string]string{{"1.27": "x", "1.33": "y"}, {"1.27": "", "1.33": ""}},
			want: "a\n---- 1.27\nx\n\n---- 1.33\ny\n\nb\n----\n",
		},
		{
			name: "releases agree again",
			text: "a\n---- 1.27\nx\n\n---- 1.33\ny\n",
			got:  []map[string]string{{"1.27": "z", "1.33": "z"}},
			want: "a\n----\nz\n",
		},
		{
			name: "a skipped release keeps its block",
			text: "a\n----\nold\n",
			got:  []map[string]string{{"1.33": "new"}},
			want: "a\n---- 1.27\nold\n\n---- 1.33\nnew\n",
		},
		{
			name: "blank lines are fenced",
			text: "a\n----\nold\n",
			got:  []map[string]string{{"1.27": "x\n\ny", "1.33": "x\n\ny"}},
			want: "a\n----\n----\nx\n\ny\n----\n----\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseScript("t.txt", tt.text)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Rewrite(versions, tt.got); got != tt.want {
				t.Errorf("Rewrite =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestScenarioFiles_parse keeps every scenario file readable by the parser
// and stable under a rewrite with its own expectations.
func TestScenarioFiles_parse(t *testing.T) {
	for _, file := range scenarioFiles(t) {
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		s, err := ParseScript(file, string(text))
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Steps) == 0 {
			t.Errorf("%s has no steps", file)
		}
		if out := s.Rewrite(kubectlbin.Versions, ownOutputs(s)); out != string(text) {
			t.Errorf("%s changes when rewritten with its own expectations", file)
		}
	}
}

// ownOutputs is what each step expects, as if every release printed it.
func ownOutputs(s *Script) []map[string]string {
	got := make([]map[string]string, len(s.Steps))
	for i, st := range s.Steps {
		got[i] = map[string]string{}
		for _, v := range kubectlbin.Versions {
			if out, ok := st.Want(v); ok {
				got[i][v] = out
			}
		}
	}
	return got
}

func FuzzParseScript(f *testing.F) {
	f.Add("a\n----\nx\n")
	f.Add("# c\na\nb\n----\n----\nx\n\ny\n----\n----\n\nc\n---- 1.27\n1\n\n---- 1.33\n2\n")
	f.Add("----\n")
	f.Add("a\n----\n----\n")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := ParseScript("f.txt", text)
		if err != nil {
			return
		}
		// Writing what the file expects, then reading it back, keeps
		// every expectation.
		again, err := ParseScript("f.txt", s.Rewrite(kubectlbin.Versions, ownOutputs(s)))
		if err != nil {
			t.Fatalf("rewritten script does not parse: %v", err)
		}
		if len(again.Steps) != len(s.Steps) {
			t.Fatalf("rewrite changed the number of steps from %d to %d", len(s.Steps), len(again.Steps))
		}
		for i, st := range s.Steps {
			for _, v := range kubectlbin.Versions {
				w, wok := st.Want(v)
				g, gok := again.Steps[i].Want(v)
				if wok != gok || w != g {
					t.Fatalf("step %d for %s: expected %q (%t) became %q (%t)", i, v, w, wok, g, gok)
				}
			}
		}
	})
}

func TestBinary_missingRelease(t *testing.T) {
	_, err := kubectlbin.Binary("0.0")
	if err == nil {
		t.Fatal("kubectlbin.Binary(0.0) found a release that does not exist")
	}
	if _, dirErr := kubectlbin.BinaryDir(); dirErr == nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("kubectlbin.Binary(0.0) error = %v, want one wrapping os.ErrNotExist", err)
	}
}
