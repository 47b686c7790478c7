package harness

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMadeList_leaks records a namespace with a process of the test in
// it and a host link, and checks that both are reported until they are
// gone, and that a process the test did not start is not.
func TestMadeList_leaks(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: makes a network namespace (tier 2)")
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("needs root, and CI runs as root")
		}
		t.Skip("needs root: network namespaces")
	}
	l := &madeList{netns: map[string]uint64{}}
	made.Store(t, l)
	defer made.Delete(t)
	name := NetNS(t)
	mine := t.TempDir()
	sleep := exec.Command("nsenter", "--net=/run/netns/"+name, "--", "sh", "-c", "sleep 60; : "+mine)
	other := exec.Command("nsenter", "--net=/run/netns/"+name, "--", "sleep", "60")
	for _, c := range []*exec.Cmd{sleep, other} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		defer c.Process.Kill()
	}
	// Wait until nsenter has joined the namespace.
	want := l.netns[name]
	for i := 0; ; i++ {
		st, err := os.Stat(fmt.Sprintf("/proc/%d/ns/net", sleep.Process.Pid))
		if err == nil && st.Sys().(*syscall.Stat_t).Ino == want {
			break
		}
		if i == 100 {
			t.Fatal("nsenter did not join the namespace within 5 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	recordLink(t, "lo")
	recordDir(t, "/proc", mine)
	leaks := "\n" + strings.Join(l.leaks(nil, []string{"route 10.244.9.0/24 via 10.77.0.9"}), "\n") + "\n"
	for _, want := range []string{"\nnetwork namespace " + name + "\n", ") in network namespace " + name + "\n",
		"\nlink lo in the host's namespace\n", "\nmount /proc\n", "\nroute 10.244.9.0/24 via 10.77.0.9 in the host's namespace\n"} {
		if !strings.Contains(leaks, want) {
			t.Errorf("leaks lack %q:%s", want, leaks)
		}
	}
	if !strings.Contains(leaks, fmt.Sprintf("\nprocess %d (", sleep.Process.Pid)) {
		t.Errorf("the test's process %d is not reported:%s", sleep.Process.Pid, leaks)
	}
	if strings.Contains(leaks, fmt.Sprintf("\nprocess %d (", other.Process.Pid)) {
		t.Errorf("process %d, which the test did not start on its directories, is reported:%s", other.Process.Pid, leaks)
	}
	for _, c := range []*exec.Cmd{sleep, other} {
		c.Process.Kill()
		c.Wait()
	}
	if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns del: %v %s", err, out)
	}
	l.links, l.dirs = nil, nil
	if leaks := l.leaks([]string{"x"}, []string{"x"}); len(leaks) != 0 {
		t.Errorf("leaks once everything is gone: %q", leaks)
	}
}
