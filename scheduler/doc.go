// Package scheduler runs jobs on cron schedules, with the guarantees a
// backup daemon needs: it wraps github.com/robfig/cron/v3 (only its parser
// and schedules; the run loop is this package's) and is its only importer.
//
// # Schedules
//
// A spec has five fields (minute hour day-of-month month day-of-week) or
// six with a leading seconds field, or is a descriptor: @yearly
// (@annually), @monthly, @weekly, @daily (@midnight), @hourly, or
// "@every D" with D a Go duration of whole seconds, at least 1s, counted
// from the previous run. A "CRON_TZ=Zone " (or "TZ=Zone ") prefix sets the
// time zone of the fields; without it they are in Options.Location. The
// time zone database is embedded (time/tzdata), so zones work on systems
// without one. Add validates the spec: a syntax error, an unknown or
// malformed zone (cron/v3 panics on some, such as "TZ=UTC" without fields:
// the panic is recovered), an @every interval cron/v3 would round, and a
// schedule that never fires (30 February) are errors naming the job and
// wrapping ErrBadSpec.
//
// # Daylight saving time
//
// cron/v3 evaluates the fields on the wall clock of the zone, so a
// schedule whose time falls in the hour skipped when clocks spring forward
// never fires that day, and one whose time falls in the hour repeated when
// clocks fall back fires twice. This package changes both for schedules
// with a fixed hour field (anything but "*": "30 2 * * *", "@daily",
// "0 */6 * * *"), so that each wall-clock time fires exactly once:
//
//   - Spring forward (America/New_York, 2024-03-10, 02:00 EST becomes
//     03:00 EDT): a time in the skipped hour, such as 02:30, fires once at
//     the transition, 03:00 EDT.
//   - Fall back (2024-11-03, 02:00 EDT becomes 01:00 EST): a time in the
//     repeated hour, such as 01:30, fires at its first occurrence (01:30
//     EDT) only.
//
// Schedules whose hour field is "*" (@hourly, "*/15 * * * *") follow
// elapsed time: at spring forward they simply have no runs in the skipped
// hour (the runs before and after are one real hour apart), and at fall
// back they fire in both occurrences of the repeated hour (again one real
// hour apart). @every schedules ignore the wall clock.
//
// # Runs
//
// Each run gets a context that is canceled when Stop is called (cause
// ErrShutdown) or when its timeout (JobOptions.Timeout, else
// Options.Timeout) expires (cause ErrTimeout); a job should return soon
// after. A panic in a job is recovered and recorded as a failure wrapping
// ErrPanic (the stack goes to the logger). A job never runs twice at once:
// an activation that comes while the previous run is still going is
// skipped, logged, counted (Status.Skipped) and reported to Options.OnSkip.
// A run may be delayed by a random jitter (up to JobOptions.Jitter, else
// Options.Jitter, from Options.Rand). A job that returns an error wrapping
// ErrSkipped is recorded as skipped, not failed.
//
// # State and catch-up
//
// With Options.StateFile set, the scheduler keeps a small JSON file
// (written atomically after every start and end of a run) holding, per
// job, the last start, end, success, result and error, and run counters.
// With Options.CatchUp, Start runs once each job whose next activation
// after its last start has already passed (runs missed while the process
// was down, however many, give one catch-up run), whose last run was
// interrupted by Stop, or whose last run never ended (the process died).
// A job with no recorded run is not caught up. cron/v3 itself never
// catches up.
//
// # Clock
//
// All times come from Options.Clock, so tests drive the scheduler with a
// fake clock; Schedule.Next computes activations from fixed instants.
package scheduler

import _ "time/tzdata" // CRON_TZ zones on systems without a zone database
