package harness

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// leakSettle is how long CheckNoLeaks waits for what is on its way out.
const leakSettle = 5 * time.Second

// made is what the harness created for each test, for CheckNoLeaks.
var made sync.Map // testing.TB -> *madeList

// madeList names a test's host objects: network namespaces (with their
// inodes, which outlive the name while a process holds them), links
// made in the host's namespace, cgroups, and directories that had
// mounts below them.
type madeList struct {
	mu      sync.Mutex
	netns   map[string]uint64
	links   []string
	cgroups []string
	dirs    []string
}

// track returns t's list when CheckNoLeaks watches t, else nil.
func track(t testing.TB) *madeList {
	if l, ok := made.Load(t); ok {
		return l.(*madeList)
	}
	return nil
}

func (l *madeList) add(f func(l *madeList)) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	f(l)
}

// recordNetNS, recordLink, recordCgroup and recordDir note what the
// harness made for t.
func recordNetNS(t testing.TB, name string) {
	ino := uint64(0)
	if st, err := os.Stat("/run/netns/" + name); err == nil {
		ino = st.Sys().(*syscall.Stat_t).Ino
	}
	track(t).add(func(l *madeList) { l.netns[name] = ino })
}

func recordLink(t testing.TB, names ...string) {
	track(t).add(func(l *madeList) { l.links = append(l.links, names...) })
}

func recordCgroup(t testing.TB, name string) {
	track(t).add(func(l *madeList) { l.cgroups = append(l.cgroups, name) })
}

func recordDir(t testing.TB, dirs ...string) {
	track(t).add(func(l *madeList) { l.dirs = append(l.dirs, dirs...) })
}

// CheckNoLeaks fails t when, after every other cleanup of t has run
// (call it first, before starting anything), something the harness made
// for t is left on the host: a network namespace (by name, or alive
// because a process still uses it: its links, routes, nftables tables
// and pod namespaces would live on), a link in the host's namespace, a
// cgroup, or a mount below an agent's directories. It also fails when
// the host's own namespace gained routes marked with the agent's route
// protocol or nftables tables named keel, which the agents in their
// namespaces must never make there.
// StartCluster calls it; calling it again for t changes nothing.
func CheckNoLeaks(t testing.TB) {
	t.Helper()
	l := &madeList{netns: map[string]uint64{}}
	if _, loaded := made.LoadOrStore(t, l); loaded {
		return
	}
	before, err := hostNetState()
	if err != nil {
		t.Fatalf("leak check: %v", err)
	}
	t.Cleanup(func() {
		made.Delete(t)
		// A process killed a moment ago may take a while to die (and to
		// release its namespace); what is still there after leakSettle is
		// left behind.
		var leaks, first []string
		start := time.Now()
		for deadline := start.Add(leakSettle); ; time.Sleep(100 * time.Millisecond) {
			after, err := hostNetState()
			if err != nil {
				t.Errorf("leak check: %v", err)
				return
			}
			leaks = l.leaks(before, after)
			if first == nil {
				first = leaks
			}
			if len(leaks) == 0 || time.Now().After(deadline) {
				break
			}
		}
		if len(first) > 0 && len(leaks) == 0 {
			t.Logf("leak check: waited %s for %s", time.Since(start).Round(time.Millisecond), strings.Join(first, "; "))
		}
		for _, leak := range leaks {
			t.Errorf("left behind: %s", leak)
		}
	})
}

// leaks lists what is left of l, and what the host's namespace gained
// between before and after.
func (l *madeList) leaks(before, after []string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	inodes := map[uint64]string{}
	for name, ino := range l.netns {
		if _, err := os.Stat("/run/netns/" + name); err == nil {
			out = append(out, "network namespace "+name)
		}
		if ino != 0 {
			inodes[ino] = name
		}
	}
	out = append(out, netnsUsers(inodes, l.cgroups, l.dirs)...)
	for _, name := range l.links {
		if _, err := os.Lstat("/sys/class/net/" + name); err == nil {
			out = append(out, "link "+name+" in the host's namespace")
		}
	}
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	roots = append(roots, "/sys/fs/cgroup")
	for _, cg := range l.cgroups {
		for _, root := range roots {
			if st, err := os.Stat(filepath.Join(root, cg)); err == nil && st.IsDir() {
				out = append(out, "cgroup "+filepath.Join(root, cg))
			}
		}
	}
	for _, m := range mountsUnder(l.dirs) {
		out = append(out, "mount "+m)
	}
	for _, s := range after {
		if !slices.Contains(before, s) {
			out = append(out, s+" in the host's namespace")
		}
	}
	slices.Sort(out)
	return out
}

// netnsUsers names the processes of the test (in one of its cgroups,
// or started on one of its directories) whose network namespace is one
// of inodes. The test's own processes are asked for because the kernel
// gives a gone namespace's inode to the next one made, which may be
// another test's running beside this one.
func netnsUsers(inodes map[uint64]string, cgroups, dirs []string) []string {
	if len(inodes) == 0 {
		return nil
	}
	var out []string
	procs, _ := os.ReadDir("/proc")
	for _, d := range procs {
		var pid int
		if _, err := fmt.Sscanf(d.Name(), "%d", &pid); err != nil {
			continue
		}
		st, err := os.Stat(filepath.Join("/proc", d.Name(), "ns", "net"))
		if err != nil {
			continue
		}
		if name, ok := inodes[st.Sys().(*syscall.Stat_t).Ino]; ok && isOurs(d.Name(), cgroups, dirs) {
			comm, _ := os.ReadFile(filepath.Join("/proc", d.Name(), "comm"))
			out = append(out, fmt.Sprintf("process %d (%s) in network namespace %s", pid, strings.TrimSpace(string(comm)), name))
		}
	}
	return out
}

// isOurs reports whether process pid is in one of cgroups or names one
// of dirs on its command line.
func isOurs(pid string, cgroups, dirs []string) bool {
	cg, _ := os.ReadFile(filepath.Join("/proc", pid, "cgroup"))
	for _, c := range cgroups {
		if strings.Contains(string(cg), "/"+c) {
			return true
		}
	}
	cmd, _ := os.ReadFile(filepath.Join("/proc", pid, "cmdline"))
	for _, d := range dirs {
		if strings.Contains(string(cmd), d) {
			return true
		}
	}
	return false
}

// mountsUnder lists the mount points below dirs.
func mountsUnder(dirs []string) []string {
	if len(dirs) == 0 {
		return nil
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		for _, d := range dirs {
			if strings.HasPrefix(fields[4], d+"/") || fields[4] == d {
				out = append(out, fields[4])
			}
		}
	}
	return out
}

// hostNetState is what the agent marks in a network namespace, as seen
// in the host's: routes of its route protocol (0x4b) and nftables
// tables named keel.
func hostNetState() ([]string, error) {
	var out []string
	routes, err := exec.Command("ip", "-4", "route", "show", "table", "all", "proto", "0x4b").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("ip route show proto 0x4b: %v: %s", err, routes)
	}
	for _, r := range strings.Split(strings.TrimSpace(string(routes)), "\n") {
		if r != "" {
			out = append(out, "route "+r)
		}
	}
	tables, err := exec.Command("nft", "list", "tables").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("nft list tables: %v: %s", err, tables)
	}
	for _, tb := range strings.Split(string(tables), "\n") {
		if f := strings.Fields(tb); len(f) == 3 && f[0] == "table" && strings.HasPrefix(f[2], "keel") {
			out = append(out, "nftables "+tb)
		}
	}
	return out, nil
}
