package regions

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"lifeboat/storage"
)

// Errors of the region set.
var (
	// ErrQuorum reports a Put that fewer than Options.WriteQuorum regions
	// accepted (storage.ErrQuorum).
	ErrQuorum = storage.ErrQuorum
	// ErrUnavailable reports a read that no region could serve
	// (storage.ErrUnavailable).
	ErrUnavailable = storage.ErrUnavailable
	// ErrUnknownRegion reports a region name that is not in the set.
	ErrUnknownRegion = errors.New("unknown region")
)

// Defaults for Options.
const (
	// DefaultBreakerThreshold is the default Options.BreakerThreshold.
	DefaultBreakerThreshold = 3
	// DefaultBreakerCooldown is the default Options.BreakerCooldown.
	DefaultBreakerCooldown = 30 * time.Second
	// MaxBufferedPut is the largest Put body read into memory and written
	// to all regions concurrently; bigger bodies are written sequentially.
	MaxBufferedPut = 64 << 20
	// MaxBehindNames is how many distinct names Behind keeps per region.
	MaxBehindNames = 10000
)

// Region is one member of a set.
type Region struct {
	// Name identifies the region (unique, non-empty).
	Name string
	// Storage holds the region's copy of every object.
	Storage storage.Storage
	// Priority orders healthy regions for reads: lower is preferred.
	Priority int
}

// Options configure a Set.
type Options struct {
	// WriteQuorum is how many regions must accept a Put for it to
	// succeed: 0 means all of them, otherwise 1..len(regions).
	WriteQuorum int
	// AppendOnly makes the set issue no deletes (see the package
	// documentation): Delete fails with storage.ErrAppendOnly and a failed
	// conditional create leaves its copies. The set is also append-only
	// when any region reports Capabilities.AppendOnly.
	AppendOnly bool
	// Now is the clock for the breaker and latency measurements
	// (nil: time.Now).
	Now func() time.Time
	// BreakerThreshold is how many consecutive failures open a region's
	// breaker (0: DefaultBreakerThreshold).
	BreakerThreshold int
	// BreakerCooldown is how long an open breaker keeps a region at the end
	// of the read order before a trial read (0: DefaultBreakerCooldown).
	BreakerCooldown time.Duration
	// OnEvent, if set, is told about failovers, repairs, failed region
	// writes, bad content reports, hung reads and breaker changes. It must
	// be safe for concurrent use; it is never called with a lock held.
	OnEvent func(Event)
	// HedgeFloor and HedgeCap bound a region's read deadline, which is
	// HedgeFactor times its latency EWMA: at least HedgeFloor (0:
	// DefaultHedgeFloor), at most HedgeCap (0: DefaultHedgeCap, and never
	// below HedgeFloor). A read that a region has not answered within its
	// deadline marks the region hung; see the package documentation.
	HedgeFloor, HedgeCap time.Duration
	// AfterFunc runs f in its own goroutine once d has passed on the
	// clock of Now, unless the returned stop is called first (stop reports
	// whether it prevented the call). nil: time.AfterFunc.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
}

// EventKind says what an Event reports.
type EventKind int

// The kinds of events.
const (
	// EventFailover: a read was served by Region after a more preferred
	// region failed or lacked the object (Err is that region's error).
	EventFailover EventKind = iota + 1
	// EventRepair: Repair rewrote Name in Region (Err is set if it failed).
	EventRepair
	// EventRegionFailed: a write (Put, Delete) of Name failed in Region.
	EventRegionFailed
	// EventBreakerOpen: Region's breaker opened after Err.
	EventBreakerOpen
	// EventBreakerClose: Region answered again; its breaker closed.
	EventBreakerClose
	// EventBadContent: ReportBad was called for Name in Region.
	EventBadContent
	// EventHung: a read of Name (empty for a body or listing) went past
	// Region's deadline without an answer; the region moved behind the
	// regions that answer.
	EventHung
)

