package runc

import "github.com/opencontainers/runc/libcontainer/seccomp"

func seccompAvailable() bool { return seccomp.Enabled }
