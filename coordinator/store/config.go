package store

import (
	"errors"
	"fmt"
)

// Defaults used by DefaultConfig.
const (
	// DefaultMaxBatch is the default for Config.MaxBatch.
	DefaultMaxBatch = 256
	// DefaultChangelogRetention is the default for Config.ChangelogRetention.
	DefaultChangelogRetention = 100_000
	// DefaultWatchBuffer is the default for Config.WatchBuffer.
	DefaultWatchBuffer = 1024
)

// Names of the buckets the store keeps for itself; ops may not use them.
const (
	changelogBucket = "changelog"
	metaBucket      = "meta"
)

// Config configures a Store.
type Config struct {
	// Path is the bbolt file. Its parent directory is created (mode 0700)
	// when missing; the file is created with mode 0600.
	Path string
	// MaxBatch is the largest number of commits the writer applies in one
	// bbolt transaction (and so under one fsync). At least 1.
	MaxBatch int
	// ChangelogRetention is the least number of recent revisions kept in
	// the changelog; older entries are compacted away, and a watch that
	// starts before them gets ErrCompacted. At least 1.
	ChangelogRetention int64
	// Transformers seals the values of the bucket named by the map key
	// before they reach disk, data bucket and changelog alike, and opens
	// them on every read. Buckets without an entry are stored as given.
	Transformers map[string]Transformer
	// WatchBuffer is how many live events a watcher may have queued and not
	// yet received before it is dropped with ErrTooSlow, counting those
	// that arrive while it still replays the changelog. At least 1.
	WatchBuffer int
}

// DefaultConfig returns a Config for the file at path with every other field
// at its default.
func DefaultConfig(path string) Config {
	return Config{
		Path:               path,
		MaxBatch:           DefaultMaxBatch,
		ChangelogRetention: DefaultChangelogRetention,
		WatchBuffer:        DefaultWatchBuffer,
	}
}

// Validate reports every field that Open would refuse.
func (c Config) Validate() error {
	var errs []error
	if c.Path == "" {
		errs = append(errs, errors.New("path: must be set"))
	}
	if c.MaxBatch < 1 {
		errs = append(errs, fmt.Errorf("maxBatch: %d, must be at least 1 (default %d)", c.MaxBatch, DefaultMaxBatch))
	}
	if c.ChangelogRetention < 1 {
		errs = append(errs, fmt.Errorf("changelogRetention: %d, must be at least 1 (default %d)", c.ChangelogRetention, DefaultChangelogRetention))
	}
	if c.WatchBuffer < 1 {
		errs = append(errs, fmt.Errorf("watchBuffer: %d, must be at least 1 (default %d)", c.WatchBuffer, DefaultWatchBuffer))
	}
	for name, t := range c.Transformers {
		if err := checkBucketName(name); err != nil {
			errs = append(errs, fmt.Errorf("transformers[%q]: %w", name, err))
		}
		if t == nil {
			errs = append(errs, fmt.Errorf("transformers[%q]: nil transformer", name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store config: %w", err)
	}
	return nil
}

// checkBucketName refuses names the store cannot or will not use for data.
func checkBucketName(name string) error {
	switch {
	case name == "":
		return errors.New("empty bucket name")
	case name == changelogBucket || name == metaBucket:
		return fmt.Errorf("bucket name %q is reserved by the store", name)
	}
	return nil
}
