package kinds

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	// Zone data is compiled in: nodes booted from an initramfs have no
	// /usr/share/zoneinfo, and CronJob time zones must still resolve.
	_ "time/tzdata"
)

// Schedule is a parsed CronJob schedule.
type Schedule interface {
	// Next returns the first activation strictly after t, in t's location.
	// It returns the zero time when the schedule never fires (for example
	// "0 0 30 2 *") within the next ten years.
	Next(t time.Time) time.Time
}

// cronSearchYears bounds how far Next looks ahead. A leap day can be eight
// years away (2096 to 2104), so ten is enough for every satisfiable spec.
const cronSearchYears = 10

// cronField describes one of the five fields of a cron expression.
type cronField struct {
	name     string
	min, max uint
	names    map[string]uint
}

var cronFields = [5]cronField{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day of month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: map[string]uint{
		"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
		"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
	}},
	{name: "day of week", min: 0, max: 6, names: map[string]uint{
		"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6,
	}},
}

// cronDescriptors are the @-shorthands and the five fields they stand for.
var cronDescriptors = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

// ParseSchedule parses a standard five-field cron expression (minute, hour,
// day of month, month, day of week) as CronJob schedules are written:
// "*" and "?", ranges "1-5", steps "*/15" and "5/15" (5 to the field's
// maximum), lists "1,3,5-7", month names JAN..DEC and day names SUN..SAT
// (any case), the shorthands @yearly, @annually, @monthly, @weekly, @daily,
// @midnight and @hourly, "@every <duration>", and a leading "TZ=<zone>" or
// "CRON_TZ=<zone>". When both day of month and day of week are restricted,
// a day matching either fires, as in Vixie cron.
func ParseSchedule(spec string) (Schedule, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, fmt.Errorf("empty schedule")
	}
	var loc *time.Location
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		eq := strings.IndexByte(spec, '=')
		end := strings.IndexAny(spec, " \t")
		if end < 0 {
			return nil, fmt.Errorf("time zone %q is not followed by a schedule", spec[eq+1:])
		}
		name := spec[eq+1 : end]
		l, err := time.LoadLocation(name)
		if err != nil {
			return nil, fmt.Errorf("time zone %q: %w", name, err)
		}
		loc = l
		spec = strings.TrimSpace(spec[end:])
	}
	if strings.HasPrefix(spec, "@every ") || strings.HasPrefix(spec, "@every\t") {
		arg := strings.TrimSpace(spec[len("@every"):])
		d, err := time.ParseDuration(arg)
		if err != nil {
			return nil, fmt.Errorf("@every duration %q: %w", arg, err)
		}
		if d < time.Second {
			return nil, fmt.Errorf("@every duration %q: must be at least 1s", arg)
		}
		return everySchedule{every: d.Truncate(time.Second)}, nil
	}
	if strings.HasPrefix(spec, "@") {
		fields, ok := cronDescriptors[spec]
		if !ok {
			return nil, fmt.Errorf("unknown descriptor %q: use @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or @every <duration>", spec)
		}
		spec = fields
	}
	parts := strings.Fields(spec)
	if len(parts) != len(cronFields) {
		return nil, fmt.Errorf("expected exactly 5 fields (minute hour day-of-month month day-of-week), found %d: %q", len(parts), spec)
	}
	s := &cronSchedule{loc: loc}
	var bits [5]uint64
	var stars [5]bool
	for i, p := range parts {
		b, star, err := parseCronField(p, cronFields[i])
		if err != nil {
			return nil, err
		}
		bits[i], stars[i] = b, star
	}
	s.minute, s.hour, s.dom, s.month, s.dow = bits[0], bits[1], bits[2], bits[3], bits[4]
	s.domStar, s.dowStar = stars[2], stars[4]
	return s, nil
}

// parseCronField turns one comma-separated field into a bit set. star
// reports whether the field is unrestricted ("*" or "?", optionally with a
// step of 1), which decides how day of month and day of week combine.
func parseCronField(text string, f cronField) (bits uint64, star bool, err error) {
	for _, part := range strings.Split(text, ",") {
		b, s, err := parseCronRange(part, f)
		if err != nil {
			return 0, false, fmt.Errorf("%s field %q: %w", f.name, text, err)
		}
		bits |= b
		star = star || s
	}
	return bits, star, nil
}

