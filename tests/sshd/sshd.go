package sshd

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
	"testing"
	"time"
)

// startTimeout bounds how long sshd may take to start listening.
const startTimeout = 15 * time.Second

// privsepDir is the empty directory sshd chroots its unprivileged child
// into; Debian's service creates it at boot, so a test may have to.
const privsepDir = "/run/sshd"

// Server is a running OpenSSH server for one test.
type Server struct {
	// Host is the address sshd listens on: 127.0.0.1.
	Host string
	// Port is the port sshd listens on.
	Port int
	// User is the account the client key logs in as: root.
	User string
	// Dir holds the keys, known_hosts and configs; it is removed on cleanup.
	Dir string
	// ClientConfig is an ssh_config file for "ssh -F": it sets Port, User,
	// IdentityFile, UserKnownHostsFile (already holding the host key),
	// StrictHostKeyChecking accept-new and BatchMode yes, and uses no agent.
	ClientConfig string
	// IdentityFile is the client's private key, authorized for User.
	IdentityFile string
	// Tools are the OpenSSH programs in use.
	Tools Tools

	cmd  *exec.Cmd
	done chan struct{} // closed when sshd has exited
	logs *logBuffer
}

// Start runs sshd for the test and stops it when the test ends. It skips
// or fails through Require when sshd cannot run here.
func Start(t testing.TB) *Server {
	t.Helper()
	tools := Require(t)
	sshdPath, err := filepath.Abs(tools.SSHD)
	if err != nil {
		t.Fatalf("sshd path: %v", err)
	}
	tools.SSHD = sshdPath
	if err := os.MkdirAll(privsepDir, 0o755); err != nil {
		t.Fatalf("create sshd's privilege separation directory: %v", err)
	}
	s := &Server{Host: "127.0.0.1", User: "root", Dir: t.TempDir(), Tools: tools}
	if err := s.writeKeys(); err != nil {
		t.Fatal(err)
	}
	// A free port can be taken by someone else before sshd binds it; try
	// a few.
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		s.Port = port
		if lastErr = s.start(t); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("start sshd: %v", lastErr)
	}
	if err := s.writeClientFiles(); err != nil {
		t.Fatal(err)
	}
	return s
}

// Destination is the ssh destination user@host.
func (s *Server) Destination() string { return s.User + "@" + s.Host }

// Command is "ssh -F ClientConfig user@host -- args...".
func (s *Server) Command(args ...string) *exec.Cmd {
	return exec.Command(s.Tools.SSH, append([]string{"-F", s.ClientConfig, "-T", s.Destination(), "--"}, args...)...)
}

// Logs is what sshd has logged so far.
func (s *Server) Logs() string { return s.logs.String() }

// writeKeys makes the host key and the client key and authorizes the latter.
func (s *Server) writeKeys() error {
	s.IdentityFile = filepath.Join(s.Dir, "id_ed25519")
	for _, key := range []string{filepath.Join(s.Dir, "host_ed25519"), s.IdentityFile} {
		out, err := exec.Command(s.Tools.Keygen, "-q", "-t", "ed25519", "-N", "", "-C", "keel-test", "-f", key).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ssh-keygen %s: %w: %s", filepath.Base(key), err, out)
		}
	}
	pub, err := os.ReadFile(s.IdentityFile + ".pub")
	if err != nil {
		return fmt.Errorf("read client public key: %w", err)
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "authorized_keys"), pub, 0o600); err != nil {
		return fmt.Errorf("write authorized_keys: %w", err)
	}
	return nil
}

// sshdArgs is the server's command line: no config file, everything that
// matters given as -o so nothing of /etc/ssh is used.
func (s *Server) sshdArgs() []string {
	opts := []string{
		"ListenAddress=" + s.Host,
		"HostKey=" + filepath.Join(s.Dir, "host_ed25519"),
		"AuthorizedKeysFile=" + filepath.Join(s.Dir, "authorized_keys"),
		"AuthorizedPrincipalsFile=none",
		"AuthenticationMethods=publickey",
		"PubkeyAuthentication=yes",
		"PasswordAuthentication=no",
		"KbdInteractiveAuthentication=no",
		"HostbasedAuthentication=no",
		"PermitRootLogin=prohibit-password",
		"PermitEmptyPasswords=no",
		"AllowUsers=" + s.User,
		"UsePAM=no",
		"StrictModes=no",
		"PidFile=none",
		"UseDNS=no",
		"PrintMotd=no",
		"PrintLastLog=no",
		"PermitUserEnvironment=no",
		"AllowTcpForwarding=no",
		"AllowAgentForwarding=no",
		"X11Forwarding=no",
		"PermitTunnel=no",
		"MaxStartups=100",
		"MaxSessions=100",
		"LogLevel=INFO",
	}
	args := []string{"-D", "-e", "-f", "/dev/null", "-p", strconv.Itoa(s.Port)}
	for _, o := range opts {
		args = append(args, "-o", o)
	}
	return args
}

