package scheduler

import (
	"context"
	"errors"
	"fmt"
	"lifeboat/internal/fakeclock"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a Clock that moves only when the test advances it.
type fakeClock = fakeclock.Clock

func newFakeClock(t time.Time) *fakeClock { return fakeclock.New(t) }

// recv waits for a value; the bound only turns a hang into a failure.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// harness is a scheduler on a fake clock with hooks feeding channels.
type harness struct {
	clock  *fakeClock
	s      *Scheduler
	starts chan RunInfo
	ends   chan RunInfo
	skips  chan string
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	h := &harness{clock: newFakeClock(t0), starts: make(chan RunInfo, 100), ends: make(chan RunInfo, 100), skips: make(chan string, 100)}
	if opts.Clock == nil {
		opts.Clock = h.clock
	} else {
		h.clock = opts.Clock.(*fakeClock)
	}
	opts.Location = time.UTC
	opts.OnRunStart = func(ri RunInfo) { h.starts <- ri }
	opts.OnRunEnd = func(ri RunInfo) { h.ends <- ri }
	opts.OnSkip = func(job string, _ time.Time) { h.skips <- job }
	h.s = New(opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := h.s.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return h
}

func (h *harness) add(t *testing.T, name, spec string, job Job, opts JobOptions) {
	t.Helper()
	if err := h.s.Add(name, spec, job, opts); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) entry(t *testing.T, name string) Status {
	t.Helper()
	for _, e := range h.s.Entries() {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("no job %s", name)
	return Status{}
}

func TestRunsOnSchedule(t *testing.T) {
	h := newHarness(t, Options{})
	var runs atomic.Int64
	h.add(t, "j", "@every 10s", func(context.Context) error { runs.Add(1); return nil }, JobOptions{})
	if next := h.entry(t, "j").Next; !next.Equal(t0.Add(10 * time.Second)) {
		t.Fatalf("next before start = %v", next)
	}
	h.s.Start()
	for i := 1; i <= 3; i++ {
		h.clock.Advance(10 * time.Second)
		ri := recv(t, h.ends, "run end")
		if ri.Result != ResultSuccess || ri.Err != nil || ri.CatchUp {
			t.Fatalf("run %d: %+v", i, ri)
		}
		if want := t0.Add(time.Duration(i) * 10 * time.Second); !ri.Scheduled.Equal(want) || !ri.Start.Equal(want) {
			t.Fatalf("run %d scheduled %v started %v, want %v", i, ri.Scheduled, ri.Start, want)
		}
	}
	e := h.entry(t, "j")
	if e.Runs != 3 || e.Failures != 0 || e.LastResult != ResultSuccess || !e.LastSuccess.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("status %+v", e)
	}
	if !e.Next.Equal(t0.Add(40 * time.Second)) {
		t.Fatalf("next = %v", e.Next)
	}
	if runs.Load() != 3 {
		t.Fatalf("%d runs", runs.Load())
	}
}

func TestOverlapIsSkipped(t *testing.T) {
	h := newHarness(t, Options{})
	release := make(chan struct{})
	var running, maxRunning atomic.Int64
	h.add(t, "slow", "@every 1s", func(context.Context) error {
		n := running.Add(1)
		defer running.Add(-1)
		if n > maxRunning.Load() {
			maxRunning.Store(n)
		}
		<-release
		return nil
	}, JobOptions{})
	h.s.Start()
	h.clock.Advance(time.Second)
	recv(t, h.starts, "first run")
	for i := 0; i < 3; i++ {
		h.clock.Advance(time.Second)
		if job := recv(t, h.skips, "skip"); job != "slow" {
			t.Fatalf("skipped %s", job)
		}
	}
	e := h.entry(t, "slow")
	if !e.Running || e.Skipped != 3 {
		t.Fatalf("status %+v", e)
	}
	close(release)
	recv(t, h.ends, "first run end")
	h.clock.Advance(time.Second)
	recv(t, h.ends, "second run end")
	if m := maxRunning.Load(); m != 1 {
		t.Fatalf("%d runs at once", m)
	}
	if e := h.entry(t, "slow"); e.Runs != 2 || e.Skipped != 3 {
		t.Fatalf("status %+v", e)
	}
}

func TestPanicIsRecovered(t *testing.T) {
	h := newHarness(t, Options{})
	var n atomic.Int64
	h.add(t, "p", "@every 1s", func(context.Context) error {
		if n.Add(1) == 1 {
			panic("boom")
		}
		return nil
	}, JobOptions{})
	h.s.Start()
	h.clock.Advance(time.Second)
	ri := recv(t, h.ends, "panicking run")
	if ri.Result != ResultFailure || !errors.Is(ri.Err, ErrPanic) {
		t.Fatalf("run %+v", ri)
	}
	e := h.entry(t, "p")
	if e.LastResult != ResultFailure || e.LastError == "" || e.Failures != 1 {
		t.Fatalf("status %+v", e)
	}
	// The scheduler survives and runs the job again.
	h.clock.Advance(time.Second)
	if ri := recv(t, h.ends, "next run"); ri.Result != ResultSuccess {
		t.Fatalf("run after panic %+v", ri)
	}
}

func TestTimeoutCancelsRun(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		job  JobOptions
	}{
		{"job timeout", Options{}, JobOptions{Timeout: 5 * time.Second}},
		{"default timeout", Options{Timeout: 5 * time.Second}, JobOptions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts)
			causes := make(chan error, 1)
			h.add(t, "t", "@every 1m", func(ctx context.Context) error {
				<-ctx.Done()
				causes <- context.Cause(ctx)
				return ctx.Err()
			}, tc.job)
			h.s.Start()
			h.clock.Advance(time.Minute)
			recv(t, h.starts, "run start")
			h.clock.Advance(5 * time.Second)
			if c := recv(t, causes, "cancellation"); !errors.Is(c, ErrTimeout) {
				t.Fatalf("cause %v", c)
			}
			ri := recv(t, h.ends, "run end")
			if ri.Result != ResultFailure || !errors.Is(ri.Err, ErrTimeout) || !errors.Is(ri.Err, context.Canceled) {
				t.Fatalf("run %+v", ri)
			}
		})
	}
}

