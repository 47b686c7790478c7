package harness

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// NetNS creates a network namespace with loopback up for the test and
// removes it, and kills every process left in it, when the test ends.
func NetNS(t testing.TB) string {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	name := "keel-test-" + hex.EncodeToString(b[:])
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	recordNetNS(t, name)
	t.Cleanup(func() {
		killInNetNS(name)
		exec.Command("ip", "netns", "del", name).Run()
	})
	if out, err := exec.Command("ip", "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up in %s: %v: %s", name, err, out)
	}
	return name
}

// inNetNS prefixes a command line so it runs in the named network
// namespace, keeping the mount namespace (ip netns exec would remount /sys
// and hide the cgroup hierarchies).
func inNetNS(netns string, argv []string) []string {
	if netns == "" {
		return argv
	}
	return append([]string{"nsenter", "--net=/run/netns/" + netns, "--"}, argv...)
}

// killInNetNS kills every process whose network namespace is netns: the
// agent's containers and their shims outlive the agent by design.
func killInNetNS(netns string) {
	target, err := os.Stat("/run/netns/" + netns)
	if err != nil {
		return
	}
	want := target.Sys().(*syscall.Stat_t).Ino
	for i := 0; i < 3; i++ {
		found := false
		dirs, _ := os.ReadDir("/proc")
		for _, d := range dirs {
			var pid int
			if _, err := fmt.Sscanf(d.Name(), "%d", &pid); err != nil || pid == os.Getpid() {
				continue
			}
			st, err := os.Stat(filepath.Join("/proc", d.Name(), "ns", "net"))
			if err != nil || st.Sys().(*syscall.Stat_t).Ino != want {
				continue
			}
			syscall.Kill(pid, syscall.SIGKILL)
			found = true
		}
		if !found {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// unmountUnder detaches every mount below dir, deepest first.
func unmountUnder(dir string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			points = append(points, fields[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(points)))
	for _, p := range points {
		syscall.Unmount(p, syscall.MNT_DETACH)
	}
}

// killInCgroups kills every process in a cgroup or below it, in every
// hierarchy: the containers, which live in their pods' own network
// namespaces.
func killInCgroups(name string) {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	roots = append(roots, "/sys/fs/cgroup")
	for i := 0; i < 5; i++ {
		found := false
		for _, root := range roots {
			filepath.WalkDir(filepath.Join(root, name), func(p string, d os.DirEntry, err error) error {
				if err != nil || !d.IsDir() {
					return nil
				}
				data, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
				if err != nil {
					return nil
				}
				for _, f := range strings.Fields(string(data)) {
					var pid int
					if _, err := fmt.Sscanf(f, "%d", &pid); err == nil && pid > 1 {
						syscall.Kill(pid, syscall.SIGKILL)
						found = true
					}
				}
				return nil
			})
		}
		if !found {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// removeCgroups removes a cgroup and everything below it in every
// hierarchy, deepest first (only empty cgroups can go, so processes must
// be gone first).
func removeCgroups(name string) {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	roots = append(roots, "/sys/fs/cgroup")
	for _, root := range roots {
		base := filepath.Join(root, name)
		if _, err := os.Stat(base); err != nil {
			continue
		}
		var dirs []string
		filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
		for _, d := range dirs {
			os.Remove(d)
		}
	}
}
