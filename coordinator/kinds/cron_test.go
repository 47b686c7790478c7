package kinds

import (
	"strings"
	"testing"
	"time"
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return l
}

func TestParseSchedule_next(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	utc := time.UTC
	at := func(loc *time.Location, y int, mo time.Month, d, h, mi, s int) time.Time {
		return time.Date(y, mo, d, h, mi, s, 0, loc)
	}
	tests := []struct {
		name, spec string
		from, want time.Time
	}{
		{"every minute", "* * * * *", at(utc, 2024, 1, 1, 10, 0, 30), at(utc, 2024, 1, 1, 10, 1, 0)},
		{"every minute from exact minute", "* * * * *", at(utc, 2024, 1, 1, 10, 0, 0), at(utc, 2024, 1, 1, 10, 1, 0)},
		{"question marks", "? ? ? ? ?", at(utc, 2024, 1, 1, 10, 0, 0), at(utc, 2024, 1, 1, 10, 1, 0)},
		{"step", "*/15 * * * *", at(utc, 2024, 1, 1, 10, 7, 0), at(utc, 2024, 1, 1, 10, 15, 0)},
		{"step from value", "5/15 * * * *", at(utc, 2024, 1, 1, 10, 21, 0), at(utc, 2024, 1, 1, 10, 35, 0)},
		{"step wraps hour", "5/15 * * * *", at(utc, 2024, 1, 1, 10, 50, 0), at(utc, 2024, 1, 1, 11, 5, 0)},
		{"list", "1,3,5-7 * * * *", at(utc, 2024, 1, 1, 10, 3, 0), at(utc, 2024, 1, 1, 10, 5, 0)},
		{"hour range step weekdays", "0 9-17/2 * * MON-FRI", at(utc, 2024, 1, 5, 17, 30, 0), at(utc, 2024, 1, 8, 9, 0, 0)},
		{"lower-case names", "0 12 * jan,Jul sun", at(utc, 2024, 1, 29, 0, 0, 0), at(utc, 2024, 7, 7, 12, 0, 0)},
		{"month boundary", "0 0 1 * *", at(utc, 2024, 1, 31, 12, 0, 0), at(utc, 2024, 2, 1, 0, 0, 0)},
		{"skips short months", "0 0 31 * *", at(utc, 2024, 4, 1, 0, 0, 0), at(utc, 2024, 5, 31, 0, 0, 0)},
		{"year boundary", "59 23 31 12 *", at(utc, 2024, 12, 31, 23, 59, 0), at(utc, 2025, 12, 31, 23, 59, 0)},
		{"leap day", "0 0 29 2 *", at(utc, 2024, 3, 1, 0, 0, 0), at(utc, 2028, 2, 29, 0, 0, 0)},
		{"leap day across 2100", "0 0 29 2 *", at(utc, 2096, 3, 1, 0, 0, 0), at(utc, 2104, 2, 29, 0, 0, 0)},
		{"day of month or day of week", "0 0 13 * 5", at(utc, 2024, 1, 1, 0, 0, 0), at(utc, 2024, 1, 5, 0, 0, 0)},
		{"day of month and star week", "0 0 13 * *", at(utc, 2024, 1, 1, 0, 0, 0), at(utc, 2024, 1, 13, 0, 0, 0)},
		{"star with step 1 keeps AND", "0 0 13 * */1", at(utc, 2024, 1, 1, 0, 0, 0), at(utc, 2024, 1, 13, 0, 0, 0)},
		{"star with step 2 means OR", "0 0 13 * */2", at(utc, 2024, 1, 1, 0, 0, 0), at(utc, 2024, 1, 2, 0, 0, 0)},
		{"yearly", "@yearly", at(utc, 2024, 12, 31, 23, 59, 0), at(utc, 2025, 1, 1, 0, 0, 0)},
		{"annually", "@annually", at(utc, 2024, 6, 1, 0, 0, 0), at(utc, 2025, 1, 1, 0, 0, 0)},
		{"monthly", "@monthly", at(utc, 2024, 2, 15, 0, 0, 0), at(utc, 2024, 3, 1, 0, 0, 0)},
		{"weekly", "@weekly", at(utc, 2024, 1, 1, 0, 0, 0), at(utc, 2024, 1, 7, 0, 0, 0)},
		{"daily", "@daily", at(utc, 2024, 1, 1, 0, 0, 0), at(utc, 2024, 1, 2, 0, 0, 0)},
		{"midnight", "@midnight", at(utc, 2024, 1, 1, 23, 59, 59), at(utc, 2024, 1, 2, 0, 0, 0)},
		{"hourly", "@hourly", at(utc, 2024, 1, 1, 10, 0, 0), at(utc, 2024, 1, 1, 11, 0, 0)},
		{"every", "@every 90m", at(utc, 2024, 1, 1, 10, 0, 0), at(utc, 2024, 1, 1, 11, 30, 0)},
		{"never", "0 0 30 2 *", at(utc, 2024, 1, 1, 0, 0, 0), time.Time{}},
		{"surrounding spaces", "  0   0 * * *  ", at(utc, 2024, 1, 1, 0, 0, 0), at(utc, 2024, 1, 2, 0, 0, 0)},
		{"TZ prefix summer", "TZ=America/New_York 0 9 * * *", at(utc, 2024, 7, 1, 0, 0, 0), at(utc, 2024, 7, 1, 13, 0, 0)},
		{"CRON_TZ prefix winter", "CRON_TZ=America/New_York 0 9 * * *", at(utc, 2024, 1, 1, 0, 0, 0), at(utc, 2024, 1, 1, 14, 0, 0)},
		// 2024-03-10: New York jumps from 02:00 EST to 03:00 EDT.
		{"DST gap skips nonexistent time", "30 2 * * *", at(ny, 2024, 3, 10, 0, 0, 0), at(ny, 2024, 3, 11, 2, 30, 0)},
		{"DST gap hourly", "0 * * * *", at(ny, 2024, 3, 10, 1, 30, 0), at(utc, 2024, 3, 10, 7, 0, 0)},
		{"DST gap daily at 3", "0 3 * * *", at(ny, 2024, 3, 10, 0, 0, 0), at(utc, 2024, 3, 10, 7, 0, 0)},
		// 2024-11-03: New York goes back from 02:00 EDT to 01:00 EST.
		{"DST overlap first", "30 1 * * *", at(ny, 2024, 11, 3, 0, 0, 0), at(utc, 2024, 11, 3, 5, 30, 0)},
		{"DST overlap second", "30 1 * * *", at(utc, 2024, 11, 3, 5, 30, 0).In(ny), at(utc, 2024, 11, 3, 6, 30, 0)},
		{"DST overlap then next day", "30 1 * * *", at(utc, 2024, 11, 3, 6, 30, 0).In(ny), at(utc, 2024, 11, 4, 6, 30, 0)},
		{"DST overlap daily at 3", "0 3 * * *", at(ny, 2024, 11, 3, 0, 0, 0), at(utc, 2024, 11, 3, 8, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSchedule(tt.spec)
			if err != nil {
				t.Fatalf("ParseSchedule(%q): %v", tt.spec, err)
			}
			got := s.Next(tt.from)
			if !got.Equal(tt.want) {
				t.Fatalf("Next(%v) = %v, want %v", tt.from, got, tt.want)
			}
			if !got.IsZero() && got.Location() != tt.from.Location() {
				t.Fatalf("Next returned location %v, want %v", got.Location(), tt.from.Location())
			}
		})
	}
}

