package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// sshDestination is a parsed --ssh value: [ssh://][user@]host[:port].
type sshDestination struct {
	// User is the remote user; empty leaves it to ssh (config or local user).
	User string
	// Host is the host name or address, without brackets.
	Host string
	// Port is the port; 0 leaves it to ssh.
	Port int
}

// String is the destination as ssh takes it: [user@]host.
func (d sshDestination) String() string {
	if d.User == "" {
		return d.Host
	}
	return d.User + "@" + d.Host
}

// parseSSHDestination parses [ssh://][user@]host[:port]. IPv6 addresses
// with a port are written in brackets: root@[::1]:2222. Passwords, paths
// and anything ssh would read as an option are refused.
func parseSSHDestination(s string) (sshDestination, error) {
	if s == "" {
		return sshDestination{}, fmt.Errorf("empty --ssh destination; want [ssh://]user@host[:port]")
	}
	shown := redactDestination(s)
	raw := s
	if !strings.HasPrefix(raw, "ssh://") {
		if strings.Contains(raw, "://") {
			return sshDestination{}, fmt.Errorf("--ssh %q: only ssh:// destinations are supported", shown)
		}
		raw = "ssh://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return sshDestination{}, fmt.Errorf("--ssh %q: want [ssh://]user@host[:port]", shown)
	}
	if _, ok := u.User.Password(); ok {
		return sshDestination{}, fmt.Errorf("--ssh: passwords are not accepted in the destination; use keys or ssh-agent")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return sshDestination{}, fmt.Errorf("--ssh %q: a destination has no path or query; want [ssh://]user@host[:port]", shown)
	}
	d := sshDestination{User: u.User.Username(), Host: u.Hostname()}
	if p := u.Port(); p != "" {
		port, err := strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return sshDestination{}, fmt.Errorf("--ssh %q: port %q is not between 1 and 65535", shown, p)
		}
		d.Port = port
	}
	if d.Host == "" {
		return sshDestination{}, fmt.Errorf("--ssh %q: no host; want [ssh://]user@host[:port]", shown)
	}
	if u.User != nil && d.User == "" {
		return sshDestination{}, fmt.Errorf("--ssh %q: empty user before @", shown)
	}
	for _, part := range []string{d.User, d.Host} {
		if strings.HasPrefix(part, "-") || strings.ContainsAny(part, " \t\r\n\x00@/\\'\"`$;&|<>") {
			return sshDestination{}, fmt.Errorf("--ssh %q: user and host may not start with - or contain spaces, quotes or shell characters", shown)
		}
	}
	return d, nil
}

// redactDestination hides everything before the last '@' (after an
// ssh:// prefix) when it holds a ':', so a password never reaches an
// error message.
func redactDestination(s string) string {
	prefix := ""
	rest := s
	if strings.HasPrefix(rest, "ssh://") {
		prefix, rest = "ssh://", rest[len("ssh://"):]
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 || !strings.Contains(rest[:at], ":") {
		return s
	}
	return prefix + "…" + rest[at:]
}

// sshOptions are the flags that shape the ssh command line.
type sshOptions struct {
	// Config is --ssh-config, passed as ssh -F.
	Config string
	// Options are --ssh-option values, each passed as ssh -o.
	Options []string
	// RemoteAgentctl is --ssh-agentctl: the remote command prefix that
	// runs agentctl, e.g. "agentctl", "/usr/local/bin/agentctl" or
	// "sudo agentctl". It reaches the remote shell as written.
	RemoteAgentctl string
	// RemoteSocket is --remote-socket, the agent socket on the remote host;
	// empty uses the remote agentctl's default.
	RemoteSocket string
	// Binary is the ssh client to run; empty means "ssh" from $PATH.
	Binary string
}

// sshArgs builds the ssh command line that runs dial-stdio on the remote
// host, returning the program and its arguments. api asks the remote end
// to connect to the API's HTTPS port instead of the socket.
func sshArgs(d sshDestination, o sshOptions, api bool) (string, []string) {
	prog := o.Binary
	if prog == "" {
		prog = "ssh"
	}
	var args []string
	if o.Config != "" {
		args = append(args, "-F", o.Config)
	}
	if d.Port != 0 {
		args = append(args, "-p", strconv.Itoa(d.Port))
	}
	for _, opt := range o.Options {
		args = append(args, "-o", opt)
	}
	remote := o.RemoteAgentctl
	if remote == "" {
		remote = "agentctl"
	}
	args = append(args, "-T", d.String(), "--", remote, "dial-stdio")
	if api {
		args = append(args, "--api")
	}
	if o.RemoteSocket != "" {
		args = append(args, "--socket", shellQuote(o.RemoteSocket))
	}
	return prog, args
}

// shellQuote quotes s for a POSIX shell when it holds anything but plain
// path characters; the remote side of ssh runs the command through one.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=+,@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// sshDialer dials the API through a new ssh process per connection.
type sshDialer struct {
	dest sshDestination
	opts sshOptions
	// api makes the remote end connect to the HTTPS port, not the socket.
	api bool
	// stderr receives ssh's stderr.
	stderr io.Writer
}

// DialContext starts ssh and returns its stdin and stdout as a connection.
// The context bounds only the start, not the connection's life.
func (s *sshDialer) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	prog, args := sshArgs(s.dest, s.opts, s.api)
	return startCommandConn(prog, args, s.stderr, sshAddr(s.dest.String()))
}

// sshAddr is the net.Addr of an ssh connection: its destination.
type sshAddr string

// Network is "ssh".
func (sshAddr) Network() string { return "ssh" }

// String is the destination.
func (a sshAddr) String() string { return string(a) }
