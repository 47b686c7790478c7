package sshd

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestStart_keyLoginRunsCommands(t *testing.T) {
	s := Start(t)
	out, err := s.Command("echo", "hello from", "$(id -u)").CombinedOutput()
	if err != nil {
		t.Fatalf("ssh: %v\n%s\nsshd log:\n%s", err, out, s.Logs())
	}
	if got := strings.TrimSpace(string(out)); got != "hello from 0" {
		t.Fatalf("output = %q, want %q", got, "hello from 0")
	}
	// stdin reaches the remote command and its end is seen.
	cmd := s.Command("cat")
	cmd.Stdin = strings.NewReader("ping")
	out, err = cmd.Output()
	if err != nil || string(out) != "ping" {
		t.Fatalf("cat over ssh = %q, %v", out, err)
	}
}

func TestStart_refusesOtherKeysAndUsers(t *testing.T) {
	s := Start(t)
	other := filepath.Join(t.TempDir(), "other")
	if out, err := exec.Command(s.Tools.Keygen, "-q", "-t", "ed25519", "-N", "", "-f", other).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	tests := []struct {
		name string
		args []string
	}{
		{name: "unknown key", args: []string{"-F", s.ClientConfig, "-o", "IdentityFile=" + other, "-i", other,
			"-o", "IdentitiesOnly=yes", "-o", "CertificateFile=none", s.Destination(), "true"}},
		{name: "other user", args: []string{"-F", s.ClientConfig, "nobody@" + s.Host, "true"}},
		{name: "password only", args: []string{"-F", s.ClientConfig, "-o", "PubkeyAuthentication=no", s.Destination(), "true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.name == "unknown key" {
				// A config whose only identity is the other key.
				cfg, err := os.ReadFile(s.ClientConfig)
				if err != nil {
					t.Fatal(err)
				}
				alt := filepath.Join(t.TempDir(), "ssh_config")
				text := strings.Replace(string(cfg), s.IdentityFile, other, 1)
				if err := os.WriteFile(alt, []byte(text), 0o600); err != nil {
					t.Fatal(err)
				}
				args = []string{"-F", alt, s.Destination(), "true"}
			}
			out, err := exec.Command(s.Tools.SSH, args...).CombinedOutput()
			if err == nil {
				t.Fatalf("ssh %v succeeded; want it refused", args)
			}
			if !strings.Contains(string(out), "Permission denied") {
				t.Fatalf("ssh output = %q, want Permission denied", out)
			}
		})
	}
}

func TestStart_cleanupKillsServerAndSessions(t *testing.T) {
	var s *Server
	var session *exec.Cmd
	var remotePID int
	t.Run("inner", func(t *testing.T) {
		s = Start(t)
		session = s.Command("echo $$; exec sleep 600")
		stdout, err := session.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := session.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil {
			t.Fatalf("read remote pid: %v", err)
		}
		if remotePID, err = strconv.Atoi(strings.TrimSpace(line)); err != nil {
			t.Fatalf("remote pid %q: %v", line, err)
		}
		if !slices.Contains(descendants(s.cmd.Process.Pid), remotePID) {
			t.Fatalf("remote command %d is not below sshd %d", remotePID, s.cmd.Process.Pid)
		}
	})
	for _, pid := range []int{s.cmd.Process.Pid, remotePID} {
		if alive(pid) {
			t.Errorf("process %d still runs after cleanup", pid)
		}
	}
	// The client's session ends because the server side was killed.
	if err := session.Wait(); err == nil {
		t.Errorf("ssh session ended cleanly; want it cut off")
	}
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Errorf("server directory %s still exists: %v", s.Dir, err)
	}
}

func TestRequire_reason(t *testing.T) {
	_, reason := lookupTools()
	if os.Geteuid() != 0 {
		if !strings.Contains(reason, "needs root") {
			t.Fatalf("reason = %q, want it to say root is needed", reason)
		}
		return
	}
	if _, err := exec.LookPath("sshd"); err != nil {
		if _, err := os.Stat("/usr/sbin/sshd"); err != nil && !strings.Contains(reason, "apt-get install openssh-server") {
			t.Fatalf("reason = %q, want an install hint", reason)
		}
	}
}

// alive reports whether pid runs; a zombie waiting to be reaped does not.
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] != 'Z'
}
