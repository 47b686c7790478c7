package pods

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keel-edge/keel/tests/harness"
)

// TestImages_agentctl imports, lists and removes images on a node through
// agentctl on the node's socket, the API server and the node API.
func TestImages_agentctl(t *testing.T) {
	n := startNode(t, "1.33")
	_, agentctl := harness.Build(t)
	run := func(wantErr bool, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, agentctl, append([]string{"--socket", n.agent.Socket}, args...)...).CombinedOutput()
		if (err != nil) != wantErr {
			t.Fatalf("agentctl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	ls := run(false, "image", "ls")
	if !strings.Contains(ls, "node-1   localhost/busybox:v1") || !strings.Contains(ls, "localhost/demo:v1") {
		t.Fatalf("image ls:\n%s", ls)
	}
	if out := run(false, "image", "rm", "localhost/busybox:v1"); !strings.Contains(out, "node-1: removed localhost/busybox:v1") {
		t.Fatalf("image rm: %s", out)
	}
	if ls := run(false, "image", "ls", "--all-nodes"); strings.Contains(ls, "busybox") {
		t.Fatalf("busybox still listed:\n%s", ls)
	}
	if out := run(true, "image", "rm", "localhost/busybox:v1"); !strings.Contains(out, "not found") {
		t.Fatalf("second rm: %s", out)
	}
	out := run(false, "image", "import", filepath.Join(testImages(t), "busybox.tar"), "--node", "node-1")
	if !strings.Contains(out, "node-1: imported localhost/busybox:v1 (sha256:") {
		t.Fatalf("image import: %s", out)
	}
	if out := run(true, "image", "ls", "--node", "nope"); !strings.Contains(out, "nope") {
		t.Fatalf("unknown node: %s", out)
	}
}
