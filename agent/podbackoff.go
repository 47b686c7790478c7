package agent

import "time"

// Kubernetes' restart back-off: the first restart is immediate, later ones
// wait 10s, doubling up to 5m; a container that ran 10 minutes resets it.
const (
	backoffInitial = 10 * time.Second
	backoffMax     = 5 * time.Minute
	backoffReset   = 10 * time.Minute
)

// backoffDelay is the wait before a restart after streak restarts in a row.
func backoffDelay(streak int) time.Duration {
	if streak <= 0 {
		return 0
	}
	d := backoffInitial
	for i := 1; i < streak && d < backoffMax; i++ {
		d *= 2
	}
	return min(d, backoffMax)
}

// restartAfter is when an exited container may restart, and the streak its
// restart continues; a long run starts a new streak.
func restartAfter(streak int, started, finished time.Time) (time.Time, int) {
	if !started.IsZero() && finished.Sub(started) >= backoffReset {
		streak = 0
	}
	return finished.Add(backoffDelay(streak)), streak
}
