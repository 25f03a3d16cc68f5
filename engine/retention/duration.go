package retention

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidDuration is wrapped by every error ParseDuration returns.
var ErrInvalidDuration = errors.New("invalid retention duration")

// maxDurationField bounds each number in a duration so that the cutoff
// computation cannot overflow.
const maxDurationField = 1_000_000

// Duration is a calendar duration: years, months, weeks and days are
// calendar units applied with time.Time.AddDate in the policy zone; hours
// are elapsed hours. The zero value means "no duration" and is not a valid
// rule parameter.
type Duration struct {
	Years, Months, Weeks, Days, Hours int
}

// IsZero reports whether every field of d is zero.
func (d Duration) IsZero() bool { return d == Duration{} }

// String returns the canonical form, units in the order y m w d h, zero
// fields omitted: "1y2m3d4h". ParseDuration(d.String()) == d.
func (d Duration) String() string {
	var b strings.Builder
	for _, f := range []struct {
		n    int
		unit byte
	}{{d.Years, 'y'}, {d.Months, 'm'}, {d.Weeks, 'w'}, {d.Days, 'd'}, {d.Hours, 'h'}} {
		if f.n != 0 {
			b.WriteString(strconv.Itoa(f.n))
			b.WriteByte(f.unit)
		}
	}
	if b.Len() == 0 {
		return "0h"
	}
	return b.String()
}

// Before returns the instant d before t, computed in zone: the calendar
// part (years, months, weeks as 7 days, days) is subtracted in one
// AddDate call on t's wall clock in zone, then the hours are subtracted
// as elapsed time. AddDate normalises overflowing dates: 2024-03-31 minus
// 1m is "2024-02-31", which is 2024-03-02.
func (d Duration) Before(t time.Time, zone *time.Location) time.Time {
	return t.In(zone).AddDate(-d.Years, -d.Months, -(7*d.Weeks + d.Days)).Add(-time.Duration(d.Hours) * time.Hour)
}

// ParseDuration parses a duration such as "30d", "2w", "6m", "1y2m3d4h".
// It is a sequence of one or more <decimal number><unit> terms, with units
// h (hours), d (days), w (weeks), m (calendar months) and y (calendar
// years), each unit at most once, in any order. Numbers have no sign, at
// most 1,000,000. At least one number must be non-zero. Errors wrap
// ErrInvalidDuration.
func ParseDuration(s string) (Duration, error) {
	var d Duration
	if s == "" {
		return d, fmt.Errorf("%w: empty", ErrInvalidDuration)
	}
	seen := map[byte]bool{}
	rest := s
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 {
			return Duration{}, fmt.Errorf("%w: %q: expected a number at %q", ErrInvalidDuration, s, rest)
		}
		if i == len(rest) {
			return Duration{}, fmt.Errorf("%w: %q: number %s has no unit (use h, d, w, m or y)", ErrInvalidDuration, s, rest)
		}
		if i > 7 {
			return Duration{}, fmt.Errorf("%w: %q: number %s too large (at most %d)", ErrInvalidDuration, s, rest[:i], maxDurationField)
		}
		n, err := strconv.Atoi(rest[:i])
		if err != nil || n > maxDurationField {
			return Duration{}, fmt.Errorf("%w: %q: number %s too large (at most %d)", ErrInvalidDuration, s, rest[:i], maxDurationField)
		}
		unit := rest[i]
		var field *int
		switch unit {
		case 'y':
			field = &d.Years
		case 'm':
			field = &d.Months
		case 'w':
			field = &d.Weeks
		case 'd':
			field = &d.Days
		case 'h':
			field = &d.Hours
		default:
			return Duration{}, fmt.Errorf("%w: %q: unknown unit %q (use h, d, w, m or y)", ErrInvalidDuration, s, string(rune(unit)))
		}
		if seen[unit] {
			return Duration{}, fmt.Errorf("%w: %q: unit %q given twice", ErrInvalidDuration, s, string(rune(unit)))
		}
		seen[unit] = true
		*field = n
		rest = rest[i+1:]
	}
	if d.IsZero() {
		return Duration{}, fmt.Errorf("%w: %q: zero duration", ErrInvalidDuration, s)
	}
	return d, nil
}

// validate reports whether d can be a rule parameter.
func (d Duration) validate() error {
	if d.IsZero() {
		return fmt.Errorf("%w: zero duration", ErrInvalidDuration)
	}
	for _, n := range []int{d.Years, d.Months, d.Weeks, d.Days, d.Hours} {
		if n < 0 || n > maxDurationField {
			return fmt.Errorf("%w: field %d out of range 0..%d", ErrInvalidDuration, n, maxDurationField)
		}
	}
	return nil
}