// parseCronRange parses "*", "?", "a", "a-b", each optionally followed by
// "/step".
func parseCronRange(part string, f cronField) (uint64, bool, error) {
	if part == "" {
		return 0, false, fmt.Errorf("empty list element")
	}
	rng, stepText, hasStep := strings.Cut(part, "/")
	var start, end uint
	star := false
	if rng == "*" || rng == "?" {
		start, end, star = f.min, f.max, true
	} else {
		lo, hi, isRange := strings.Cut(rng, "-")
		var err error
		if start, err = parseCronValue(lo, f); err != nil {
			return 0, false, err
		}
		end = start
		switch {
		case isRange:
			if end, err = parseCronValue(hi, f); err != nil {
				return 0, false, err
			}
		case hasStep:
			end = f.max
		}
	}
	step := uint(1)
	if hasStep {
		n, err := parseCronNumber(stepText)
		if err != nil || n == 0 {
			return 0, false, fmt.Errorf("step %q must be a positive number", stepText)
		}
		step = n
		if step > 1 {
			star = false
		}
	}
	switch {
	case start < f.min:
		return 0, false, fmt.Errorf("%d is below the minimum %d", start, f.min)
	case end > f.max:
		return 0, false, fmt.Errorf("%d is above the maximum %d", end, f.max)
	case start > end:
		return 0, false, fmt.Errorf("range start %d is beyond its end %d", start, end)
	}
	var bits uint64
	for v := start; v <= end; v += step {
		bits |= 1 << v
	}
	return bits, star, nil
}

// parseCronValue parses a number or, for months and days of the week, a
// three-letter name.
func parseCronValue(s string, f cronField) (uint, error) {
	if v, ok := f.names[strings.ToLower(s)]; ok {
		return v, nil
	}
	v, err := parseCronNumber(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number or a name", s)
	}
	if v < f.min || v > f.max {
		return 0, fmt.Errorf("%d is outside %d-%d", v, f.min, f.max)
	}
	return v, nil
}

// parseCronNumber accepts only plain decimal digits, at most three of them.
func parseCronNumber(s string) (uint, error) {
	if s == "" || len(s) > 3 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a small decimal number", s)
	}
	v, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("parse %q: %w", s, err)
	}
	return uint(v), nil
}

// cronSchedule fires at the minutes whose wall clock matches every field.
type cronSchedule struct {
	minute, hour, dom, month, dow uint64
	domStar, dowStar              bool
	// loc, when set, is the zone the fields are read in (TZ= prefix).
	loc *time.Location
}

// Next finds the earliest instant after t whose wall clock matches. Wall
// times skipped by a daylight-saving jump never fire; wall times repeated
// when clocks go back fire once for each time they occur.
func (s *cronSchedule) Next(t time.Time) time.Time {
	orig := t.Location()
	if s.loc != nil {
		t = t.In(s.loc)
	}
	loc := t.Location()
	t = t.Add(-time.Duration(t.Second())*time.Second - time.Duration(t.Nanosecond())).Add(time.Minute)
	limit := t.Year() + cronSearchYears
	for t.Year() <= limit {
		var next time.Time
		switch {
		case s.month&(1<<uint(t.Month())) == 0:
			next = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, loc)
		case !s.dayMatches(t):
			next = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
		case s.hour&(1<<uint(t.Hour())) == 0:
			next = t.Add(time.Duration(60-t.Minute()) * time.Minute)
		case s.minute&(1<<uint(t.Minute())) == 0:
			next = t.Add(time.Minute)
		default:
			return t.In(orig)
		}
		if !next.After(t) {
			next = t.Add(time.Minute)
		}
		t = next
	}
	return time.Time{}
}

// dayMatches applies the Vixie cron rule: if either day field is
// unrestricted both must match, otherwise either may.
func (s *cronSchedule) dayMatches(t time.Time) bool {
	dom := s.dom&(1<<uint(t.Day())) != 0
	dow := s.dow&(1<<uint(t.Weekday())) != 0
	if s.domStar || s.dowStar {
		return dom && dow
	}
	return dom || dow
}

// everySchedule fires at a fixed interval ("@every 90m").
type everySchedule struct {
	every time.Duration
}

// Next returns t plus the interval, rounded down to a whole second.
func (e everySchedule) Next(t time.Time) time.Time {
	return t.Add(e.every - time.Duration(t.Nanosecond()))
}