func TestParseSchedule_everyDropsSubseconds(t *testing.T) {
	s, err := ParseSchedule("@every 1m")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2024, 1, 1, 0, 0, 0, 500_000_000, time.UTC)
	if got, want := s.Next(from), time.Date(2024, 1, 1, 0, 1, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("Next = %v, want %v", got, want)
	}
}

func TestParseSchedule_errors(t *testing.T) {
	tests := []struct{ spec, want string }{
		{"", "empty schedule"},
		{"   ", "empty schedule"},
		{"* * * *", "expected exactly 5 fields"},
		{"* * * * * *", "expected exactly 5 fields"},
		{"60 * * * *", "minute field"},
		{"* 24 * * *", "hour field"},
		{"* * 0 * *", "day of month field"},
		{"* * 32 * *", "day of month field"},
		{"* * * 0 *", "month field"},
		{"* * * 13 *", "month field"},
		{"* * * * 7", "day of week field"},
		{"*/0 * * * *", "must be a positive number"},
		{"*/x * * * *", "must be a positive number"},
		{"5-1 * * * *", "beyond its end"},
		{"a * * * *", "not a number or a name"},
		{"-1 * * * *", "not a number"},
		{"+1 * * * *", "not a number"},
		{"1-2-3 * * * *", "not a number"},
		{"1/2/3 * * * *", "must be a positive number"},
		{"1,,2 * * * *", "empty list element"},
		{"* * * JAN-FOO *", "not a number or a name"},
		{"* * * * MON-jan", "not a number or a name"},
		{"@reboot", "unknown descriptor"},
		{"@Hourly", "unknown descriptor"},
		{"@every 0s", "at least 1s"},
		{"@every -5m", "at least 1s"},
		{"@every soon", "@every duration"},
		{"TZ=Nowhere/Else * * * * *", "time zone"},
		{"TZ=UTC", "not followed by a schedule"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			_, err := ParseSchedule(tt.spec)
			if err == nil {
				t.Fatalf("ParseSchedule(%q) succeeded, want error containing %q", tt.spec, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseSchedule(%q) = %v, want error containing %q", tt.spec, err, tt.want)
			}
		})
	}
}

