package pods

import (
	"strings"
	"testing"
	"time"
)

// TestPods_failingContainerNeverLooksSucceeded runs a pod whose only
// container exits 3 under restartPolicy Never, polling its phase: it must
// go from Pending (or Running) to Failed with exit code 3, never through
// Succeeded, which would complete a Job that failed.
func TestPods_failingContainerNeverLooksSucceeded(t *testing.T) {
	n := startNode(t, "1.33")
	n.k("run", "fails", "--image=localhost/busybox:v1", "--restart=Never", "--command", "--", "sh", "-c", "sleep 0.2; exit 3")
	var seen []string
	deadline := time.Now().Add(60 * time.Second)
	for {
		out := n.k("get", "pod", "fails", "-o", `jsonpath={.status.phase} {.status.containerStatuses[0].state.terminated.exitCode}`)
		phase := strings.Fields(out + " ")[0]
		if len(seen) == 0 || seen[len(seen)-1] != phase {
			seen = append(seen, phase)
		}
		if phase == "Succeeded" {
			t.Fatalf("a container that exits 3 made its pod Succeeded; phases seen: %v", seen)
		}
		if phase == "Failed" {
			if !strings.HasSuffix(strings.TrimSpace(out), " 3") {
				t.Fatalf("failed pod: %q", out)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod not Failed within a minute; phases seen: %v", seen)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