// String returns the kind's name.
func (k EventKind) String() string {
	switch k {
	case EventFailover:
		return "failover"
	case EventRepair:
		return "repair"
	case EventRegionFailed:
		return "region-failed"
	case EventBreakerOpen:
		return "breaker-open"
	case EventBreakerClose:
		return "breaker-close"
	case EventBadContent:
		return "bad-content"
	case EventHung:
		return "hung"
	}
	return fmt.Sprintf("event(%d)", int(k))
}

// Event is something worth logging that happened in a region.
type Event struct {
	Kind   EventKind
	Region string
	// Name is the object concerned (the prefix for a List failover; empty
	// for breaker events).
	Name string
	// Err is the error behind the event, if any.
	Err  error
	Time time.Time
}

// RegionHealth is a snapshot of one region's state.
type RegionHealth struct {
	Name string
	// Healthy is true while the region's breaker is closed.
	Healthy bool
	// Hung is true while the region's last read went past its deadline
	// without an answer (until the region answers again).
	Hung bool
	// ConsecutiveFailures counts failures since the last answer.
	ConsecutiveFailures int
	// LastError is the region's most recent failure (nil if none yet).
	LastError error
	// LatencyEWMA is the moving average of the region's request times.
	LatencyEWMA time.Duration
	// Reads and Writes count requests sent to the region (Get, Stat, List;
	// Put, Delete).
	Reads, Writes int64
	// Failovers counts reads the region served after another failed.
	Failovers int64
	// BadContent counts ReportBad calls for the region.
	BadContent int64
}

// Lag lists the objects a region is missing because a write to it failed.
type Lag struct {
	// Names are the objects whose last write failed in the region, sorted,
	// at most MaxBehindNames of them.
	Names []string
	// Overflow counts failed writes not recorded because Names was full.
	Overflow int64
}

// region is a member's configuration and mutable state.
type region struct {
	name  string
	st    storage.Storage
	prio  int
	index int

	mu          sync.Mutex
	consecutive int
	// silent is set when the region's last failure was that it did not
	// answer (an error, a timeout), not that it answered with bad content.
	silent   bool
	lastErr  error
	open     bool
	openedAt time.Time // also the time of the last trial
	// hung is set when a read went past its deadline without an answer,
	// and cleared by the next answer; hungAt is when (or the last trial).
	hung   bool
	hungAt time.Time
	// waiting are the reads waiting on the region, told when it hangs.
	waiting   map[hangHook]struct{}
	ewma      time.Duration
	measured  bool
	reads     int64
	writes    int64
	failovers int64
	bad       int64
	behind    map[string]struct{}
	overflow  int64
}

// Set is a region set: one storage.Storage backed by several regions.
type Set struct {
	regions   []*region // configuration order
	static    []*region // by Priority, then configuration order
	byName    map[string]*region
	quorum    int
	now       func() time.Time
	threshold int
	cooldown  time.Duration
	onEvent   func(Event)
	bufLimit  int64
	// appendOnly is Options.AppendOnly (see isAppendOnly).
	appendOnly bool

	hedgeFloor, hedgeCap time.Duration
	afterFunc            func(time.Duration, func()) func() bool
}

var (
	_ storage.Storage   = (*Set)(nil)
	_ storage.RegionSet = (*Set)(nil)
)

