package scheduler

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// nextN returns the n activations after from.
func nextN(s Schedule, from time.Time, n int) []time.Time {
	var out []time.Time
	for range n {
		from = s.Next(from)
		out = append(out, from)
	}
	return out
}

func TestNext(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	utc := time.UTC
	d := func(y int, mo time.Month, day, h, mi, s int, loc *time.Location) time.Time {
		return time.Date(y, mo, day, h, mi, s, 0, loc)
	}
	tests := []struct {
		name string
		spec string
		loc  *time.Location // Options.Location
		from time.Time
		want []time.Time
	}{
		{"five fields", "0 2 * * *", utc, d(2024, 1, 1, 0, 0, 0, utc),
			[]time.Time{d(2024, 1, 1, 2, 0, 0, utc), d(2024, 1, 2, 2, 0, 0, utc)}},
		{"optional seconds", "30 0 2 * * *", utc, d(2024, 1, 1, 0, 0, 0, utc),
			[]time.Time{d(2024, 1, 1, 2, 0, 30, utc), d(2024, 1, 2, 2, 0, 30, utc)}},
		{"every second", "* * * * * *", utc, d(2024, 1, 1, 0, 0, 0, utc),
			[]time.Time{d(2024, 1, 1, 0, 0, 1, utc), d(2024, 1, 1, 0, 0, 2, utc)}},
		{"day of week", "0 9 * * mon", utc, d(2024, 1, 3, 0, 0, 0, utc), // a Wednesday
			[]time.Time{d(2024, 1, 8, 9, 0, 0, utc), d(2024, 1, 15, 9, 0, 0, utc)}},
		{"daily", "@daily", utc, d(2024, 1, 1, 12, 0, 0, utc),
			[]time.Time{d(2024, 1, 2, 0, 0, 0, utc), d(2024, 1, 3, 0, 0, 0, utc)}},
		{"hourly", "@hourly", utc, d(2024, 1, 1, 12, 30, 0, utc),
			[]time.Time{d(2024, 1, 1, 13, 0, 0, utc), d(2024, 1, 1, 14, 0, 0, utc)}},
		{"every", "@every 90s", utc, d(2024, 1, 1, 12, 0, 0, utc),
			[]time.Time{d(2024, 1, 1, 12, 1, 30, utc), d(2024, 1, 1, 12, 3, 0, utc)}},
		{"every 1s", "@every 1s", utc, d(2024, 1, 1, 12, 0, 0, utc),
			[]time.Time{d(2024, 1, 1, 12, 0, 1, utc), d(2024, 1, 1, 12, 0, 2, utc)}},
		{"default location", "0 9 * * *", ny, d(2024, 1, 1, 0, 0, 0, utc),
			[]time.Time{d(2024, 1, 1, 14, 0, 0, utc), d(2024, 1, 2, 14, 0, 0, utc)}},
		{"CRON_TZ overrides", "CRON_TZ=Asia/Tokyo 0 9 * * *", ny, d(2024, 1, 1, 12, 0, 0, utc),
			[]time.Time{d(2024, 1, 2, 0, 0, 0, utc), d(2024, 1, 3, 0, 0, 0, utc)}},
		{"TZ prefix", "TZ=Europe/Berlin 0 0 3 * * *", utc, d(2024, 7, 1, 0, 0, 0, utc),
			[]time.Time{d(2024, 7, 1, 1, 0, 0, utc), d(2024, 7, 2, 1, 0, 0, utc)}},
		{"CRON_TZ with descriptor", "CRON_TZ=America/New_York @daily", utc, d(2024, 1, 1, 0, 0, 0, utc),
			[]time.Time{d(2024, 1, 1, 5, 0, 0, utc), d(2024, 1, 2, 5, 0, 0, utc)}},
		{"surrounding spaces", "  0 2 * * *  ", utc, d(2024, 1, 1, 0, 0, 0, utc),
			[]time.Time{d(2024, 1, 1, 2, 0, 0, utc)}},

		// Daylight saving time in New York: 2024-03-10 02:00 EST -> 03:00
		// EDT; 2024-11-03 02:00 EDT -> 01:00 EST.
		{"spring forward: skipped time fires at the transition", "30 2 * * *", ny, d(2024, 3, 9, 12, 0, 0, ny),
			[]time.Time{d(2024, 3, 10, 7, 0, 0, utc), d(2024, 3, 11, 6, 30, 0, utc), d(2024, 3, 12, 6, 30, 0, utc)}},
		{"spring forward: 02:00 fires at 03:00 EDT", "0 2 * * *", ny, d(2024, 3, 9, 12, 0, 0, ny),
			[]time.Time{d(2024, 3, 10, 7, 0, 0, utc), d(2024, 3, 11, 6, 0, 0, utc)}},
		{"spring forward: times after the gap unchanged", "0 3 * * *", ny, d(2024, 3, 9, 12, 0, 0, ny),
			[]time.Time{d(2024, 3, 10, 7, 0, 0, utc), d(2024, 3, 11, 7, 0, 0, utc)}},
		{"spring forward: gap run and 03:00 run coincide once", "0,30 2,3 * * *", ny, d(2024, 3, 10, 0, 0, 0, ny),
			[]time.Time{d(2024, 3, 10, 7, 0, 0, utc), d(2024, 3, 10, 7, 30, 0, utc), d(2024, 3, 11, 6, 0, 0, utc)}},
		{"spring forward: every-hour schedule follows elapsed time", "0 * * * *", ny, d(2024, 3, 10, 0, 30, 0, ny),
			[]time.Time{d(2024, 3, 10, 6, 0, 0, utc), d(2024, 3, 10, 7, 0, 0, utc), d(2024, 3, 10, 8, 0, 0, utc)}},
		{"fall back: ambiguous time fires once", "30 1 * * *", ny, d(2024, 11, 2, 12, 0, 0, ny),
			[]time.Time{d(2024, 11, 3, 5, 30, 0, utc), d(2024, 11, 4, 6, 30, 0, utc), d(2024, 11, 5, 6, 30, 0, utc)}},
		{"fall back: from between the two occurrences", "30 1 * * *", ny, d(2024, 11, 3, 5, 45, 0, utc),
			[]time.Time{d(2024, 11, 4, 6, 30, 0, utc)}},
		{"fall back: several times in the repeated hour", "*/30 1 * * *", ny, d(2024, 11, 3, 0, 0, 0, ny),
			[]time.Time{d(2024, 11, 3, 5, 0, 0, utc), d(2024, 11, 3, 5, 30, 0, utc), d(2024, 11, 4, 6, 0, 0, utc)}},
		{"fall back: every-hour schedule fires in both hours", "0 * * * *", ny, d(2024, 11, 3, 0, 30, 0, ny),
			[]time.Time{d(2024, 11, 3, 5, 0, 0, utc), d(2024, 11, 3, 6, 0, 0, utc), d(2024, 11, 3, 7, 0, 0, utc)}},
		{"fall back: hourly descriptor fires in both hours", "@hourly", ny, d(2024, 11, 3, 0, 30, 0, ny),
			[]time.Time{d(2024, 11, 3, 5, 0, 0, utc), d(2024, 11, 3, 6, 0, 0, utc), d(2024, 11, 3, 7, 0, 0, utc)}},
		{"fall back: daily at midnight unaffected", "@daily", ny, d(2024, 11, 2, 12, 0, 0, ny),
			[]time.Time{d(2024, 11, 3, 4, 0, 0, utc), d(2024, 11, 4, 5, 0, 0, utc)}},
		{"DST with CRON_TZ", "CRON_TZ=America/New_York 30 2 * * *", utc, d(2024, 3, 9, 12, 0, 0, utc),
			[]time.Time{d(2024, 3, 10, 7, 0, 0, utc), d(2024, 3, 11, 6, 30, 0, utc)}},
		{"every ignores DST", "@every 1h", ny, d(2024, 11, 3, 5, 0, 0, utc),
			[]time.Time{d(2024, 11, 3, 6, 0, 0, utc), d(2024, 11, 3, 7, 0, 0, utc)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse(tc.spec, tc.loc)
			if err != nil {
				t.Fatal(err)
			}
			got := nextN(s, tc.from, len(tc.want))
			for i := range got {
				if !got[i].Equal(tc.want[i]) {
					t.Fatalf("activation %d: got %v (%v), want %v", i, got[i], got[i].UTC(), tc.want[i].UTC())
				}
			}
		})
	}
}

