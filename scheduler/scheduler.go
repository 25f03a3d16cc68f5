package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"sync"
	"time"
)

// Errors reported by the scheduler.
var (
	// ErrSkipped, wrapped in a job's error, records the run as
	// ResultSkipped instead of a failure.
	ErrSkipped = errors.New("skipped")
	// ErrPanic marks a run whose job panicked.
	ErrPanic = errors.New("job panicked")
	// ErrTimeout marks a run canceled by its timeout.
	ErrTimeout = errors.New("job timed out")
	// ErrShutdown is the cause of the contexts Stop cancels.
	ErrShutdown = errors.New("scheduler stopping")
	// ErrDuplicate reports a job name added twice.
	ErrDuplicate = errors.New("duplicate job name")
)

// maxNameLen bounds job names.
const maxNameLen = 256

// maxSleep bounds one wait of the scheduling loop, so that a jump of the
// wall clock is noticed within that time.
const maxSleep = time.Minute

// Job is a unit of scheduled work. Its context is canceled when the
// scheduler stops or the run's timeout expires (context.Cause tells
// which: ErrShutdown or ErrTimeout).
type Job func(ctx context.Context) error

// JobOptions tune one job.
type JobOptions struct {
	// Timeout bounds a run (0: Options.Timeout; negative: none).
	Timeout time.Duration
	// Jitter is the largest random delay before a run starts
	// (0: Options.Jitter; negative: none).
	Jitter time.Duration
	// NoCatchUp disables catching up a missed run at Start for this job.
	NoCatchUp bool
}

// Options configure a Scheduler. The zero value works.
type Options struct {
	// Location is the time zone of schedules without a CRON_TZ= prefix
	// (nil: time.Local).
	Location *time.Location
	// Clock is the time source (nil: SystemClock).
	Clock Clock
	// Rand returns a random number in [0, n) for jitter (nil:
	// math/rand/v2.Int64N).
	Rand func(n int64) int64
	// StateFile is where the last run of every job is kept ("": nowhere,
	// and nothing is caught up).
	StateFile string
	// CatchUp runs once, at Start, every job that missed a scheduled run
	// while the scheduler was down (its next activation after its last
	// start has passed), or whose last run was interrupted by Stop or
	// never ended (the process died).
	CatchUp bool
	// Timeout is the default per-run timeout (0: none).
	Timeout time.Duration
	// Jitter is the default largest random delay before a run.
	Jitter time.Duration
	// Logger receives the scheduler's own messages (nil: discarded).
	Logger *slog.Logger
	// OnRunStart and OnRunEnd, if set, are called when a run starts and
	// ends (metrics, notifications). They are called from the run's
	// goroutine, never with a lock held, and must be safe for concurrent
	// use.
	OnRunStart func(RunInfo)
	OnRunEnd   func(RunInfo)
	// OnSkip, if set, is called when a run is due while the previous run
	// of the same job is still going (the due run is skipped).
	OnSkip func(job string, at time.Time)
}

// RunInfo describes a run for the hooks.
type RunInfo struct {
	// Job is the job's name.
	Job string
	// Scheduled is the activation time the run belongs to (for a
	// catch-up run, the time Start was called).
	Scheduled time.Time
	// CatchUp is true for a run that catches up a missed one.
	CatchUp bool
	// Start is when the job was called; End when it returned (zero in
	// OnRunStart).
	Start, End time.Time
	// Result is one of the Result constants ("" in OnRunStart).
	Result string
	// Err is the job's error (nil on success).
	Err error
}

// Status is the state of one job, as Entries reports it.
type Status struct {
	Name string `json:"name"`
	Spec string `json:"spec"`
	// LastStart, LastEnd, LastSuccess, LastResult and LastError describe
	// the last run (from the state file for runs before this process).
	LastStart   time.Time `json:"last_start,omitzero"`
	LastEnd     time.Time `json:"last_end,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastResult  string    `json:"last_result,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
	// Next is the next activation (zero: none).
	Next time.Time `json:"next,omitzero"`
	// Running is true while a run is pending (jitter) or in progress.
	Running bool `json:"running"`
	// Runs and Failures count finished runs (including earlier
	// processes'), Skipped the activations skipped in this process
	// because the previous run was still going.
	Runs     int64 `json:"runs"`
	Failures int64 `json:"failures"`
	Skipped  int64 `json:"skipped"`
}

type entry struct {
	name, spec string
	sched      Schedule
	job        Job
	opts       JobOptions
	next       time.Time
	running    bool
	skipped    int64
	state      JobState
}

// Scheduler runs jobs on cron schedules. Its methods are safe for
// concurrent use.
type Scheduler struct {
	opts  Options
	clock Clock
	log   *slog.Logger

	mu      sync.Mutex
	entries []*entry
	byName  map[string]*entry
	started bool
	stopped bool
	other   map[string]JobState // state of jobs not (yet) added

	wake     chan struct{}
	quit     chan struct{}
	loopDone chan struct{}
	base     context.Context
	cancel   context.CancelCauseFunc
	runs     sync.WaitGroup
	stateMu  sync.Mutex
}

