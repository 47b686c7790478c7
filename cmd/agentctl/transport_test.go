package main

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestSelectTransport_order(t *testing.T) {
	existing := map[string]bool{defaultSocket: true, "/env.sock": true}
	exists := func(p string) bool { return existing[p] }
	tests := []struct {
		name    string
		in      transportInput
		exists  func(string) bool
		want    transportChoice
		wantErr string
	}{
		{
			name: "ssh wins over everything",
			in: transportInput{SSH: "ssh://root@node1:2222", Kubeconfig: "/k", Socket: "/s", SocketSet: true,
				EnvKubeconfig: "/e", EnvSocket: "/env.sock"},
			want: transportChoice{kind: transportSSH, ssh: sshDestination{User: "root", Host: "node1", Port: 2222}},
		},
		{
			name: "kubeconfig flag wins over socket and env",
			in:   transportInput{Kubeconfig: "/k", Socket: "/s", SocketSet: true, EnvKubeconfig: "/e"},
			want: transportChoice{kind: transportKubeconfig, kubeconfigs: []string{"/k"}},
		},
		{
			name: "explicit socket wins over KUBECONFIG and is used even if absent",
			in:   transportInput{Socket: "/s", SocketSet: true, EnvKubeconfig: "/e"},
			want: transportChoice{kind: transportSocket, socket: "/s"},
		},
		{
			name: "KUBECONFIG list",
			in:   transportInput{Socket: defaultSocket, EnvKubeconfig: "/a:/b::"},
			want: transportChoice{kind: transportKubeconfig, kubeconfigs: []string{"/a", "/b"}},
		},
		{
			name: "KEEL_SOCKET when it exists",
			in:   transportInput{Socket: defaultSocket, EnvSocket: "/env.sock"},
			want: transportChoice{kind: transportSocket, socket: "/env.sock"},
		},
		{
			name: "default socket when it exists",
			in:   transportInput{Socket: defaultSocket},
			want: transportChoice{kind: transportSocket, socket: defaultSocket},
		},
		{
			name:    "nothing: the error names what was tried and what to pass",
			in:      transportInput{Socket: defaultSocket},
			exists:  func(string) bool { return false },
			wantErr: "agent socket /run/keel/agent.sock does not exist",
		},
		{
			name:    "KEEL_SOCKET that does not exist is named",
			in:      transportInput{Socket: defaultSocket, EnvSocket: "/missing.sock"},
			wantErr: "/missing.sock does not exist",
		},
		{
			name:    "bad ssh destination",
			in:      transportInput{SSH: "root@-oProxyCommand=x"},
			wantErr: "may not start with -",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := tt.exists
			if ex == nil {
				ex = exists
			}
			got, err := selectTransport(tt.in, ex)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("selectTransport: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSelectTransport_noTransportSaysWhatToPass(t *testing.T) {
	_, err := selectTransport(transportInput{Socket: defaultSocket}, func(string) bool { return false })
	var nt *noTransportError
	if !errors.As(err, &nt) {
		t.Fatalf("err = %T %v, want *noTransportError", err, err)
	}
	for _, want := range []string{"--kubeconfig FILE", "--ssh user@host", "--socket PATH"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestPathExists_behavior(t *testing.T) {
	dir := t.TempDir()
	if !pathExists(dir) {
		t.Errorf("pathExists(%s) = false for an existing directory", dir)
	}
	if pathExists(dir + "/missing") {
		t.Errorf("pathExists reports a missing file as existing")
	}
}
