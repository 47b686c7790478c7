package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// PodProcess finds a process of this agent's pods whose command line
// (arguments separated by NUL) starts with cmdline, and returns its pid
// and its cgroup v2 directory: enough to act from inside the pod (enter
// its network namespace, join its cgroup) while the agent is down.
func (a *Agent) PodProcess(cmdline string) (pid int, cgroupDir string, err error) {
	if a.CgroupParent == "" {
		return 0, "", fmt.Errorf("agent %s runs no pods", a.NodeName)
	}
	root := "/sys/fs/cgroup"
	if _, err := os.Stat("/sys/fs/cgroup/unified/cgroup.procs"); err == nil {
		root = "/sys/fs/cgroup/unified" // cgroup v1 with v2 beside it
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, "", err
	}
	for _, p := range procs {
		n, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		cg, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cgroup"))
		if err != nil {
			continue
		}
		var path string
		for _, line := range strings.Split(string(cg), "\n") {
			if v, ok := strings.CutPrefix(line, "0::"); ok {
				path = v
			}
		}
		if !strings.HasPrefix(path, "/"+a.CgroupParent+"/") {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err == nil && strings.HasPrefix(string(cmd), cmdline) {
			return n, filepath.Join(root, path), nil
		}
	}
	return 0, "", fmt.Errorf("no process %q in the pods of %s (cgroup %s)", strings.ReplaceAll(cmdline, "\x00", " "), a.NodeName, a.CgroupParent)
}