func TestStopCancelsRunningJobs(t *testing.T) {
	h := newHarness(t, Options{})
	causes := make(chan error, 1)
	h.add(t, "long", "@every 1s", func(ctx context.Context) error {
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return ctx.Err()
	}, JobOptions{})
	h.s.Start()
	h.clock.Advance(time.Second)
	recv(t, h.starts, "run start")
	if err := h.s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c := recv(t, causes, "cancellation"); !errors.Is(c, ErrShutdown) {
		t.Fatalf("cause %v", c)
	}
	if ri := recv(t, h.ends, "run end"); ri.Result != ResultInterrupted || !errors.Is(ri.Err, context.Canceled) {
		t.Fatalf("run %+v", ri)
	}
	if err := h.s.Add("late", "@daily", func(context.Context) error { return nil }, JobOptions{}); !errors.Is(err, ErrShutdown) {
		t.Fatalf("Add after Stop: %v", err)
	}
}

func TestStopIsBounded(t *testing.T) {
	h := newHarness(t, Options{})
	release := make(chan struct{})
	h.add(t, "stubborn", "@every 1s", func(context.Context) error { <-release; return nil }, JobOptions{})
	h.s.Start()
	h.clock.Advance(time.Second)
	recv(t, h.starts, "run start")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.s.Stop(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Stop with a job ignoring its context: %v", err)
	}
	close(release)
	recv(t, h.ends, "run end")
}

func TestSkippedResult(t *testing.T) {
	h := newHarness(t, Options{})
	h.add(t, "s", "@every 1s", func(context.Context) error { return fmt.Errorf("locked by host b: %w", ErrSkipped) }, JobOptions{})
	h.s.Start()
	h.clock.Advance(time.Second)
	if ri := recv(t, h.ends, "run end"); ri.Result != ResultSkipped {
		t.Fatalf("run %+v", ri)
	}
	if e := h.entry(t, "s"); e.Failures != 0 || e.Runs != 1 || e.LastResult != ResultSkipped {
		t.Fatalf("status %+v", e)
	}
}

func TestJitterDelaysStart(t *testing.T) {
	asked := make(chan int64, 1)
	h := newHarness(t, Options{Jitter: 10 * time.Second, Rand: func(n int64) int64 {
		asked <- n
		return int64(3 * time.Second)
	}})
	h.add(t, "j", "@every 1m", func(context.Context) error { return nil }, JobOptions{})
	h.s.Start()
	h.clock.Advance(time.Minute)
	if n := recv(t, asked, "jitter draw"); n != int64(10*time.Second) {
		t.Fatalf("jitter drawn from [0,%v)", time.Duration(n))
	}
	h.clock.Advance(3 * time.Second)
	ri := recv(t, h.ends, "run end")
	if want := t0.Add(time.Minute); !ri.Scheduled.Equal(want) || !ri.Start.Equal(want.Add(3*time.Second)) {
		t.Fatalf("scheduled %v started %v", ri.Scheduled, ri.Start)
	}
}

func TestAddErrors(t *testing.T) {
	s := New(Options{Clock: newFakeClock(t0)})
	ok := func(context.Context) error { return nil }
	if err := s.Add("a", "@daily", ok, JobOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Add("a", "@hourly", ok, JobOptions{}); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("duplicate: %v", err)
	}
	if err := s.Add("", "@daily", ok, JobOptions{}); err == nil {
		t.Fatal("empty name accepted")
	}
	if err := s.Add("b", "@daily", nil, JobOptions{}); err == nil {
		t.Fatal("nil job accepted")
	}
}

func writeTestState(t *testing.T, path string, jobs map[string]JobState) {
	t.Helper()
	if err := writeState(path, &State{Version: StateVersion, Jobs: jobs}); err != nil {
		t.Fatal(err)
	}
}

