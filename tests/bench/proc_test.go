package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// agentPID finds the process serving the unix socket at sock: the peer
// credentials of a connection to it name the process that listens, and its
// command line must mention dataDir. When that does not hold, it scans
// /proc for a process whose command line does.
func agentPID(sock, dataDir string) (int, error) {
	if pid, err := socketPeerPID(sock); err == nil && cmdlineHas(pid, dataDir) {
		return pid, nil
	}
	return scanProc(dataDir)
}

// socketPeerPID returns the pid of the process listening on the unix
// socket at path (SO_PEERCRED of a connection to it).
func socketPeerPID(path string) (int, error) {
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return 0, fmt.Errorf("dial %s: %w", path, err)
	}
	defer c.Close()
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("socket %s: %w", path, err)
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return 0, fmt.Errorf("socket %s: %w", path, err)
	}
	if credErr != nil {
		return 0, fmt.Errorf("peer credentials of %s: %w", path, credErr)
	}
	return int(cred.Pid), nil
}

// cmdlineHas reports whether one argument of process pid's command line
// contains s.
func cmdlineHas(pid int, s string) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return false
	}
	for arg := range bytes.SplitSeq(b, []byte{0}) {
		if bytes.Contains(arg, []byte(s)) {
			return true
		}
	}
	return false
}

// scanProc returns the lowest pid whose command line contains s, other
// than this process.
func scanProc(s string) (int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("scan /proc: %w", err)
	}
	self := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		if cmdlineHas(pid, s) {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("scan /proc: no process with %q in its command line: %w", s, os.ErrNotExist)
}

// procStatus holds the memory figures of /proc/PID/status, in bytes.
type procStatus struct {
	rss  int64 // VmRSS: resident set now
	hwm  int64 // VmHWM: peak resident set
	anon int64 // RssAnon: the part that is the process's own memory, not file pages
}

// readProcStatus reads the memory figures of process pid.
func readProcStatus(pid int) (procStatus, error) {
	path := filepath.Join("/proc", strconv.Itoa(pid), "status")
	b, err := os.ReadFile(path)
	if err != nil {
		return procStatus{}, fmt.Errorf("read %s: %w", path, err)
	}
	var st procStatus
	if st.rss, err = statusKB(b, "VmRSS"); err != nil {
		return procStatus{}, fmt.Errorf("%s: %w", path, err)
	}
	if st.hwm, err = statusKB(b, "VmHWM"); err != nil {
		return procStatus{}, fmt.Errorf("%s: %w", path, err)
	}
	if st.anon, err = statusKB(b, "RssAnon"); err != nil {
		return procStatus{}, fmt.Errorf("%s: %w", path, err)
	}
	return st, nil
}

// errNoField is returned by statusKB for a field the text does not have.
var errNoField = errors.New("no such field")

// statusKB returns the value in bytes of a "Field:   123 kB" line of a
// /proc/PID/status text.
func statusKB(text []byte, field string) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("field %s: %q is not \"N kB\"", field, strings.TrimSpace(rest))
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || n < 0 || n > 1<<53 {
			return 0, fmt.Errorf("field %s: %q is not a size in kB", field, f[0])
		}
		return n << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("field %s: %w", field, errNoField)
}
