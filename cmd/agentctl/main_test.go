package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// fakeSSHEnv makes the test binary act as ssh plus the remote agentctl:
// it runs the command after "--" (minus the agentctl name) in-process,
// which is what "ssh host -- agentctl dial-stdio ..." does on a node.
const fakeSSHEnv = "AGENTCTL_TEST_FAKE_SSH"

func TestMain(m *testing.M) {
	if os.Getenv(fakeSSHEnv) == "1" {
		os.Exit(runAsFakeSSH(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func runAsFakeSSH(args []string) int {
	i := slices.Index(args, "--")
	if i < 0 || len(args) < i+3 {
		fmt.Fprintf(os.Stderr, "fake ssh: no remote command in %q\n", args)
		return 255
	}
	remote := args[i+2:] // drop "--" and the agentctl name
	cmd := newRootCmd(testStreams(os.Stdin, os.Stdout, os.Stderr), os.LookupEnv)
	cmd.SetArgs(remote)
	if err := cmd.Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "agentctl: %v\n", err)
		return 1
	}
	return 0
}

// installFakeSSH puts an "ssh" that runs this test binary first in $PATH.
func installFakeSSH(t *testing.T) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	script := fmt.Sprintf("#!/bin/sh\n%s=1 exec %s \"$@\"\n", fakeSSHEnv, shellQuote(self))
	if err := os.WriteFile(filepath.Join(dir, "ssh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}
