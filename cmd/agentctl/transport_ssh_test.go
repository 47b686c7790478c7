package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseSSHDestination_forms(t *testing.T) {
	tests := []struct {
		in      string
		want    sshDestination
		wantErr string
	}{
		{in: "root@node1", want: sshDestination{User: "root", Host: "node1"}},
		{in: "node1", want: sshDestination{Host: "node1"}},
		{in: "root@127.0.0.1:2222", want: sshDestination{User: "root", Host: "127.0.0.1", Port: 2222}},
		{in: "ssh://admin@node1.example.com", want: sshDestination{User: "admin", Host: "node1.example.com"}},
		{in: "ssh://admin@node1:22/", want: sshDestination{User: "admin", Host: "node1", Port: 22}},
		{in: "root@[::1]:2222", want: sshDestination{User: "root", Host: "::1", Port: 2222}},
		{in: "ssh://[fe80::1]", want: sshDestination{Host: "fe80::1"}},
		{in: "", wantErr: "empty --ssh"},
		{in: "root:secret@node1", wantErr: "passwords are not accepted"},
		{in: "ssh://root:secret@node1", wantErr: "passwords are not accepted"},
		{in: "https://node1", wantErr: "only ssh://"},
		{in: "root@node1:0", wantErr: "not between 1 and 65535"},
		{in: "root@node1:70000", wantErr: "not between 1 and 65535"},
		{in: "root@node1:ssh", wantErr: "want [ssh://]user@host[:port]"},
		{in: "ssh://root@node1/path", wantErr: "no path or query"},
		{in: "root@node1?x=1", wantErr: "no path or query"},
		{in: "root@", wantErr: "no host"},
		{in: "@node1", wantErr: "empty user"},
		{in: "-oProxyCommand=touch", wantErr: "may not start with -"},
		{in: "-l@node1", wantErr: "may not start with -"},
		{in: "ro$ot@node1", wantErr: "shell characters"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseSSHDestination(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Fatalf("error %q shows the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseSSHDestination(f *testing.F) {
	for _, s := range []string{"root@node1", "ssh://root@[::1]:22", "a:b@c", "-o@x", "root@h:65536", "ssh://%zz", "u@h/p?q#f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseSSHDestination(s)
		if err != nil {
			// Text that may hold a password is never echoed back.
			rest := strings.TrimPrefix(s, "ssh://")
			const usage = "[ssh://]user@host[:port]"
			if at := strings.LastIndex(rest, "@"); at >= 0 && strings.Contains(rest[:at], ":") &&
				strings.Contains(err.Error(), rest) && !strings.Contains(usage, rest) {
				t.Fatalf("error %q echoes %q", err, rest)
			}
			return
		}
		if d.Host == "" || strings.HasPrefix(d.Host, "-") || strings.HasPrefix(d.User, "-") {
			t.Fatalf("accepted %q as %+v", s, d)
		}
		if d.Port < 0 || d.Port > 65535 {
			t.Fatalf("port %d out of range from %q", d.Port, s)
		}
		prog, args := sshArgs(d, sshOptions{}, false)
		if prog != "ssh" || args[len(args)-3] != "--" {
			t.Fatalf("unexpected command line %q %q", prog, args)
		}
	})
}

func TestSSHArgs_commandLine(t *testing.T) {
	tests := []struct {
		name string
		dest sshDestination
		opts sshOptions
		api  bool
		want []string
	}{
		{
			name: "minimal",
			dest: sshDestination{User: "root", Host: "node1"},
			want: []string{"-T", "root@node1", "--", "agentctl", "dial-stdio"},
		},
		{
			name: "everything",
			dest: sshDestination{User: "root", Host: "127.0.0.1", Port: 2222},
			opts: sshOptions{
				Config:         "/tmp/ssh config",
				Options:        []string{"BatchMode=yes", "ConnectTimeout=5"},
				RemoteAgentctl: "/usr/local/bin/agentctl",
				RemoteSocket:   "/run/keel/agent.sock",
			},
			want: []string{"-F", "/tmp/ssh config", "-p", "2222", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
				"-T", "root@127.0.0.1", "--", "/usr/local/bin/agentctl", "dial-stdio", "--socket", "/run/keel/agent.sock"},
		},
		{
			name: "api with a socket path the remote shell must not split",
			dest: sshDestination{Host: "node1"},
			opts: sshOptions{RemoteAgentctl: "sudo agentctl", RemoteSocket: "/run/my keel/it's.sock"},
			api:  true,
			want: []string{"-T", "node1", "--", "sudo agentctl", "dial-stdio", "--api", "--socket", `'/run/my keel/it'\''s.sock'`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog, args := sshArgs(tt.dest, tt.opts, tt.api)
			if prog != "ssh" {
				t.Errorf("prog = %q, want ssh", prog)
			}
			if !reflect.DeepEqual(args, tt.want) {
				t.Errorf("args =\n  %q\nwant\n  %q", args, tt.want)
			}
		})
	}
}

func TestShellQuote_roundTripsThroughSh(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("no sh in PATH: %v", err)
	}
	for _, s := range []string{"/run/keel/agent.sock", "a b", "it's", `"$HOME"`, "`id`", "x;y", ""} {
		out, err := exec.Command(sh, "-c", "printf %s "+shellQuote(s)).Output()
		if err != nil {
			t.Fatalf("sh -c with %q: %v", shellQuote(s), err)
		}
		if string(out) != s {
			t.Errorf("shellQuote(%q) came back as %q", s, out)
		}
	}
}

// fakeSSH writes a stand-in for ssh that runs its script with sh.
func fakeSSH(t *testing.T, script string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ssh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSSHDialer_passesArgsAndCarriesBytes(t *testing.T) {
	// The stand-in prints its arguments, then echoes stdin.
	bin := fakeSSH(t, `printf '%s|' "$@"; echo; exec cat`)
	d := &sshDialer{
		dest: sshDestination{User: "root", Host: "node1", Port: 2200},
		opts: sshOptions{Binary: bin, RemoteSocket: "/s.sock"},
	}
	conn, err := d.DialContext(context.Background(), "tcp", "localhost:80")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if conn.RemoteAddr().Network() != "ssh" || conn.RemoteAddr().String() != "root@node1" {
		t.Errorf("RemoteAddr = %s/%s", conn.RemoteAddr().Network(), conn.RemoteAddr())
	}
	if _, err := conn.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	if err := conn.(*commandConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	want := "-p|2200|-T|root@node1|--|agentctl|dial-stdio|--socket|/s.sock|\nping\n"
	if string(out) != want {
		t.Fatalf("got %q, want %q", out, want)
	}
}

func TestSSHDialer_earlyExitNamesCommand(t *testing.T) {
	bin := fakeSSH(t, `echo "Permission denied (publickey)." >&2; exit 255`)
	var stderr strings.Builder
	d := &sshDialer{dest: sshDestination{User: "root", Host: "node1"}, opts: sshOptions{Binary: bin}, stderr: &stderr}
	conn, err := d.DialContext(context.Background(), "tcp", "")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = io.ReadAll(conn)
	var ce *commandError
	if !errors.As(err, &ce) {
		t.Fatalf("read error = %v, want a *commandError", err)
	}
	for _, want := range []string{bin + " -T root@node1 -- agentctl dial-stdio", "exit status 255", "Permission denied (publickey)."} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if !strings.Contains(stderr.String(), "Permission denied") {
		t.Errorf("ssh's stderr was not passed through: %q", stderr.String())
	}
}

func TestSSHDialer_canceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d := &sshDialer{dest: sshDestination{Host: "node1"}, opts: sshOptions{Binary: "/nonexistent/ssh"}}
	if _, err := d.DialContext(ctx, "tcp", ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
