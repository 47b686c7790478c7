package runc

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// Config configures a Runtime.
type Config struct {
	// StateDir holds libcontainer state, sandbox namespace files and each
	// container's record; it must survive an agent restart (a tmpfs such
	// as /run is right: containers do not survive a reboot either).
	StateDir string
	// LogMaxBytes rotates a container's log once it grows past this size.
	LogMaxBytes int64
	// LogMaxFiles is how many log files are kept per container, the live
	// one included (at least 1).
	LogMaxFiles int
	// CgroupParent is the cgroup (relative to each hierarchy's root) under
	// which every container's cgroup is made.
	CgroupParent string
	// StartTimeout bounds how long a shim may take to report that its
	// container started.
	StartTimeout time.Duration
}

// DefaultConfig returns the configuration for a production node.
func DefaultConfig() Config {
	return Config{
		StateDir:     "/run/keel/runc",
		LogMaxBytes:  10 << 20,
		LogMaxFiles:  5,
		CgroupParent: "keel",
		StartTimeout: 30 * time.Second,
	}
}

// TestConfig returns a configuration rooted at dir with small logs.
func TestConfig(dir string) Config {
	c := DefaultConfig()
	c.StateDir = dir
	c.LogMaxBytes = 64 << 10
	c.LogMaxFiles = 3
	c.CgroupParent = "keel-test"
	c.StartTimeout = 20 * time.Second
	return c
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	var errs []error
	if c.StateDir == "" || !filepath.IsAbs(c.StateDir) {
		errs = append(errs, fmt.Errorf("StateDir %q: must be an absolute path", c.StateDir))
	}
	if c.LogMaxBytes < 1024 {
		errs = append(errs, fmt.Errorf("LogMaxBytes %d: must be at least 1024", c.LogMaxBytes))
	}
	if c.LogMaxFiles < 1 {
		errs = append(errs, fmt.Errorf("LogMaxFiles %d: must be at least 1", c.LogMaxFiles))
	}
	if c.CgroupParent == "" || strings.Contains(c.CgroupParent, "..") || filepath.IsAbs(c.CgroupParent) {
		errs = append(errs, fmt.Errorf("CgroupParent %q: must be a relative path without ..", c.CgroupParent))
	}
	if c.StartTimeout <= 0 {
		errs = append(errs, fmt.Errorf("StartTimeout %s: must be positive", c.StartTimeout))
	}
	return errors.Join(errs...)
}