// New returns a scheduler. It reads Options.StateFile; a state file that
// cannot be read is logged and replaced on the first write.
func New(opts Options) *Scheduler {
	if opts.Location == nil {
		opts.Location = time.Local
	}
	if opts.Rand == nil {
		opts.Rand = rand.Int64N
	}
	s := &Scheduler{
		opts:     opts,
		clock:    opts.Clock,
		log:      opts.Logger,
		byName:   map[string]*entry{},
		other:    map[string]JobState{},
		wake:     make(chan struct{}, 1),
		quit:     make(chan struct{}),
		loopDone: make(chan struct{}),
	}
	if s.clock == nil {
		s.clock = SystemClock{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.base, s.cancel = context.WithCancelCause(context.Background())
	if opts.StateFile != "" {
		st, err := ReadState(opts.StateFile)
		if err != nil {
			s.log.Warn("ignoring the scheduler state file", "err", err)
		} else {
			s.other = st.Jobs
		}
	}
	return s
}

// Add registers a job. name must be unique and spec a valid schedule (see
// the package documentation); errors name the job and wrap ErrBadSpec or
// ErrDuplicate. Jobs may be added before or after Start.
func (s *Scheduler) Add(name, spec string, job Job, opts JobOptions) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("job %q: the name must have 1 to %d bytes", name, maxNameLen)
	}
	if job == nil {
		return fmt.Errorf("job %s: no function", name)
	}
	sched, err := Parse(spec, s.opts.Location)
	if err != nil {
		return fmt.Errorf("job %s: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.byName[name]; dup {
		return fmt.Errorf("job %s: %w", name, ErrDuplicate)
	}
	if s.stopped {
		return fmt.Errorf("job %s: %w", name, ErrShutdown)
	}
	e := &entry{name: name, spec: spec, sched: sched, job: job, opts: opts, state: s.other[name]}
	delete(s.other, name)
	s.entries = append(s.entries, e)
	s.byName[name] = e
	if s.started {
		s.arm(e, s.clock.Now())
		s.poke()
	}
	return nil
}

// Start computes every job's next run, starts the catch-up runs and the
// scheduling loop. Calling it again does nothing.
func (s *Scheduler) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.stopped {
		return
	}
	s.started = true
	now := s.clock.Now()
	for _, e := range s.entries {
		s.arm(e, now)
	}
	go s.loop()
}

// arm sets e's next run and starts a catch-up run when one is due.
// s.mu is held.
func (s *Scheduler) arm(e *entry, now time.Time) {
	e.next = e.sched.Next(now)
	if !s.opts.CatchUp || e.opts.NoCatchUp || s.opts.StateFile == "" {
		return
	}
	st := e.state
	missed := !st.LastStart.IsZero() && !e.sched.Next(st.LastStart).After(now)
	// A run that started but never ended died with the process.
	died := !st.LastStart.IsZero() && st.LastEnd.IsZero()
	if missed || died || st.Result == ResultInterrupted {
		s.log.Info("catching up a missed run", "job", e.name, "last_start", st.LastStart, "last_result", st.Result)
		s.dispatch(e, now, true)
	}
}

// poke wakes the loop.
func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Scheduler) loop() {
	defer close(s.loopDone)
	for {
		s.mu.Lock()
		now := s.clock.Now()
		wakeAt := now.Add(maxSleep)
		var skipped []string
		for _, e := range s.entries {
			if e.next.IsZero() {
				continue
			}
			if !e.next.After(now) {
				slot := e.next
				e.next = e.sched.Next(now)
				if !s.dispatch(e, slot, false) {
					skipped = append(skipped, e.name)
				}
			}
			if !e.next.IsZero() && e.next.Before(wakeAt) {
				wakeAt = e.next
			}
		}
		s.mu.Unlock()
		if s.opts.OnSkip != nil {
			for _, name := range skipped {
				s.opts.OnSkip(name, now)
			}
		}
		select {
		case <-s.clock.WaitUntil(wakeAt):
		case <-s.wake:
		case <-s.quit:
			return
		}
	}
}

// dispatch starts a run of e unless one is going; it reports whether it
// did. s.mu is held.
func (s *Scheduler) dispatch(e *entry, slot time.Time, catchUp bool) bool {
	if e.running {
		e.skipped++
		s.log.Warn("skipping a run: the previous one is still going", "job", e.name, "scheduled", slot)
		return false
	}
	e.running = true
	s.runs.Add(1)
	go s.run(e, slot, catchUp)
	return true
}

func (s *Scheduler) jitter(e *entry) time.Duration {
	j := e.opts.Jitter
	if j == 0 {
		j = s.opts.Jitter
	}
	if j <= 0 {
		return 0
	}
	return time.Duration(s.opts.Rand(int64(j)))
}

func (s *Scheduler) timeout(e *entry) time.Duration {
	t := e.opts.Timeout
	if t == 0 {
		t = s.opts.Timeout
	}
	return max(t, 0)
}

