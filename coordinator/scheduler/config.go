package scheduler

import (
	"errors"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
)

// Config configures the scheduler loop.
type Config struct {
	// Client reaches the API server, typically built from
	// coordinator.LocalConfig.
	Client kubernetes.Interface
	// SchedulerName is the spec.schedulerName of the pods scheduled here;
	// pods that name no scheduler are scheduled too.
	SchedulerName string
	// Workers is how many bindings and failure reports are written at once.
	Workers int
	// PercentageOfNodesToScore is Cluster.PercentageOfNodesToScore: 0
	// adapts to the cluster's size, 100 scores every feasible node.
	PercentageOfNodesToScore int32
	// InitialBackoff and MaxBackoff bound the wait before a pod that could
	// not be scheduled is tried again.
	InitialBackoff, MaxBackoff time.Duration
	// UnschedulableTimeout retries an unschedulable pod even when nothing
	// in the cluster changed.
	UnschedulableTimeout time.Duration
	// Now is the clock the loop reads; time.Now when nil.
	Now func() time.Time
	// Log receives what the loop does; slog.Default when nil.
	Log *slog.Logger
}

// DefaultConfig returns the configuration of the coordinator's scheduler
// talking through client.
func DefaultConfig(client kubernetes.Interface) Config {
	return Config{
		Client:               client,
		SchedulerName:        corev1.DefaultSchedulerName,
		Workers:              16,
		InitialBackoff:       time.Second,
		MaxBackoff:           10 * time.Second,
		UnschedulableTimeout: 5 * time.Minute,
		Now:                  time.Now,
		Log:                  slog.Default(),
	}
}

// TestConfig is DefaultConfig with short waits for tests.
func TestConfig(client kubernetes.Interface) Config {
	c := DefaultConfig(client)
	c.Workers = 4
	c.InitialBackoff = 50 * time.Millisecond
	c.MaxBackoff = 500 * time.Millisecond
	c.UnschedulableTimeout = 10 * time.Second
	return c
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Client == nil:
		return errors.New("scheduler: a client is required")
	case c.SchedulerName == "":
		return errors.New("scheduler: a scheduler name is required")
	case c.Workers < 1:
		return errors.New("scheduler: at least one worker is required")
	case c.PercentageOfNodesToScore < 0 || c.PercentageOfNodesToScore > 100:
		return errors.New("scheduler: the percentage of nodes to score must be within 0 and 100")
	case c.InitialBackoff <= 0 || c.MaxBackoff < c.InitialBackoff:
		return errors.New("scheduler: the initial back-off must be positive and not above the maximum")
	case c.UnschedulableTimeout <= 0:
		return errors.New("scheduler: the unschedulable timeout must be positive")
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
