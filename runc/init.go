package runc

import (
	"os"

	"github.com/opencontainers/runc/libcontainer"
)

// argv[1] of the re-executed roles.
const (
	shimArg     = "keel-runc-shim"
	nsHolderArg = "keel-runc-ns"
)

// Init must be called first thing in main (before flags, logging or any
// goroutine). In a normal run it returns at once; when the binary was
// re-executed as a container's init, shim or a sandbox's namespace
// holder it runs that role and never
// returns.
func Init() {
	if len(os.Args) > 1 && os.Args[1] == "init" && os.Getenv("_LIBCONTAINER_INITPIPE") != "" {
		libcontainer.Init() // never returns
	}
	if len(os.Args) > 2 && os.Args[1] == shimArg {
		os.Exit(shimMain(os.Args[2]))
	}
	if len(os.Args) > 2 && os.Args[1] == nsHolderArg {
		os.Exit(nsHolderMain(os.Args[2]))
	}
}

// IsReexec reports whether this process was started as a container init or
// shim (for a main that wants to know without calling Init yet).
func IsReexec() bool {
	if len(os.Args) < 2 {
		return false
	}
	return (os.Args[1] == "init" && os.Getenv("_LIBCONTAINER_INITPIPE") != "") || os.Args[1] == shimArg || os.Args[1] == nsHolderArg
}