// A fixed daily schedule fires exactly once on every day of a year that
// has both DST changes.
func TestDailyOncePerDayAcrossDST(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	for _, spec := range []string{"30 1 * * *", "30 2 * * *", "0 2 * * *", "59 1 * * *"} {
		t.Run(spec, func(t *testing.T) {
			s, err := Parse(spec, ny)
			if err != nil {
				t.Fatal(err)
			}
			days := map[string]int{}
			from := time.Date(2024, 1, 1, 0, 0, 0, 0, ny)
			end := time.Date(2025, 1, 1, 0, 0, 0, 0, ny)
			for n := s.Next(from); n.Before(end); n = s.Next(n) {
				days[n.In(ny).Format(time.DateOnly)]++
			}
			if len(days) != 366 {
				t.Fatalf("fired on %d days of 2024, want 366", len(days))
			}
			for day, n := range days {
				if n != 1 {
					t.Fatalf("fired %d times on %s", n, day)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, spec := range []string{
		"", "   ", "TZ=0", "TZ=UTC", "CRON_TZ=", "CRON_TZ=UTC", "CRON_TZ= * * * * *",
		"TZ=0 * * * * *", "CRON_TZ=Nowhere/Land * * * * *", "TZ=../../etc/passwd * * * * *",
		"CRON_TZ=UTC TZ=UTC * * * * *", "* * * *", "* * * * * * *", "60 * * * *", "* 24 * * *",
		"@every 500ms", "@every 0s", "@every 1.5s", "@every -1s", "@every", "@every x", "@bogus",
		"0 0 30 2 *", "a b c d e", "*/0 * * * *", "5-1 * * * *",
	} {
		t.Run(spec, func(t *testing.T) {
			s, err := Parse(spec, time.UTC)
			if !errors.Is(err, ErrBadSpec) {
				t.Fatalf("Parse(%q) = %v, %v; want an error wrapping ErrBadSpec", spec, s, err)
			}
		})
	}
}

func TestAddRejectsBadSpecNamingTheJob(t *testing.T) {
	s := New(Options{Clock: newFakeClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))})
	for _, spec := range []string{"TZ=0", "CRON_TZ=UTC", "61 * * * *"} {
		err := s.Add("backup/home", spec, func(context.Context) error { return nil }, JobOptions{})
		if !errors.Is(err, ErrBadSpec) {
			t.Fatalf("Add(%q): %v, want ErrBadSpec", spec, err)
		}
		if !strings.Contains(err.Error(), "backup/home") {
			t.Fatalf("Add(%q): %q does not name the job", spec, err)
		}
	}
	if len(s.Entries()) != 0 {
		t.Fatal("a job with a bad spec was added")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"0 2 * * *", "CRON_TZ=UTC 0 2 * * *", "TZ=0", "@every 1s", "*/5 1-3 * jan mon", "@daily"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := Parse(spec, time.UTC)
		if err != nil {
			if !errors.Is(err, ErrBadSpec) {
				t.Fatalf("error does not wrap ErrBadSpec: %v", err)
			}
			return
		}
		from := time.Date(2024, 11, 3, 0, 0, 0, 0, time.UTC)
		if n := s.Next(from); !n.IsZero() && !n.After(from) {
			t.Fatalf("Next(%v) = %v, not after", from, n)
		}
	})
}