func TestParseSchedule_consecutiveRuns(t *testing.T) {
	s, err := ParseSchedule("0 */6 * * *")
	if err != nil {
		t.Fatal(err)
	}
	cur := time.Date(2024, 12, 31, 13, 0, 0, 0, time.UTC)
	var got []string
	for range 4 {
		cur = s.Next(cur)
		got = append(got, cur.Format(time.RFC3339))
	}
	want := []string{"2024-12-31T18:00:00Z", "2025-01-01T00:00:00Z", "2025-01-01T06:00:00Z", "2025-01-01T12:00:00Z"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("runs = %v, want %v", got, want)
	}
}

// cronMatches reports whether t's wall clock satisfies every field of s.
func cronMatches(s *cronSchedule, t time.Time) bool {
	if s.loc != nil {
		t = t.In(s.loc)
	}
	return t.Second() == 0 && t.Nanosecond() == 0 &&
		s.minute&(1<<uint(t.Minute())) != 0 && s.hour&(1<<uint(t.Hour())) != 0 &&
		s.month&(1<<uint(t.Month())) != 0 && s.dayMatches(t)
}

func FuzzParseSchedule(f *testing.F) {
	for _, seed := range []string{
		"* * * * *", "*/5 * * * *", "0 9-17/2 * * MON-FRI", "0 0 29 2 *", "0 0 13 * 5",
		"@hourly", "@every 1h30m", "TZ=Europe/Berlin 30 2 * * *", "CRON_TZ=UTC 0 0 1 1 *",
		"5/15 1,2,3 ? jan-dec sun", "0 0 30 2 *", "", "60 * * * *", "@every", "1-2-3 * * * *",
	} {
		f.Add(seed, int64(1_700_000_000))
	}
	berlin := mustLoc(f, "Europe/Berlin")
	f.Fuzz(func(t *testing.T, spec string, unix int64) {
		s, err := ParseSchedule(spec)
		if err != nil {
			return
		}
		// Keep the start in a range where ten years ahead stays representable.
		from := time.Unix(unix%(1<<34), 0).In(berlin)
		next := s.Next(from)
		if next.IsZero() {
			return
		}
		if !next.After(from) {
			t.Fatalf("%q: Next(%v) = %v, not after", spec, from, next)
		}
		if cs, ok := s.(*cronSchedule); ok && !cronMatches(cs, next) {
			t.Fatalf("%q: Next(%v) = %v does not match the fields", spec, from, next)
		}
		if again := s.Next(next); !again.IsZero() && !again.After(next) {
			t.Fatalf("%q: Next(%v) = %v, not after", spec, next, again)
		}
	})
}