// start runs sshd and waits until it listens; on failure sshd is gone.
func (s *Server) start(t testing.TB) error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("pipe: %w", err)
	}
	s.logs = &logBuffer{}
	listening := make(chan struct{})
	cmd := exec.Command(s.Tools.SSHD, s.sshdArgs()...)
	cmd.Dir = s.Dir
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Stdout = w
	cmd.Stderr = w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		return fmt.Errorf("run %s: %w", s.Tools.SSHD, err)
	}
	marker := fmt.Sprintf("Server listening on %s port %d", s.Host, s.Port)
	go func() {
		defer r.Close()
		sc := bufio.NewScanner(r)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			s.logs.add(line)
			if strings.Contains(line, marker) {
				once.Do(func() { close(listening) })
			}
		}
	}()
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case <-listening:
	case <-done:
		return fmt.Errorf("sshd exited (%v) before listening on port %d:\n%s", cmd.ProcessState, s.Port, s.logs)
	case <-timer.C:
		killTree(cmd.Process.Pid)
		<-done
		return fmt.Errorf("sshd did not listen on port %d within %v:\n%s", s.Port, startTimeout, s.logs)
	}
	s.cmd, s.done = cmd, done
	t.Cleanup(func() {
		killTree(cmd.Process.Pid)
		<-done
		if t.Failed() {
			t.Logf("sshd log:\n%s", s.logs)
		}
	})
	return nil
}

// writeClientFiles writes known_hosts (with the host key) and the client
// config.
func (s *Server) writeClientFiles() error {
	hostPub, err := os.ReadFile(filepath.Join(s.Dir, "host_ed25519.pub"))
	if err != nil {
		return fmt.Errorf("read host public key: %w", err)
	}
	fields := strings.Fields(string(hostPub))
	if len(fields) < 2 {
		return fmt.Errorf("host public key: unexpected format")
	}
	knownHosts := filepath.Join(s.Dir, "known_hosts")
	line := fmt.Sprintf("[%s]:%d %s %s\n", s.Host, s.Port, fields[0], fields[1])
	if err := os.WriteFile(knownHosts, []byte(line), 0o600); err != nil {
		return fmt.Errorf("write known_hosts: %w", err)
	}
	s.ClientConfig = filepath.Join(s.Dir, "ssh_config")
	cfg := fmt.Sprintf(`Host *
	Port %d
	User %s
	IdentityFile "%s"
	IdentitiesOnly yes
	IdentityAgent none
	UserKnownHostsFile "%s"
	GlobalKnownHostsFile /dev/null
	StrictHostKeyChecking accept-new
	UpdateHostKeys no
	BatchMode yes
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	ControlMaster no
	ControlPath none
	ConnectTimeout 10
	LogLevel ERROR
`, s.Port, s.User, s.IdentityFile, knownHosts)
	if err := os.WriteFile(s.ClientConfig, []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("write ssh client config: %w", err)
	}
	return nil
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// killTree kills pid and every process descended from it, and returns
// once they have all exited. sshd's session processes start their own
// sessions, so a process group is not enough.
func killTree(pid int) {
	var waits []int
	for _, p := range append(descendants(pid), pid) {
		// A pidfd pins the process, so the exit we wait for is its own.
		fd, err := unix.PidfdOpen(p, 0)
		if err != nil {
			continue // gone already
		}
		if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil {
			unix.Close(fd)
			continue
		}
		waits = append(waits, fd)
	}
	for _, fd := range waits {
		// A pidfd turns readable when its process exits; SIGKILL cannot be
		// ignored, so the bound only guards against a stuck kernel.
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(fds, int(startTimeout/time.Millisecond)); !errors.Is(err, unix.EINTR) {
				break
			}
		}
		unix.Close(fd)
	}
}

// descendants lists the processes below pid, from /proc.
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The command name in parentheses may hold spaces; fields follow
		// the last ')'.
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil {
			children[ppid] = append(children[ppid], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// logBuffer collects sshd's log lines.
type logBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *logBuffer) add(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, line)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines, "\n")
}
