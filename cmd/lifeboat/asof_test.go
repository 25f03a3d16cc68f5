package main

import (
	"testing"
	"time"
)

func TestParseAsOf(t *testing.T) {
	loc := time.FixedZone("X", 2*3600)
	now := time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-12-04T20:00:00Z", time.Date(2026, 12, 4, 20, 0, 0, 0, time.UTC), true},
		{"2026-12-04T20:00:00.5+01:00", time.Date(2026, 12, 4, 19, 0, 0, 5e8, time.UTC), true},
		{"2026-12-04 20:30", time.Date(2026, 12, 4, 18, 30, 0, 0, time.UTC), true},
		{"2026-12-04 20:30:15", time.Date(2026, 12, 4, 18, 30, 15, 0, time.UTC), true},
		{"2026-12-03", time.Date(2026, 12, 2, 22, 0, 0, 0, time.UTC), true},
		{"2026-12-04T21:00:01Z", time.Time{}, false}, // the future
		{"yesterday", time.Time{}, false},
		{"", time.Time{}, false},
	} {
		got, err := parseAsOf(tc.in, now, loc)
		if (err == nil) != tc.ok || (tc.ok && !got.Equal(tc.want)) {
			t.Errorf("parseAsOf(%q) = %v, %v; want %v (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && exitCode(err, false) != ExitUsage {
			t.Errorf("parseAsOf(%q): exit code %d, want %d", tc.in, exitCode(err, false), ExitUsage)
		}
	}
}
