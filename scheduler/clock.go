package scheduler

import "time"

// Clock is the scheduler's source of time. Tests inject a fake one.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// WaitUntil returns a channel that receives once the clock reads t or
	// later (at once when t has passed).
	WaitUntil(t time.Time) <-chan time.Time
}

// SystemClock is the Clock of the operating system.
type SystemClock struct{}

// Now implements Clock.
func (SystemClock) Now() time.Time { return time.Now() }

// WaitUntil implements Clock.
func (SystemClock) WaitUntil(t time.Time) <-chan time.Time { return time.After(time.Until(t)) }
