package kubectl

import (
	"regexp"
	"slices"
	"strings"
)

// Rule is one rewrite applied to kubectl's output before it is compared.
type Rule struct {
	// Name says what the rule hides, for the documentation and for tests.
	Name string
	// Re matches the volatile text.
	Re *regexp.Regexp
	// Repl replaces each match, with $1-style references to Re's groups.
	Repl string
	// Keep lists matches that are meaningful and stay as they are.
	Keep []string
}

// Rules are the rewrites applied, in this order, to every output before
// the table columns are handled. Each hides a value that differs between
// runs and that no scenario asserts on:
//
//   - uid: object uids and other UUIDs become <uid>.
//   - time: RFC 3339 timestamps (YAML, JSON) and the RFC 1123 dates of
//     kubectl describe become <time>.
//   - resourceVersion: the quoted value after a resourceVersion key
//     becomes "<rv>".
//   - cluster-ip: addresses in the service range 10.96.0.0/12 become
//     <cluster-ip>, except 10.96.0.1, which is always the kubernetes
//     service's.
//   - node-port: ports in 30000-32767 after "port:" in the PORT(S) column,
//     after a nodePort key and on describe's NodePort line become
//     <node-port>.
//   - ip: every other IPv4 address, except 127.0.0.1, becomes <ip> (the
//     node's address is the first host address of the machine).
//   - go-version: the Go release the agent was built with becomes
//     <go-version>.
//
// Before these, the values known for the run are replaced literally, and
// after them the words known for the run (see Rewriter).
// The node is always started as node-1, so its name needs no rewrite.
var Rules = []Rule{
	{Name: "uid", Re: regexp.MustCompile(`\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`), Repl: "<uid>"},
	{Name: "time", Re: regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})`), Repl: "<time>"},
	{Name: "time", Re: regexp.MustCompile(`\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}`), Repl: "<time>"},
	{Name: "resourceVersion", Re: regexp.MustCompile(`("?resourceVersion"?:\s*)"\d+"`), Repl: `$1"<rv>"`},
	{Name: "cluster-ip", Re: regexp.MustCompile(`\b10\.(?:9[6-9]|10[0-9]|11[01])\.\d{1,3}\.\d{1,3}\b`), Repl: "<cluster-ip>", Keep: []string{"10.96.0.1"}},
	{Name: "node-port", Re: regexp.MustCompile(`\b(\d{1,5}):3[0-2]\d{3}/`), Repl: "$1:<node-port>/"},
	{Name: "node-port", Re: regexp.MustCompile(`("?nodePort"?:\s*)3[0-2]\d{3}\b`), Repl: "${1}<node-port>"},
	{Name: "node-port", Re: regexp.MustCompile(`(?m)^(NodePort:.*\s)3[0-2]\d{3}/`), Repl: "${1}<node-port>/"},
	{Name: "ip", Re: regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b`), Repl: "<ip>", Keep: []string{"10.96.0.1", "127.0.0.1"}},
	{Name: "go-version", Re: regexp.MustCompile(`\bgo1\.\d+(?:\.\d+)?\b`), Repl: "<go-version>"},
}

// apply runs one rule over s.
func (r Rule) apply(s string) string {
	if len(r.Keep) == 0 {
		return r.Re.ReplaceAllString(s, r.Repl)
	}
	return r.Re.ReplaceAllStringFunc(s, func(m string) string {
		if slices.Contains(r.Keep, m) {
			return m
		}
		return r.Re.ReplaceAllString(m, r.Repl)
	})
}

// Rewriter makes kubectl's output comparable between runs.
type Rewriter struct {
	literals [][2]string
	words    []wordRule
}

type wordRule struct {
	re   *regexp.Regexp
	repl string
}

// Literal makes the rewriter replace every occurrence of old (a path, a
// version string) with repl before the Rules run. Empty olds are ignored.
func (w *Rewriter) Literal(old, repl string) {
	if old == "" {
		return
	}
	w.literals = append(w.literals, [2]string{old, repl})
	slices.SortStableFunc(w.literals, func(a, b [2]string) int { return len(b[0]) - len(a[0]) })
}

// Word makes the rewriter replace word (such as the API's port) where it
// stands as a whole word, after the Rules run. Empty words are ignored.
func (w *Rewriter) Word(word, repl string) {
	if word == "" {
		return
	}
	w.words = append(w.words, wordRule{re: regexp.MustCompile(`\b` + regexp.QuoteMeta(word) + `\b`), repl: repl})
}

// Normalize rewrites one command's output. Tables are read first, while
// their columns still line up (see normalizeTables); then every line
// outside them and every cell inside them gets the literals, the Rules and
// the words, in that order. Trailing blanks and blank lines are dropped.
func (w *Rewriter) Normalize(out string) string {
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t\r")
	}
	lines = normalizeTables(lines, w.rewrite)
	return strings.TrimRight(strings.Join(lines, "\n"), "\n")
}

// rewrite applies the literals, the Rules and the words to s.
func (w *Rewriter) rewrite(s string) string {
	for _, l := range w.literals {
		s = strings.ReplaceAll(s, l[0], l[1])
	}
	for _, r := range Rules {
		s = r.apply(s)
	}
	for _, wr := range w.words {
		s = wr.re.ReplaceAllLiteralString(s, wr.repl)
	}
	return s
}
