package controllers

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"k8s.io/client-go/kubernetes"
)

// Config configures the workload controllers.
type Config struct {
	// Client reaches the API server, typically built from
	// coordinator.LocalConfig.
	Client kubernetes.Interface
	// Workers is the number of keys each controller syncs at once.
	Workers int
	// Resync is how often the informers replay every object, so that a
	// missed event or an expired wait is eventually acted on.
	Resync time.Duration
	// ExpectationTimeout bounds how long the ReplicaSet controller waits
	// for its own pod creations and deletions to show up in its cache
	// before it trusts the cache again.
	ExpectationTimeout time.Duration
	// NodeMonitorGracePeriod is how long a node may go without renewing
	// its lease or posting Ready before its conditions turn Unknown and
	// it is tainted unreachable (Kubernetes: 40s). A node is never given
	// less than half its own lease's leaseDurationSeconds.
	NodeMonitorGracePeriod time.Duration
	// JobBackoff is the delay before the Job controller replaces the first
	// failed pod of a Job; it doubles with each further failure, up to six
	// minutes.
	JobBackoff time.Duration
	// LoadBalancerPool lists the addresses LoadBalancer services are
	// given, in the form ParseLoadBalancerPool reads; empty leaves them
	// pending.
	LoadBalancerPool string
	// Now is the clock the controllers read; time.Now when nil.
	Now func() time.Time
	// Log receives what the loops do; slog.Default when nil.
	Log *slog.Logger
}

// DefaultConfig returns the configuration of the coordinator's
// controllers talking through client.
func DefaultConfig(client kubernetes.Interface) Config {
	return Config{
		Client:             client,
		Workers:            4,
		Resync:             10 * time.Minute,
		ExpectationTimeout: 5 * time.Minute,
		JobBackoff:         10 * time.Second,
		Now:                time.Now,
		Log:                slog.Default(),

		NodeMonitorGracePeriod: 8 * time.Second,
	}
}

// TestConfig is DefaultConfig with short waits for tests.
func TestConfig(client kubernetes.Interface) Config {
	c := DefaultConfig(client)
	c.Workers = 2
	c.Resync = 30 * time.Second
	c.ExpectationTimeout = 10 * time.Second
	c.JobBackoff = 100 * time.Millisecond
	return c
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.Client == nil {
		return errors.New("controllers: a client is required")
	}
	if c.Workers < 1 {
		return errors.New("controllers: at least one worker is required")
	}
	if c.NodeMonitorGracePeriod <= 0 {
		return errors.New("controllers: the node monitor grace period must be positive")
	}
	if c.JobBackoff < 0 {
		return errors.New("controllers: the job back-off must not be negative")
	}
	if c.Resync < 0 || c.ExpectationTimeout <= 0 {
		return errors.New("controllers: resync must not be negative and the expectation timeout must be positive")
	}
	if _, err := ParseLoadBalancerPool(c.LoadBalancerPool); err != nil {
		return fmt.Errorf("controllers: %w", err)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c
}