// A restarted scheduler runs a job that missed runs while it was down
// exactly once, and only when it should.
func TestCatchUp(t *testing.T) {
	// The clock starts at t0 = 2024-01-01 00:00 UTC; the job runs daily at
	// 02:00, so the last slot before t0 was 2023-12-31 02:00.
	slot := time.Date(2023, 12, 31, 2, 0, 0, 0, time.UTC)
	ran := func(start time.Time, result string) JobState {
		return JobState{Spec: "0 2 * * *", LastStart: start, LastEnd: start.Add(time.Minute), Result: result, Runs: 5}
	}
	tests := []struct {
		name     string
		state    map[string]JobState
		catchUp  bool
		noCatch  bool
		wantRuns int
	}{
		{"missed several slots", map[string]JobState{"j": ran(slot.AddDate(0, 0, -3), ResultSuccess)}, true, false, 1},
		{"missed one slot", map[string]JobState{"j": ran(slot.AddDate(0, 0, -1), ResultSuccess)}, true, false, 1},
		{"missed nothing", map[string]JobState{"j": ran(slot, ResultSuccess)}, true, false, 0},
		{"last run interrupted", map[string]JobState{"j": ran(slot, ResultInterrupted)}, true, false, 1},
		{"last run never ended", map[string]JobState{"j": {Spec: "0 2 * * *", LastStart: slot, Result: ResultSuccess, Runs: 5}}, true, false, 1},
		{"catch-up disabled", map[string]JobState{"j": ran(slot.AddDate(0, 0, -3), ResultSuccess)}, false, false, 0},
		{"job opts out", map[string]JobState{"j": ran(slot.AddDate(0, 0, -3), ResultSuccess)}, true, true, 0},
		{"never ran", map[string]JobState{"other": ran(slot.AddDate(0, 0, -3), ResultSuccess)}, true, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state", "scheduler.json")
			writeTestState(t, path, tc.state)
			h := newHarness(t, Options{StateFile: path, CatchUp: tc.catchUp})
			var runs atomic.Int64
			h.add(t, "j", "0 2 * * *", func(context.Context) error { runs.Add(1); return nil }, JobOptions{NoCatchUp: tc.noCatch})
			h.s.Start()
			if tc.wantRuns > 0 {
				ri := recv(t, h.ends, "catch-up run")
				if !ri.CatchUp || !ri.Start.Equal(t0) || ri.Result != ResultSuccess {
					t.Fatalf("catch-up run %+v", ri)
				}
			}
			if err := h.s.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := runs.Load(); got != int64(tc.wantRuns) {
				t.Fatalf("%d runs, want %d", got, tc.wantRuns)
			}
			st, err := ReadState(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := tc.state["other"]; ok {
				if _, kept := st.Jobs["other"]; !kept {
					t.Fatal("the state of a job not added was dropped")
				}
			}
			if tc.wantRuns > 0 {
				j := st.Jobs["j"]
				if !j.LastStart.Equal(t0) || j.Result != ResultSuccess || j.Runs != 6 {
					t.Fatalf("state after catch-up %+v", j)
				}
			}
		})
	}
}

func TestStateFileRecordsRuns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scheduler.json")
	h := newHarness(t, Options{StateFile: path})
	h.add(t, "ok", "@every 1s", func(context.Context) error { return nil }, JobOptions{})
	h.add(t, "bad", "@every 1s", func(context.Context) error { return errors.New("disk on fire") }, JobOptions{})
	h.s.Start()
	h.clock.Advance(time.Second)
	recv(t, h.ends, "run end")
	recv(t, h.ends, "run end")
	st, err := ReadState(path)
	if err != nil {
		t.Fatal(err)
	}
	okJob, badJob := st.Jobs["ok"], st.Jobs["bad"]
	want := t0.Add(time.Second)
	if okJob.Result != ResultSuccess || !okJob.LastStart.Equal(want) || !okJob.LastEnd.Equal(want) || !okJob.LastSuccess.Equal(want) || okJob.Spec != "@every 1s" {
		t.Fatalf("ok job state %+v", okJob)
	}
	if badJob.Result != ResultFailure || badJob.Error != "disk on fire" || badJob.Failures != 1 || !badJob.LastSuccess.IsZero() {
		t.Fatalf("bad job state %+v", badJob)
	}
	// A new scheduler reports the recorded runs before running anything.
	s2 := New(Options{StateFile: path, Clock: newFakeClock(want)})
	if err := s2.Add("bad", "@every 1s", func(context.Context) error { return nil }, JobOptions{}); err != nil {
		t.Fatal(err)
	}
	if e := s2.Entries()[0]; e.LastResult != ResultFailure || e.LastError != "disk on fire" || e.Runs != 1 {
		t.Fatalf("status from the state file %+v", e)
	}
}

func TestCorruptStateFileIsIgnored(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scheduler.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Options{StateFile: path, CatchUp: true})
	h.add(t, "j", "@every 1s", func(context.Context) error { return nil }, JobOptions{})
	h.s.Start()
	h.clock.Advance(time.Second)
	recv(t, h.ends, "run end")
	if _, err := ReadState(path); err != nil {
		t.Fatalf("state file not replaced: %v", err)
	}
}
