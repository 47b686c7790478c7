package agent

import (
	"testing"
	"time"
)

func TestBackoffDelay_doublesToFiveMinutes(t *testing.T) {
	tests := []struct {
		streak int
		want   time.Duration
	}{
		{0, 0}, {1, 10 * time.Second}, {2, 20 * time.Second}, {3, 40 * time.Second},
		{5, 160 * time.Second}, {6, 5 * time.Minute}, {60, 5 * time.Minute},
	}
	for _, tt := range tests {
		if got := backoffDelay(tt.streak); got != tt.want {
			t.Errorf("streak %d: %v, want %v", tt.streak, got, tt.want)
		}
	}
}

func TestRestartAfter_resetsAfterLongRun(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		streak     int
		ran        time.Duration
		wantDelay  time.Duration
		wantStreak int
	}{
		{"first crash restarts at once", 0, time.Second, 0, 0},
		{"third crash waits 20s", 2, time.Second, 20 * time.Second, 2},
		{"ten minutes of running resets", 7, 10 * time.Minute, 0, 0},
		{"just under ten minutes keeps the streak", 3, 10*time.Minute - time.Second, 40 * time.Second, 3},
	}
	for _, tt := range tests {
		at, streak := restartAfter(tt.streak, t0, t0.Add(tt.ran))
		if got := at.Sub(t0.Add(tt.ran)); got != tt.wantDelay || streak != tt.wantStreak {
			t.Errorf("%s: delay %v streak %d, want %v %d", tt.name, got, streak, tt.wantDelay, tt.wantStreak)
		}
	}
}
