// Package sshd runs a real OpenSSH server for end-to-end tests: on
// 127.0.0.1 and a free port, with a host key and one authorized client key
// made for the test, none of /etc/ssh's configuration or keys, and root
// login by key only. It also writes the matching client config for
// "ssh -F", so tests exercise the system ssh client exactly as an operator
// would.
//
// It owns the server's lifetime: the server and its session processes are
// killed and its files removed when the test ends, pass or fail. It must
// not touch the machine's own sshd, keys or known_hosts.
package sshd
