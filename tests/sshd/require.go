package sshd

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Tools are the OpenSSH programs a test server needs.
type Tools struct {
	// SSHD is the server binary, an absolute path (sshd re-executes itself).
	SSHD string
	// SSH is the client.
	SSH string
	// Keygen is ssh-keygen.
	Keygen string
}

// Require returns the OpenSSH tools, or skips the test when it cannot run
// here: not root, or OpenSSH not installed. On the CI machine ($CI is
// "true") it fails instead, since the tests must run there.
func Require(t testing.TB) Tools {
	t.Helper()
	tools, reason := lookupTools()
	if reason == "" {
		return tools
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("sshd test cannot run on CI: %s", reason)
	}
	t.Skipf("skipping sshd test: %s", reason)
	return Tools{}
}

// lookupTools finds the tools and says why the server cannot run, if it
// cannot.
func lookupTools() (Tools, string) {
	if uid := os.Geteuid(); uid != 0 {
		return Tools{}, fmt.Sprintf("needs root to let a key log in as root (running as uid %d)", uid)
	}
	var tools Tools
	var missing []string
	find := func(name string, dirs ...string) string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		for _, d := range dirs {
			p := d + "/" + name
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
				return p
			}
		}
		missing = append(missing, name)
		return ""
	}
	tools.SSHD = find("sshd", "/usr/sbin", "/usr/local/sbin", "/sbin")
	tools.SSH = find("ssh", "/usr/bin", "/usr/local/bin")
	tools.Keygen = find("ssh-keygen", "/usr/bin", "/usr/local/bin")
	if len(missing) > 0 {
		return Tools{}, fmt.Sprintf("OpenSSH is not installed (missing %v; apt-get install openssh-server)", missing)
	}
	return tools, ""
}
