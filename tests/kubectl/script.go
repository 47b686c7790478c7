package kubectl

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// A script is a testdata/*.txt file: steps, each a command followed by the
// output expected from it.
//
//	# a comment, outside a step
//	kubectl create configmap app --from-literal=a=1
//	----
//	configmap/app created
//
// The command is every line up to the "----" line (so it may span lines).
// The expected output follows and ends at the first blank line (or the next
// separator). Output that itself holds blank lines or separator lines is
// fenced by doubled separators:
//
//	kubectl get deployments,services
//	----
//	----
//	NAME ...
//
//	NAME ...
//	----
//	----
//
// Where kubectl releases legitimately print differently, a step carries one
// block per release instead, each tagged with it ("---- 1.27", "---- 1.33"),
// separated by blank lines. A release without its own block uses the
// untagged one.

// separator matches a line opening an expected-output block, with an
// optional kubectl release tag.
var separator = regexp.MustCompile(`^----(?: (\d+\.\d+))?$`)

// Step is one command of a script and the output expected from it.
type Step struct {
	// Line is the 1-based line the command starts on.
	Line int
	// Cmd is the command's text, its lines joined by newlines.
	Cmd string
	// Expected holds the expected output by kubectl release; the key ""
	// is the block that applies to every release without its own.
	Expected map[string]string
	// first and end delimit, as 0-based line indexes [first, end), the
	// expected-output blocks in the file, which a rewrite replaces.
	first, end int
}

// Want is the output the step expects from the given kubectl release, and
// whether the step has a block that applies to it.
func (s *Step) Want(version string) (string, bool) {
	if out, ok := s.Expected[version]; ok {
		return out, true
	}
	out, ok := s.Expected[""]
	return out, ok
}

// Script is a parsed scenario file.
type Script struct {
	// Name is the file's name, used in positions.
	Name string
	// Steps are the file's steps in order.
	Steps []*Step
	lines []string
}

// ParseScript reads a scenario file. Errors name the file and line.
func ParseScript(name, text string) (*Script, error) {
	s := &Script{Name: name, lines: strings.Split(text, "\n")}
	p := &parser{s: s}
	for p.i < len(s.lines) {
		line := s.lines[p.i]
		switch {
		case strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#"):
			p.i++
		case separator.MatchString(line):
			return nil, p.errorf("expected output without a command before it")
		default:
			if err := p.step(); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

type parser struct {
	s *Script
	i int
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", p.s.Name, p.i+1, fmt.Sprintf(format, args...))
}

// step reads a command and the blocks after it.
func (p *parser) step() error {
	lines := p.s.lines
	st := &Step{Line: p.i + 1, Expected: map[string]string{}}
	start := p.i
	for p.i < len(lines) && !separator.MatchString(lines[p.i]) {
		p.i++
	}
	if p.i == len(lines) {
		p.i = start
		return p.errorf("command has no ---- line after it")
	}
	st.Cmd = strings.TrimRight(strings.Join(lines[start:p.i], "\n"), " \t\n")
	st.first = p.i
	for {
		version := separator.FindStringSubmatch(lines[p.i])[1]
		if _, dup := st.Expected[version]; dup {
			return p.errorf("second expected block for %q", versionLabel(version))
		}
		out, err := p.block()
		if err != nil {
			return err
		}
		st.Expected[version] = out
		st.end = p.i
		next := p.i
		for next < len(lines) && strings.TrimSpace(lines[next]) == "" {
			next++
		}
		if next == len(lines) || !separator.MatchString(lines[next]) {
			break
		}
		p.i = next
	}
	p.s.Steps = append(p.s.Steps, st)
	return nil
}

// block reads one expected-output block whose separator is at p.i and
// leaves p.i on the line after it.
func (p *parser) block() (string, error) {
	lines := p.s.lines
	open := p.i
	p.i++
	if p.i < len(lines) && lines[p.i] == "----" {
		p.i++
		for j := p.i; j+1 < len(lines); j++ {
			if lines[j] == "----" && lines[j+1] == "----" {
				out := strings.Join(lines[p.i:j], "\n")
				p.i = j + 2
				return out, nil
			}
		}
		p.i = open
		return "", p.errorf("fenced output (----, ----) is never closed by ----, ----")
	}
	from := p.i
	for p.i < len(lines) && strings.TrimSpace(lines[p.i]) != "" && !separator.MatchString(lines[p.i]) {
		p.i++
	}
	return strings.Join(lines[from:p.i], "\n"), nil
}

func versionLabel(v string) string {
	if v == "" {
		return "every release"
	}
	return "kubectl " + v
}

// Rewrite returns the file's text with the expected outputs replaced by
// what was observed. got[i] maps a kubectl release to step i's output from
// it; releases without an output (skipped, or the run stopped early) keep
// what the file expected of them. A step for which every release has an
// output, all the same, gets one untagged block; otherwise each release
// with an output gets its own block, in the order of versions.
func (s *Script) Rewrite(versions []string, got []map[string]string) string {
	lines := slices.Clone(s.lines)
	for i := len(s.Steps) - 1; i >= 0; i-- {
		st := s.Steps[i]
		var observed map[string]string
		if i < len(got) {
			observed = got[i]
		}
		if len(observed) == 0 {
			continue
		}
		want := map[string]string{}
		for _, v := range versions {
			if out, ok := observed[v]; ok {
				want[v] = out
			} else if out, ok := st.Want(v); ok {
				want[v] = out
			}
		}
		blocks := renderBlocks(versions, want)
		if st.end < len(lines) && strings.TrimSpace(lines[st.end]) != "" {
			// A fenced block may touch the next command; an unfenced one
			// needs the blank line that ends it.
			blocks = append(blocks, "")
		}
		lines = slices.Replace(lines, st.first, st.end, blocks...)
	}
	return strings.Join(lines, "\n")
}

// renderBlocks writes the expected blocks for one step.
func renderBlocks(versions []string, want map[string]string) []string {
	var distinct []string
	everyRelease := true
	for _, v := range versions {
		out, ok := want[v]
		everyRelease = everyRelease && ok
		if ok && !slices.Contains(distinct, out) {
			distinct = append(distinct, out)
		}
	}
	if len(distinct) == 0 {
		return renderBlock("----", "")
	}
	if len(distinct) == 1 && everyRelease {
		return renderBlock("----", distinct[0])
	}
	var lines []string
	for _, v := range versions {
		out, ok := want[v]
		if !ok {
			continue
		}
		if len(lines) > 0 {
			lines = append(lines, "")
		}
		lines = append(lines, renderBlock("---- "+v, out)...)
	}
	return lines
}

// renderBlock writes one block, fenced when the output has blank lines or
// lines a reader would take for separators.
func renderBlock(open, out string) []string {
	if out == "" {
		return []string{open}
	}
	body := strings.Split(out, "\n")
	fence := false
	for _, l := range body {
		if strings.TrimSpace(l) == "" || separator.MatchString(l) {
			fence = true
		}
	}
	if !fence {
		return append([]string{open}, body...)
	}
	lines := append([]string{open, "----"}, body...)
	return append(lines, "----", "----")
}
