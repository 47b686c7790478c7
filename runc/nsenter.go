package runc

// libcontainer's nsenter joins namespaces in a C constructor before the Go
// runtime starts; it is what makes the re-executed init work. It needs
// cgo, as does the rest of libcontainer.
import _ "github.com/opencontainers/runc/libcontainer/nsenter"