// New builds a Set from regions (at least one). Names must be unique and
// non-empty, storages non-nil, and opt.WriteQuorum within 0..len(regions).
func New(regions []Region, opt Options) (*Set, error) {
	if len(regions) == 0 {
		return nil, errors.New("regions: no regions")
	}
	if opt.WriteQuorum < 0 || opt.WriteQuorum > len(regions) {
		return nil, fmt.Errorf("regions: write quorum %d out of range 0..%d", opt.WriteQuorum, len(regions))
	}
	if opt.BreakerThreshold < 0 {
		return nil, fmt.Errorf("regions: negative breaker threshold %d", opt.BreakerThreshold)
	}
	if opt.BreakerCooldown < 0 {
		return nil, fmt.Errorf("regions: negative breaker cooldown %v", opt.BreakerCooldown)
	}
	if opt.HedgeFloor < 0 || opt.HedgeCap < 0 {
		return nil, fmt.Errorf("regions: negative read deadline bound %v or %v", opt.HedgeFloor, opt.HedgeCap)
	}
	s := &Set{
		byName:    map[string]*region{},
		quorum:    opt.WriteQuorum,
		now:       opt.Now,
		threshold: opt.BreakerThreshold,
		cooldown:  opt.BreakerCooldown,
		onEvent:   opt.OnEvent,
		bufLimit:  MaxBufferedPut,

		appendOnly: opt.AppendOnly,

		hedgeFloor: cmp.Or(opt.HedgeFloor, DefaultHedgeFloor),
		hedgeCap:   cmp.Or(opt.HedgeCap, DefaultHedgeCap),
		afterFunc:  opt.AfterFunc,
	}
	s.hedgeCap = max(s.hedgeCap, s.hedgeFloor)
	if s.afterFunc == nil {
		s.afterFunc = realAfterFunc
	}
	if s.quorum == 0 {
		s.quorum = len(regions)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.threshold == 0 {
		s.threshold = DefaultBreakerThreshold
	}
	if s.cooldown == 0 {
		s.cooldown = DefaultBreakerCooldown
	}
	for i, r := range regions {
		if r.Name == "" {
			return nil, fmt.Errorf("regions: region %d has no name", i)
		}
		if r.Storage == nil {
			return nil, fmt.Errorf("regions: region %s has no storage", r.Name)
		}
		if _, dup := s.byName[r.Name]; dup {
			return nil, fmt.Errorf("regions: duplicate region name %q", r.Name)
		}
		reg := &region{name: r.Name, st: r.Storage, prio: r.Priority, index: i, behind: map[string]struct{}{}}
		s.regions = append(s.regions, reg)
		s.byName[r.Name] = reg
	}
	s.static = slices.Clone(s.regions)
	slices.SortStableFunc(s.static, func(a, b *region) int { return cmp.Compare(a.prio, b.prio) })
	return s, nil
}

// Region returns the storage of the named region.
func (s *Set) Region(name string) (storage.Storage, bool) {
	r, ok := s.byName[name]
	if !ok {
		return nil, false
	}
	return r.st, true
}

// Names returns the region names in configuration order.
func (s *Set) Names() []string {
	names := make([]string, len(s.regions))
	for i, r := range s.regions {
		names[i] = r.name
	}
	return names
}

// Health returns a snapshot of every region's state, in configuration
// order.
func (s *Set) Health() []RegionHealth {
	out := make([]RegionHealth, len(s.regions))
	for i, r := range s.regions {
		r.mu.Lock()
		out[i] = RegionHealth{
			Name:                r.name,
			Healthy:             !r.open,
			Hung:                r.hung,
			ConsecutiveFailures: r.consecutive,
			LastError:           r.lastErr,
			LatencyEWMA:         r.ewma,
			Reads:               r.reads,
			Writes:              r.writes,
			Failovers:           r.failovers,
			BadContent:          r.bad,
		}
		r.mu.Unlock()
	}
	return out
}

// Behind reports, for every region that missed writes since the Set was
// created, the names it is missing (a later successful Put, Repair or
// Delete of the name in that region removes it). Regions that missed
// nothing are absent.
func (s *Set) Behind() map[string]Lag {
	out := map[string]Lag{}
	for _, r := range s.regions {
		r.mu.Lock()
		if len(r.behind) > 0 || r.overflow > 0 {
			lag := Lag{Overflow: r.overflow, Names: make([]string, 0, len(r.behind))}
			for name := range r.behind {
				lag.Names = append(lag.Names, name)
			}
			slices.Sort(lag.Names)
			out[r.name] = lag
		}
		r.mu.Unlock()
	}
	return out
}

// Capabilities combines the regions': ConditionalCreate and Local only if
// every region has them, ReadOnly if every region is read-only, and the
// largest Concurrency. Regions is the set itself.
func (s *Set) Capabilities() storage.Capabilities {
	c := storage.Capabilities{ConditionalCreate: true, Local: true, ReadOnly: true, Regions: s, AppendOnly: s.appendOnly}
	for _, r := range s.regions {
		rc := r.st.Capabilities()
		c.AppendOnly = c.AppendOnly || rc.AppendOnly
		c.ConditionalCreate = c.ConditionalCreate && rc.ConditionalCreate
		c.Local = c.Local && rc.Local
		c.ReadOnly = c.ReadOnly && rc.ReadOnly
		c.Concurrency = max(c.Concurrency, rc.Concurrency)
	}
	return c
}

// isAppendOnly reports whether the set issues no deletes: configured so,
// or a region says so.
func (s *Set) isAppendOnly() bool {
	if s.appendOnly {
		return true
	}
	for _, r := range s.regions {
		if r.st.Capabilities().AppendOnly {
			return true
		}
	}
	return false
}

// Close closes every region and joins their errors.
func (s *Set) Close() error {
	var errs []error
	for _, r := range s.regions {
		if err := r.st.Close(); err != nil {
			errs = append(errs, fmt.Errorf("region %s: %w", r.name, err))
		}
	}
	return errors.Join(errs...)
}

// emit reports ev to OnEvent, if set.
func (s *Set) emit(kind EventKind, r *region, name string, err error) {
	if s.onEvent == nil {
		return
	}
	s.onEvent(Event{Kind: kind, Region: r.name, Name: name, Err: err, Time: s.now()})
}

// answered reports whether err is a meaningful answer from a region rather
// than a failure to answer.
func answered(err error) bool {
	return err == nil ||
		errors.Is(err, storage.ErrNotExist) ||
		errors.Is(err, storage.ErrExist) ||
		errors.Is(err, storage.ErrInvalidRange) ||
		errors.Is(err, storage.ErrInvalidName) ||
		errors.Is(err, storage.ErrReadOnly)
}

// opKind says which counter a request increments.
type opKind int

const (
	opRead opKind = iota
	opWrite
)

// observe records the outcome of one request to r that took d.
func (s *Set) observe(ctx context.Context, r *region, kind opKind, d time.Duration, err error) {
	r.mu.Lock()
	if kind == opRead {
		r.reads++
	} else {
		r.writes++
	}
	if !answered(err) && ctx.Err() != nil {
		// The caller gave up; that says nothing about the region.
		r.mu.Unlock()
		return
	}
	d = max(d, 0)
	if r.measured {
		r.ewma += (d - r.ewma) / 4
	} else {
		r.ewma, r.measured = d, true
	}
	r.mu.Unlock()
	if answered(err) {
		s.succeeded(r)
	} else {
		s.failed(r, err)
	}
}

// succeeded resets r's failure count and closes its breaker.
func (s *Set) succeeded(r *region) {
	r.mu.Lock()
	r.consecutive = 0
	r.silent = false
	r.hung = false
	wasOpen := r.open
	r.open = false
	r.mu.Unlock()
	if wasOpen {
		s.emit(EventBreakerClose, r, "", nil)
	}
}

// failed counts a failure of r, opening its breaker at the threshold (or
// restarting the cooldown of an open one).
func (s *Set) failed(r *region, err error) { s.failure(r, err, false) }

// failure records a failed request to r; answered is set when the region
// did answer, with bad content.
func (s *Set) failure(r *region, err error, answered bool) {
	now := s.now()
	r.mu.Lock()
	r.consecutive++
	r.silent = !answered
	r.lastErr = err
	opened := false
	if r.open {
		r.openedAt = now
	} else if r.consecutive >= s.threshold {
		r.open, r.openedAt, opened = true, now, true
	}
	r.mu.Unlock()
	if opened {
		s.emit(EventBreakerOpen, r, "", err)
	}
}

// order returns the regions in read preference order: closed breakers
// before hung regions before open breakers. With trial set, the first open
// or hung region whose cooldown has passed is claimed for a trial request
// (restarting its cooldown) and put first.
func (s *Set) order(trial bool) []*region {
	type snap struct {
		r    *region
		rank int // 0 answering, 1 hung, 2 breaker open
		lat  time.Duration
	}
	now := s.now()
	snaps := make([]snap, 0, len(s.regions))
	var trialRegion *region
	for _, r := range s.regions {
		r.mu.Lock()
		if trial && trialRegion == nil {
			switch {
			case r.open && !now.Before(r.openedAt.Add(s.cooldown)):
				r.openedAt = now
				trialRegion = r
			case !r.open && r.hung && !now.Before(r.hungAt.Add(s.cooldown)):
				r.hungAt = now
				trialRegion = r
			}
		}
		rank := 0
		switch {
		case r.open:
			rank = 2
		case r.hung:
			rank = 1
		}
		snaps = append(snaps, snap{r: r, rank: rank, lat: r.ewma})
		r.mu.Unlock()
	}
	slices.SortFunc(snaps, func(a, b snap) int {
		if a.r == trialRegion || b.r == trialRegion {
			if a.r == trialRegion {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(a.r.prio, b.r.prio), cmp.Compare(a.lat, b.lat), cmp.Compare(a.r.index, b.r.index))
	})
	out := make([]*region, len(snaps))
	for i, sn := range snaps {
		out[i] = sn.r
	}
	return out
}

// markBehind records that the last write of name to r failed.
func (r *region) markBehind(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.behind[name]; ok {
		return
	}
	if len(r.behind) >= MaxBehindNames {
		r.overflow++
		return
	}
	r.behind[name] = struct{}{}
}

// caughtUp records that a write of name to r succeeded.
func (r *region) caughtUp(name string) {
	r.mu.Lock()
	delete(r.behind, name)
	r.mu.Unlock()
}

// failover notes that r served a read of name after earlier regions failed
// with errs.
func (s *Set) failover(r *region, name string, errs []error) {
	if len(errs) == 0 {
		return
	}
	r.mu.Lock()
	r.failovers++
	r.mu.Unlock()
	s.emit(EventFailover, r, name, errors.Join(errs...))
}

// ctxErr makes sure err (from a region, after the caller's context ended)
// satisfies errors.Is(err, ctx.Err()).
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	return err
}

// readFailure is the error of a read no region served: ErrNotExist when
// every region said so, otherwise ErrUnavailable with every failure.
func readFailure(op, name string, fails []error, missing []string) error {
	if len(fails) == 0 {
		return fmt.Errorf("regions %s %s: %w in every region", op, name, storage.ErrNotExist)
	}
	note := ""
	if len(missing) > 0 {
		note = fmt.Sprintf(" (missing in region %s)", strings.Join(missing, ", "))
	}
	return fmt.Errorf("regions %s %s: %w%s: %w", op, name, ErrUnavailable, note, errors.Join(fails...))
}

// Get reads name from the first region in preference order that has it,
// hedging requests that go past their region's deadline. See the package
// documentation for failover rules.
func (s *Set) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if err := storage.CheckName(name); err != nil {
		return nil, fmt.Errorf("regions get: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("regions get %s: %w", name, err)
	}
	body, release, err := hedged(ctx, s, "get", name, s.order(true),
		func(ctx context.Context, r *region) (io.ReadCloser, error) { return r.st.Get(ctx, name, off, length) },
		func(body io.ReadCloser) { body.Close() })
	if err != nil {
		return nil, err
	}
	return &releaseBody{ReadCloser: body, release: release}, nil
}

// releaseBody releases the request context of a hedged Get when closed.
type releaseBody struct {
	io.ReadCloser
	release func()
}

func (b *releaseBody) Close() error {
	err := b.ReadCloser.Close()
	b.release()
	return err
}

// Stat describes name from the first region in preference order that has
// it, hedging like Get.
func (s *Set) Stat(ctx context.Context, name string) (storage.Info, error) {
	if err := storage.CheckName(name); err != nil {
		return storage.Info{}, fmt.Errorf("regions stat: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return storage.Info{}, fmt.Errorf("regions stat %s: %w", name, err)
	}
	info, release, err := hedged(ctx, s, "stat", name, s.order(true),
		func(ctx context.Context, r *region) (storage.Info, error) { return r.st.Stat(ctx, name) },
		func(storage.Info) {})
	if err != nil {
		return storage.Info{}, err
	}
	release()
	return info, nil
}

// List lists prefix in the first region in preference order that answers.
// It fails over to the next region only while nothing has been reported; a
// region that reports nothing within its deadline is abandoned for the next
// one while another region can serve.
func (s *Set) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	if !storage.ValidPrefix(prefix) {
		return fmt.Errorf("regions list %q: %w", prefix, storage.ErrInvalidName)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("regions list %q: %w", prefix, err)
	}
	var fails []error
	order := s.order(true)
	for i, r := range order {
		called := false
		var fnErr error
		start := s.now()
		wctx, w := s.watch(ctx, r, order[i+1:])
		w.arm()
		err := r.st.List(wctx, prefix, func(info storage.Info) error {
			if !called {
				w.disarm() // answering: no failover any more
			}
			called = true
			if err := fn(info); err != nil {
				fnErr = err
				return err
			}
			return nil
		})
		w.done()
		if fnErr != nil {
			s.observe(ctx, r, opRead, s.now().Sub(start), nil)
			return fnErr
		}
		if w.wasCut() && ctx.Err() == nil && !called {
			s.counted(r)
			fails = append(fails, w.err("list", prefix))
			continue
		}
		s.observe(ctx, r, opRead, s.now().Sub(start), err)
		if err == nil {
			s.failover(r, prefix, fails)
			return nil
		}
		err = fmt.Errorf("region %s: %w", r.name, err)
		if ctx.Err() != nil {
			return fmt.Errorf("regions list %q: %w", prefix, ctxErr(ctx, err))
		}
		if called {
			return fmt.Errorf("regions list %q: failed mid-listing: %w", prefix, err)
		}
		fails = append(fails, err)
	}
	return fmt.Errorf("regions list %q: %w: %w", prefix, ErrUnavailable, errors.Join(fails...))
}

// ListUnion calls fn once for every name under prefix in any region,
// listing the regions one after the other in preference order and
// reporting the Info of the first region that has the name. Regions that
// fail are skipped (their failure is recorded in Health), as is a region
// that makes no progress for its read deadline while a region that listed
// completely, or one still to list, can serve; it fails only when no region
// listed completely, when fn fails, or when ctx ends. It keeps every
// reported name in memory to skip duplicates.
func (s *Set) ListUnion(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	if !storage.ValidPrefix(prefix) {
		return fmt.Errorf("regions list union %q: %w", prefix, storage.ErrInvalidName)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("regions list union %q: %w", prefix, err)
	}
	seen := map[string]struct{}{}
	var fails []error
	var listed []*region // the regions that listed completely
	order := s.order(false)
	for i, r := range order {
		var fnErr error
		start := s.now()
		// A region that makes no progress for its deadline is abandoned
		// while a region that listed completely, or one still to come,
		// can serve; time spent in fn does not count.
		wctx, w := s.watch(ctx, r, append(slices.Clip(listed), order[i+1:]...))
		w.arm()
		err := r.st.List(wctx, prefix, func(info storage.Info) error {
			w.disarm()
			defer w.arm()
			if _, dup := seen[info.Name]; dup {
				return nil
			}
			seen[info.Name] = struct{}{}
			if err := fn(info); err != nil {
				fnErr = err
				return err
			}
			return nil
		})
		w.done()
		if fnErr != nil {
			s.observe(ctx, r, opRead, s.now().Sub(start), nil)
			return fnErr
		}
		if w.wasCut() && ctx.Err() == nil {
			s.counted(r)
			fails = append(fails, w.err("list", prefix))
			continue
		}
		s.observe(ctx, r, opRead, s.now().Sub(start), err)
		if err == nil {
			listed = append(listed, r)
			continue
		}
		err = fmt.Errorf("region %s: %w", r.name, err)
		if ctx.Err() != nil {
			return fmt.Errorf("regions list union %q: %w", prefix, ctxErr(ctx, err))
		}
		fails = append(fails, err)
	}
	if len(listed) == 0 {
		return fmt.Errorf("regions list union %q: %w: %w", prefix, ErrUnavailable, errors.Join(fails...))
	}
	return nil
}

// Delete removes name from every region concurrently. An append-only set
// refuses with storage.ErrAppendOnly and asks no region.
func (s *Set) Delete(ctx context.Context, name string) error {
	if err := storage.CheckName(name); err != nil {
		return fmt.Errorf("regions delete: %w", err)
	}
	if s.isAppendOnly() {
		return fmt.Errorf("regions delete %s: %w", name, storage.ErrAppendOnly)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("regions delete %s: %w", name, err)
	}
	results := make([]error, len(s.regions))
	var wg sync.WaitGroup
	for i, r := range s.regions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := s.now()
			err := r.st.Delete(ctx, name)
			s.observe(ctx, r, opWrite, s.now().Sub(start), err)
			if err == nil || errors.Is(err, storage.ErrNotExist) {
				r.caughtUp(name)
			}
			results[i] = err
		}()
	}
	wg.Wait()
	var fails []error
	deleted := 0
	for i, err := range results {
		switch {
		case err == nil:
			deleted++
		case errors.Is(err, storage.ErrNotExist):
		default:
			r := s.regions[i]
			fails = append(fails, fmt.Errorf("region %s: %w", r.name, err))
			s.emit(EventRegionFailed, r, name, err)
		}
	}
	if len(fails) > 0 {
		return fmt.Errorf("regions delete %s: %w", name, ctxErr(ctx, errors.Join(fails...)))
	}
	if deleted == 0 {
		return fmt.Errorf("regions delete %s: %w in every region", name, storage.ErrNotExist)
	}
	return nil
}

