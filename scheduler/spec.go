package scheduler

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// ErrBadSpec marks a schedule that cannot be parsed, names an unknown time
// zone, or never fires.
var ErrBadSpec = errors.New("invalid schedule")

// Schedule computes when a job runs.
type Schedule interface {
	// Next returns the first activation strictly after t, or the zero time
	// when there is none within five years.
	Next(t time.Time) time.Time
}

// parser accepts 5 fields with an optional leading seconds field, and
// descriptors (@daily, @every 1h, ...).
var parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// starBit is set by cron/v3 in a field written as "*" (or "*/1").
const starBit = 1 << 63

// Parse parses a schedule. Times without a CRON_TZ= (or TZ=) prefix are in
// loc (nil: time.Local). Errors wrap ErrBadSpec; malformed input never
// panics. See the package documentation for the syntax and the behaviour
// at daylight saving time changes.
func Parse(spec string, loc *time.Location) (Schedule, error) {
	if loc == nil {
		loc = time.Local
	}
	s, err := parse(spec, loc)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrBadSpec, spec, err)
	}
	return s, nil
}

func parse(spec string, loc *time.Location) (Schedule, error) {
	spec = strings.TrimSpace(spec)
	for _, prefix := range []string{"CRON_TZ=", "TZ="} {
		if !strings.HasPrefix(spec, prefix) {
			continue
		}
		name, rest, ok := strings.Cut(spec[len(prefix):], " ")
		if i := strings.IndexAny(name, "\t\r\n"); i >= 0 {
			name, rest, ok = name[:i], name[i+1:]+" "+rest, true
		}
		rest = strings.TrimSpace(rest)
		if !ok || rest == "" {
			return nil, fmt.Errorf("%s%s must be followed by a schedule", prefix, name)
		}
		if name == "" {
			return nil, fmt.Errorf("empty time zone after %s", prefix)
		}
		l, err := time.LoadLocation(name)
		if err != nil {
			return nil, fmt.Errorf("time zone %q: %w", name, err)
		}
		loc, spec = l, rest
		break
	}
	if spec == "" {
		return nil, errors.New("empty schedule")
	}
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		return nil, errors.New("more than one time zone")
	}
	if d, ok := strings.CutPrefix(spec, "@every "); ok {
		// cron/v3 silently rounds: reject what it would change.
		every, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil {
			return nil, fmt.Errorf("@every: %w", err)
		}
		if every < time.Second || every%time.Second != 0 {
			return nil, fmt.Errorf("@every %s: the interval must be a whole number of seconds, at least 1s", every)
		}
	}
	sched, err := safeParse(spec)
	if err != nil {
		return nil, err
	}
	switch s := sched.(type) {
	case *cron.SpecSchedule:
		s.Location = loc
		out := &dstSchedule{spec: s, fixed: s.Hour&starBit == 0}
		if out.Next(time.Now()).IsZero() { // clock: any start finds a date that exists within cron's five-year search
			return nil, errors.New("never fires (an impossible date?)")
		}
		return out, nil
	case cron.ConstantDelaySchedule:
		return s, nil
	}
	return nil, fmt.Errorf("unsupported schedule type %T", sched)
}

// safeParse calls the cron/v3 parser, turning its panics (it panics on some
// malformed input) into errors.
func safeParse(spec string) (s cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("malformed schedule (%v)", r)
		}
	}()
	return parser.Parse(spec)
}

// maxDSTSteps bounds the loops of dstSchedule.Next.
const maxDSTSteps = 64

// dstSchedule applies the daylight saving time rules of the package
// documentation on top of a cron/v3 SpecSchedule (whose Location is set).
type dstSchedule struct {
	spec *cron.SpecSchedule
	// fixed is true when the hour field is not "*": such schedules fire
	// once per wall-clock time.
	fixed bool
}

// Next implements Schedule.
func (d *dstSchedule) Next(t time.Time) time.Time {
	if !d.fixed {
		return d.spec.Next(t)
	}
	for range maxDSTSteps {
		n := d.spec.Next(t)
		if g, ok := d.skippedRun(t, n); ok {
			return g.In(t.Location())
		}
		if n.IsZero() || !repeatedWallTime(n, d.spec.Location) {
			return n
		}
		// The second occurrence of an ambiguous wall-clock time: it
		// already fired an hour (the offset change) earlier.
		t = n
	}
	return time.Time{}
}

// skippedRun reports whether a wall-clock time the schedule matches lies in
// a gap (a spring-forward transition) after t and before n (n zero: within
// five years); if so it returns the instant of the first such transition,
// when the run happens instead.
func (d *dstSchedule) skippedRun(t, n time.Time) (time.Time, bool) {
	loc := d.spec.Location
	limit := n
	if limit.IsZero() {
		limit = t.AddDate(5, 0, 0)
	}
	cur := t.In(loc)
	for range maxDSTSteps {
		_, end := cur.ZoneBounds()
		if end.IsZero() || end.After(limit) {
			return time.Time{}, false
		}
		_, before := end.Add(-time.Second).Zone()
		_, after := end.Zone()
		if gap := after - before; gap > 0 && end.After(t) {
			// Wall-clock times [end, end+gap) as read before the change
			// never occur. Evaluate the schedule in the old offset.
			fixed := *d.spec
			fixed.Location = time.FixedZone("", before)
			m := fixed.Next(end.Add(-time.Second))
			if !m.IsZero() && m.Before(end.Add(time.Duration(gap)*time.Second)) {
				return end, true
			}
		}
		cur = end
	}
	return time.Time{}, false
}

// repeatedWallTime reports whether the wall-clock reading of n in loc was
// already shown earlier, because the clocks went back shortly before n.
func repeatedWallTime(n time.Time, loc *time.Location) bool {
	ln := n.In(loc)
	start, _ := ln.ZoneBounds()
	if start.IsZero() {
		return false
	}
	_, prev := start.Add(-time.Second).Zone()
	_, cur := ln.Zone()
	back := time.Duration(prev-cur) * time.Second
	return back > 0 && ln.Sub(start) < back
}
