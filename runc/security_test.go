package runc

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/moby/sys/capability"
	"golang.org/x/sys/unix"
)

// capMask is the /proc/PID/status form of a capability set.
func capMask(t *testing.T, names []string) string {
	t.Helper()
	var m uint64
	for _, n := range names {
		found := false
		for _, k := range capability.ListKnown() {
			if "CAP_"+strings.ToUpper(k.String()) == n {
				m |= 1 << uint(k)
				found = true
			}
		}
		if !found {
			t.Fatalf("unknown cap %s", n)
		}
	}
	return fmt.Sprintf("%016x", m)
}

func TestRuntime_capabilities(t *testing.T) {
	r := testRuntime(t)
	held, err := heldCaps()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		sec  Security
		user uint32
		want string
	}{
		{"default", Security{}, 0, capMask(t, defaultCaps)},
		{"drop all", Security{CapDrop: []string{"ALL"}}, 0, capMask(t, nil)},
		{"drop all add one", Security{CapDrop: []string{"all"}, CapAdd: []string{"net_admin"}}, 0, capMask(t, []string{"CAP_NET_ADMIN"})},
		{"drop one", Security{CapDrop: []string{"CAP_CHOWN"}}, 0, capMask(t, defaultCaps[1:])},
		{"privileged", Security{Privileged: true}, 0, capMask(t, held)},
		{"non-root user has none effective", Security{}, 1000, capMask(t, nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := runPod(t, r, "caps-"+strings.ReplaceAll(tt.name, " ", "-"))
			cs.Security = tt.sec
			cs.Security.SeccompUnconfined = cs.Security.SeccompUnconfined || !seccompAvailable()
			cs.User, cs.Group = tt.user, tt.user
			cs.Args = []string{"/bin/grep", "CapEff", "/proc/self/status"}
			st := runToExit(t, r, cs)
			got := logText(t, cs.LogPath)
			if st.ExitCode != 0 || !strings.Contains(got, tt.want) {
				t.Fatalf("CapEff line %q (exit %d), want %s", got, st.ExitCode, tt.want)
			}
		})
	}
}

func TestRuntime_seccompDefaultProfile(t *testing.T) {
	r := testRuntime(t)
	if !seccompAvailable() {
		_, err := r.StartContainer(context.Background(), func() ContainerSpec {
			cs := runPod(t, r, "seccomp-missing")
			cs.Security.SeccompUnconfined = false
			cs.Args = []string{"/bin/true"}
			return cs
		}())
		if err == nil || !strings.Contains(err.Error(), "seccomp") {
			t.Fatalf("without seccomp support err = %v", err)
		}
		requireFeature(t, "the seccomp build tag (go test -tags seccomp)")
	}
	// unshare(CLONE_NEWUSER) needs no capability, so only the filter
	// can refuse it.
	tests := []struct {
		name       string
		unconfined bool
		want       string
	}{
		{"default profile blocks unshare", false, "Seccomp:\t2\nblocked\n"},
		{"unconfined allows it", true, "Seccomp:\t0\nallowed\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := runPod(t, r, "seccomp-"+fmt.Sprint(tt.unconfined))
			cs.Security.SeccompUnconfined = tt.unconfined
			cs.Args = []string{"/bin/sh", "-c", "grep '^Seccomp:' /proc/self/status; unshare -U true 2>/dev/null && echo allowed || echo blocked"}
			st := runToExit(t, r, cs)
			if got := logText(t, cs.LogPath); st.ExitCode != 0 || got != tt.want {
				t.Fatalf("log %q exit %d, want %q", got, st.ExitCode, tt.want)
			}
		})
	}
}

func TestRuntime_noAgentFDLeaksIntoContainer(t *testing.T) {
	r := testRuntime(t)
	// An fd opened without O_CLOEXEC and moved high, where it would be
	// inherited by anything this process execs.
	fd, err := unix.Open("/etc/hostname", unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	const leaked = 77
	if err := unix.Dup2(fd, leaked); err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	t.Cleanup(func() { unix.Close(leaked) })
	cs := runPod(t, r, "fds")
	cs.Args = []string{"/bin/sh", "-c", "ls /proc/$$/fd | tr '\\n' ' '"}
	st := runToExit(t, r, cs)
	got := strings.TrimSpace(logText(t, cs.LogPath))
	// sh itself holds 0, 1, 2 and (busybox) at most one fd of its own.
	if st.ExitCode != 0 || !regexp.MustCompile(`^0 1 2( \d+)?$`).MatchString(got) {
		t.Fatalf("container fds %q (exit %d)", got, st.ExitCode)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/self/fd/%d", leaked)); err != nil {
		t.Fatalf("test fd vanished: %v", err)
	}
}
