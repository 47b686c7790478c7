package main

import (
	"strings"
	"testing"

	"github.com/keel-edge/keel/internal/version"
)

func TestVersion_clientAndServer(t *testing.T) {
	_, sock := startFakeAPI(t)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{name: "client only needs no server", args: []string{"version", "--client"},
			want: "Client Version: " + version.Version + "\n"},
		{name: "server from /version", env: map[string]string{"KEEL_SOCKET": sock}, args: []string{"version"},
			want: "Client Version: " + version.Version + "\nServer Version: v1.33.0-keel\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, err := runAgentctl(t, tt.env, "", tt.args...)
			if err != nil {
				t.Fatalf("%v: %v\n%s", tt.args, err, stderr)
			}
			if out != tt.want {
				t.Errorf("got %q, want %q", out, tt.want)
			}
		})
	}
}

func TestVersion_unreachableServer(t *testing.T) {
	missing := t.TempDir() + "/x.sock"
	out, _, err := runAgentctl(t, nil, "", "--socket", missing, "version")
	if !strings.HasPrefix(out, "Client Version: ") {
		t.Errorf("client version not printed first: %q", out)
	}
	if err == nil || !strings.Contains(err.Error(), "cannot reach the API at "+missing) {
		t.Fatalf("err = %v", err)
	}
}
