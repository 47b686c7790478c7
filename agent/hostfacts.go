package agent

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/keel-edge/keel/internal/hostaddr"
)

// ReadHostFacts reads the machine's facts from the kernel and /etc.
func ReadHostFacts() (HostFacts, error) {
	h := HostFacts{CPUs: runtime.NumCPU(), Arch: runtime.GOARCH}
	var err error
	if h.Hostname, err = os.Hostname(); err != nil {
		return h, fmt.Errorf("hostname: %w", err)
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return h, fmt.Errorf("uname: %w", err)
	}
	h.KernelVersion = unix.ByteSliceToString(u.Release[:])
	if h.MemoryBytes, err = memTotal("/proc/meminfo"); err != nil {
		return h, err
	}
	h.OSImage = osImage("/etc/os-release")
	h.BootID = readTrim("/proc/sys/kernel/random/boot_id")
	h.MachineID = readTrim("/etc/machine-id")
	h.Addresses = hostaddr.Global()
	return h, nil
}

func readTrim(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// memTotal reads MemTotal from a meminfo file, in bytes.
func memTotal(path string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	return parseMemTotal(data)
}

func parseMemTotal(data []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("meminfo MemTotal %q: %w", f[1], err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("meminfo has no MemTotal line")
}

// osImage is PRETTY_NAME of an os-release file.
func osImage(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "Linux"
	}
	return parseOSRelease(data)
}

func parseOSRelease(data []byte) string {
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			if uq, err := strconv.Unquote(v); err == nil {
				return uq
			}
			return strings.Trim(v, `"'`)
		}
	}
	return "Linux"
}