// Replicas returns one reader per region in read preference order, open
// breakers last. A replica's reader reads that region only (no failover)
// and its outcomes count towards the region's health. A Get or Stat (or a
// Get's body) that goes past the region's deadline marks the region hung;
// it is then abandoned with ErrHung when a later replica of the same call
// can serve (is neither hung nor behind an open breaker), and a hung
// region is not asked at all while that holds. The last replica able to
// serve is always waited for.
func (s *Set) Replicas() []storage.Replica {
	order := s.order(false)
	out := make([]storage.Replica, len(order))
	for i, r := range order {
		out[i] = storage.Replica{Region: r.name, Reader: &replicaReader{s: s, r: r, alts: order[i+1:]}}
	}
	return out
}

// Repair overwrites name in region with data (which the caller verified).
func (s *Set) Repair(ctx context.Context, regionName, name string, data []byte) error {
	r, ok := s.byName[regionName]
	if !ok {
		return fmt.Errorf("regions repair %s in %q: %w", name, regionName, ErrUnknownRegion)
	}
	err := s.putRegion(ctx, r, name, byteReader(data), int64(len(data)), storage.PutOptions{})
	if err != nil {
		err = fmt.Errorf("regions repair %s in region %s: %w", name, r.name, err)
	}
	s.emit(EventRepair, r, name, err)
	return err
}