// run executes one run of e.
func (s *Scheduler) run(e *entry, slot time.Time, catchUp bool) {
	defer s.runs.Done()
	ctx, cancel := context.WithCancelCause(s.base)
	defer cancel(nil)
	if d := s.jitter(e); d > 0 {
		// Counted from the activation, so a late loop does not add to it.
		select {
		case <-s.clock.WaitUntil(slot.Add(d)):
		case <-ctx.Done():
			s.mu.Lock()
			e.running = false
			s.mu.Unlock()
			return
		}
	}
	start := s.clock.Now()
	s.mu.Lock()
	e.state.Spec = e.spec
	e.state.LastStart = start
	e.state.LastEnd = time.Time{}
	s.mu.Unlock()
	s.persist()
	info := RunInfo{Job: e.name, Scheduled: slot, CatchUp: catchUp, Start: start}
	if s.opts.OnRunStart != nil {
		s.opts.OnRunStart(info)
	}
	s.log.Info("job started", "job", e.name, "scheduled", slot, "catch_up", catchUp)

	done := make(chan struct{})
	timeout := s.timeout(e)
	if timeout > 0 {
		go func() {
			select {
			case <-s.clock.WaitUntil(start.Add(timeout)):
				cancel(ErrTimeout)
			case <-done:
			}
		}()
	}
	err := s.call(ctx, e)
	close(done)
	end := s.clock.Now()

	result := ResultSuccess
	switch cause := context.Cause(ctx); {
	case err == nil:
	case errors.Is(err, ErrSkipped):
		result = ResultSkipped
	case errors.Is(cause, ErrShutdown):
		result = ResultInterrupted
		err = fmt.Errorf("interrupted by shutdown: %w", err)
	case errors.Is(cause, ErrTimeout):
		result = ResultFailure
		err = fmt.Errorf("%w after %s: %w", ErrTimeout, timeout, err)
	default:
		result = ResultFailure
	}
	s.mu.Lock()
	e.running = false
	st := &e.state
	st.LastEnd, st.Result, st.Error = end, result, ""
	if err != nil {
		st.Error = err.Error()
	}
	st.Runs++
	switch result {
	case ResultSuccess:
		st.LastSuccess = end
	case ResultFailure, ResultInterrupted:
		st.Failures++
	}
	s.mu.Unlock()
	s.persist()
	level := slog.LevelInfo
	if result == ResultFailure || result == ResultInterrupted {
		level = slog.LevelError
	}
	s.log.Log(context.Background(), level, "job ended", "job", e.name, "result", result,
		"duration", end.Sub(start), "err", err)
	info.End, info.Result, info.Err = end, result, err
	if s.opts.OnRunEnd != nil {
		s.opts.OnRunEnd(info)
	}
}

// call runs the job, turning a panic into an error.
func (s *Scheduler) call(ctx context.Context, e *entry) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("job panicked", "job", e.name, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("%w: %v", ErrPanic, r)
		}
	}()
	return e.job(ctx)
}

// persist writes the state file (if any); errors are logged.
func (s *Scheduler) persist() {
	if s.opts.StateFile == "" {
		return
	}
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	s.mu.Lock()
	st := &State{Version: StateVersion, Jobs: make(map[string]JobState, len(s.entries)+len(s.other))}
	for name, j := range s.other {
		st.Jobs[name] = j
	}
	for _, e := range s.entries {
		if !e.state.LastStart.IsZero() || e.state.Runs > 0 {
			st.Jobs[e.name] = e.state
		}
	}
	s.mu.Unlock()
	if err := writeState(s.opts.StateFile, st); err != nil {
		s.log.Error("cannot save the scheduler state", "err", err)
	}
}

// Stop stops scheduling, cancels the running jobs (their context's cause
// is ErrShutdown) and waits for them until ctx ends. It returns an error
// naming the jobs still running when ctx ended. Later calls return nil.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	started := s.started
	close(s.quit)
	s.mu.Unlock()
	if started {
		<-s.loopDone
	}
	s.cancel(ErrShutdown)
	done := make(chan struct{})
	go func() {
		s.runs.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		var names []string
		for _, st := range s.Entries() {
			if st.Running {
				names = append(names, st.Name)
			}
		}
		return fmt.Errorf("scheduler stop: jobs still running %v: %w", names, ctx.Err())
	}
}

// Entries reports every job, in the order they were added.
func (s *Scheduler) Entries() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Status, 0, len(s.entries))
	for _, e := range s.entries {
		next := e.next
		if !s.started {
			next = e.sched.Next(s.clock.Now())
		}
		if s.stopped {
			next = time.Time{}
		}
		out = append(out, Status{
			Name: e.name, Spec: e.spec,
			LastStart: e.state.LastStart, LastEnd: e.state.LastEnd, LastSuccess: e.state.LastSuccess,
			LastResult: e.state.Result, LastError: e.state.Error,
			Next: next, Running: e.running,
			Runs: e.state.Runs, Failures: e.state.Failures, Skipped: e.skipped,
		})
	}
	return out
}

// Names returns the job names, in the order they were added.
func (s *Scheduler) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, len(s.entries))
	for i, e := range s.entries {
		names[i] = e.name
	}
	return slices.Clip(names)
}