// ReportBad records that regionName returned bad content for name: it
// counts as a failure of the region. Unknown regions are ignored.
func (s *Set) ReportBad(regionName, name string, err error) {
	r, ok := s.byName[regionName]
	if !ok {
		return
	}
	if err == nil {
		err = errors.New("bad content")
	}
	err = fmt.Errorf("bad content in %s: %w", name, err)
	r.mu.Lock()
	r.bad++
	r.mu.Unlock()
	s.emit(EventBadContent, r, name, err)
	s.failure(r, err, true)
}

// replicaReader reads one region, recording outcomes in its health. alts
// are the replicas after it, which can serve when it hangs.
type replicaReader struct {
	s    *Set
	r    *region
	alts []*region
}

// skip fails a request to a hung region while a later replica can serve:
// it is not sent at all.
func (rr *replicaReader) skip(op, name string) error {
	if rr.r.isHung() && anyUsable(rr.alts) {
		return storage.MarkTransient(fmt.Errorf("region %s: %s %s: not asked while the region does not answer: %w", rr.r.name, op, name, ErrHung))
	}
	return nil
}

func (rr *replicaReader) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if err := rr.skip("get", name); err != nil {
		return nil, err
	}
	wctx, w := rr.s.watch(ctx, rr.r, rr.alts)
	start := rr.s.now()
	w.arm()
	body, err := rr.r.st.Get(wctx, name, off, length)
	w.disarm()
	if w.wasCut() && ctx.Err() == nil {
		if err == nil {
			body.Close()
		}
		w.done()
		rr.s.counted(rr.r)
		return nil, w.err("get", name)
	}
	rr.s.observe(ctx, rr.r, opRead, rr.s.now().Sub(start), err)
	if err != nil {
		w.done()
		return nil, fmt.Errorf("region %s: %w", rr.r.name, err)
	}
	return &watchedBody{rc: body, w: w, ctx: ctx, name: name}, nil
}

// watchedBody is a replica's Get body under the region's deadline: the
// clock runs only while a Read waits for the region.
type watchedBody struct {
	rc   io.ReadCloser
	w    *watch
	ctx  context.Context // the caller's
	name string
}

func (b *watchedBody) Read(p []byte) (int, error) {
	b.w.arm()
	n, err := b.rc.Read(p)
	b.w.disarm()
	if err != nil && err != io.EOF && b.w.wasCut() && b.ctx.Err() == nil {
		err = b.w.err("read", b.name)
	}
	return n, err
}

func (b *watchedBody) Close() error {
	err := b.rc.Close()
	b.w.done()
	return err
}

func (rr *replicaReader) Stat(ctx context.Context, name string) (storage.Info, error) {
	if err := rr.skip("stat", name); err != nil {
		return storage.Info{}, err
	}
	wctx, w := rr.s.watch(ctx, rr.r, rr.alts)
	defer w.done()
	start := rr.s.now()
	w.arm()
	info, err := rr.r.st.Stat(wctx, name)
	w.disarm()
	if w.wasCut() && ctx.Err() == nil {
		rr.s.counted(rr.r)
		return storage.Info{}, w.err("stat", name)
	}
	rr.s.observe(ctx, rr.r, opRead, rr.s.now().Sub(start), err)
	if err != nil {
		return storage.Info{}, fmt.Errorf("region %s: %w", rr.r.name, err)
	}
	return info, nil
}

// List lists the region (a replica's listing is that region's, for audits:
// it is not abandoned at a deadline).
func (rr *replicaReader) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	var fnErr error
	start := rr.s.now()
	err := rr.r.st.List(ctx, prefix, func(info storage.Info) error {
		if err := fn(info); err != nil {
			fnErr = err
			return err
		}
		return nil
	})
	if fnErr != nil {
		rr.s.observe(ctx, rr.r, opRead, rr.s.now().Sub(start), nil)
		return fnErr
	}
	rr.s.observe(ctx, rr.r, opRead, rr.s.now().Sub(start), err)
	if err != nil {
		return fmt.Errorf("region %s: %w", rr.r.name, err)
	}
	return nil
}

func (rr *replicaReader) Capabilities() storage.Capabilities { return rr.r.st.Capabilities() }
