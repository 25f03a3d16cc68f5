package lock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"lifeboat/storage"
)

// Prefix is where lock objects live.
const Prefix = "locks/"

// Version is the version of the lock object format.
const Version = 1

// MaxObjectSize bounds a lock object.
const MaxObjectSize = 64 << 10

// maxAttempts bounds the rounds of one Acquire (each round reads the
// current lock and tries one conditional create).
const maxAttempts = 8

// Errors of the package.
var (
	// ErrLocked reports a lock held by someone else (see LockedError).
	ErrLocked = errors.New("locked")
	// ErrLost reports a lock that expired before its holder could renew
	// it, or that someone else took.
	ErrLost = errors.New("lock lost")
	// ErrBadLock marks a lock object that cannot be decoded.
	ErrBadLock = errors.New("invalid lock object")
)

// Holder identifies who holds a lock.
type Holder struct {
	// Host is the holder's host name.
	Host string `json:"host"`
	// PID is the holder's process ID.
	PID int `json:"pid"`
	// ID distinguishes holders on one host (random per process or use).
	ID string `json:"id"`
}

func (h Holder) String() string {
	return fmt.Sprintf("%s (pid %d, id %s)", h.Host, h.PID, h.ID)
}

// Info is the content of a lock object.
type Info struct {
	Version int    `json:"version"`
	Name    string `json:"name"`
	Holder  Holder `json:"holder"`
	// Acquired is when the holder took the lock; Renewed when it last
	// extended it; Expires when others may break it.
	Acquired time.Time `json:"acquired"`
	Renewed  time.Time `json:"renewed"`
	Expires  time.Time `json:"expires"`
	// Released is set in the record a holder leaves when it releases the
	// lock: the lock is free.
	Released bool `json:"released,omitempty"`
}

// Held reports whether the lock is held at now.
func (i *Info) Held(now time.Time) bool { return !i.Released && now.Before(i.Expires) }

// LockedError reports who holds a lock and until when. errors.Is(err,
// ErrLocked) holds.
type LockedError struct {
	Name    string
	Holder  Holder
	Expires time.Time
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("lock %s is held by %s until %s", e.Name, e.Holder, e.Expires.Format(time.RFC3339))
}

// Unwrap returns ErrLocked.
func (e *LockedError) Unwrap() error { return ErrLocked }

// Clock is the lock's source of time (the same methods as the scheduler's).
type Clock interface {
	Now() time.Time
	// WaitUntil returns a channel that receives once the clock reads t or
	// later.
	WaitUntil(t time.Time) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) WaitUntil(t time.Time) <-chan time.Time { return time.After(time.Until(t)) }

// EncodeInfo returns the JSON form of a lock object.
func EncodeInfo(i *Info) ([]byte, error) {
	b, err := json.Marshal(i)
	if err != nil {
		return nil, fmt.Errorf("encode lock: %w", err)
	}
	return b, nil
}

// DecodeInfo parses a lock object.
func DecodeInfo(data []byte) (*Info, error) {
	if len(data) > MaxObjectSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadLock, len(data))
	}
	var i Info
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&i); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadLock, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrBadLock)
	}
	if i.Version != Version {
		return nil, fmt.Errorf("%w: version %d", ErrBadLock, i.Version)
	}
	if !validName(i.Name) {
		return nil, fmt.Errorf("%w: lock name %q", ErrBadLock, i.Name)
	}
	return &i, nil
}

// validName reports whether name can name a lock: one valid object name
// segment.
func validName(name string) bool {
	return name != "" && !strings.Contains(name, "/") && len(name) <= 64 && storage.Valid(name)
}

// Inspect returns the current state of a lock: nil when it is free (never
// taken, released, or unreadable), else the record of its holder; an
// expired lock is returned as it is (see Info.Held). It reads every region
// of a region set (Capabilities().Regions) and fails with ErrNoQuorum
// unless a majority answered. When several leases have records (a holder
// that crashed and the one that broke its lock, before the cleanup), the
// one that expires last is returned.
func Inspect(ctx context.Context, st storage.Reader, name string) (*Info, error) {
	if !validName(name) {
		return nil, fmt.Errorf("lock %q: invalid name", name)
	}
	v, err := readView(ctx, replicasOf(st), name)
	if err != nil {
		return nil, err
	}
	// At the zero time every record not released is held.
	return v.holderOf(time.Time{}, nil), nil
}

// Lock is a held lock. The holder renews it in the background every
// lease/3 until Release.
type Lock struct {
	reps  []replica
	name  string
	lease time.Duration
	clock Clock

	mu   sync.Mutex
	seq  uint64
	info Info
	err  error

	done        chan struct{}
	stop        chan struct{}
	stopped     chan struct{}
	closeOnce   sync.Once
	stopOnce    sync.Once
	releaseOnce sync.Once
	releaseErr  error
}

// testHookRenewed, when set, is called after every renewal attempt.
var testHookRenewed func(l *Lock, err error)

// testNoRenewals, set by tests, makes Acquire start no background
// renewals (the test renews by hand).
var testNoRenewals bool

// Acquire takes the lock called name (one segment of a-z, A-Z, 0-9, ".",
// "_", "-") in st for lease, as holder. When someone else holds it and
// its lease has not expired, it fails with a *LockedError. An expired lease
// (a crashed holder) is broken; among concurrent acquirers at most one
// wins. ctx bounds the acquisition only; clock nil means the system
// clock.
//
// The lock is kept as numbered generation objects locks/<name>/<n>, each
// created only by a conditional create (storage.PutOptions.IfNotExists).
// When st is a region set (Capabilities().Regions) every region is read
// and written separately and a majority of all its regions decides; when
// fewer answer or accept, Acquire fails with ErrNoQuorum. See the package
// documentation for the protocol. Every region must have
// Capabilities().ConditionalCreate: the lock is not safe otherwise (the
// caller checks). Hosts are assumed to agree on the time to well within
// the lease.
func Acquire(ctx context.Context, st storage.Storage, name string, holder Holder, lease time.Duration, clock Clock) (*Lock, error) {
	if !validName(name) {
		return nil, fmt.Errorf("lock %q: invalid name", name)
	}
	if lease < 3*time.Millisecond {
		return nil, fmt.Errorf("lock %s: lease %v is too short", name, lease)
	}
	if clock == nil {
		clock = systemClock{}
	}
	reps := replicasOf(st)
	var lastLocked error
	for range maxAttempts {
		v, err := readView(ctx, reps, name)
		if err != nil {
			return nil, err
		}
		now := clock.Now()
		if h := v.holderOf(now, nil); h != nil {
			return nil, &LockedError{Name: name, Holder: h.Holder, Expires: h.Expires}
		}
		mine := v.top + 1
		info := Info{Version: Version, Name: name, Holder: holder, Acquired: now, Renewed: now, Expires: now.Add(lease)}
		o, err := create(ctx, reps, name, mine, &info)
		if err != nil {
			return nil, err
		}
		if o.exists {
			// Someone else created this generation first (or left a
			// copy of it): try again from a fresh view.
			undo(ctx, reps, name, mine, o)
			lastLocked = fmt.Errorf("generation %d exists in %s", mine, strings.Join(o.existIn, ", "))
			continue
		}
		if o.n < majority(len(reps)) {
			undo(ctx, reps, name, mine, o)
			return nil, o.quorumErr(name, mine, len(reps))
		}
		// Another acquirer may have created a newer generation, or
		// committed one whose creation we did not see, meanwhile: only a
		// generation that is still the newest, with no other lease held
		// beside it, holds the lock.
		after, err := readView(ctx, reps, name)
		if err != nil {
			undo(ctx, reps, name, mine, o)
			return nil, err
		}
		me := leaseOf(&info)
		if after.top != mine || after.holderOf(clock.Now(), &me) != nil {
			undo(ctx, reps, name, mine, o)
			lastLocked = fmt.Errorf("generation %d was overtaken", mine)
			continue
		}
		l := &Lock{reps: reps, name: name, lease: lease, clock: clock, seq: mine, info: info,
			done: make(chan struct{}), stop: make(chan struct{}), stopped: make(chan struct{})}
		deleteBelow(ctx, reps, name, mine, after)
		if testNoRenewals {
			close(l.stopped)
		} else {
			go l.renewLoop()
		}
		return l, nil
	}
	if lastLocked == nil {
		lastLocked = errors.New("too much contention")
	}
	return nil, fmt.Errorf("lock %s: %w: %w", name, ErrLocked, lastLocked)
}

// Name returns the lock's name.
func (l *Lock) Name() string { return l.name }

// Info returns the lock's current record.
func (l *Lock) Info() Info {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.info
}

// Done is closed when the lock is lost or released.
func (l *Lock) Done() <-chan struct{} { return l.done }

// Err returns nil while the lock is held, an error wrapping ErrLost once
// it was lost, and nil after Release.
func (l *Lock) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// lose records that the lock is lost.
func (l *Lock) lose(err error) {
	l.mu.Lock()
	if l.err == nil {
		l.err = err
	}
	l.mu.Unlock()
	l.closeOnce.Do(func() { close(l.done) })
}

func (l *Lock) renewLoop() {
	defer close(l.stopped)
	interval := l.lease / 3
	next := l.Info().Renewed.Add(interval)
	for {
		select {
		case <-l.stop:
			return
		case <-l.clock.WaitUntil(next):
		}
		select {
		case <-l.stop:
			return
		default:
		}
		err := l.renew()
		if testHookRenewed != nil {
			testHookRenewed(l, err)
		}
		if l.Err() != nil {
			return
		}
		next = l.clock.Now().Add(interval)
		if err != nil {
			// Retry sooner after a failure, while the lease lasts.
			next = l.clock.Now().Add(max(interval/4, time.Millisecond))
		}
	}
}

// renew extends the lease by creating the next generation in a majority
// of the regions.
func (l *Lock) renew() error {
	now := l.clock.Now()
	l.mu.Lock()
	info, seq := l.info, l.seq
	l.mu.Unlock()
	if !now.Before(info.Expires) {
		err := fmt.Errorf("lock %s: %w: the lease expired at %s before it could be renewed", l.name, ErrLost, info.Expires.Format(time.RFC3339))
		l.lose(err)
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), max(info.Expires.Sub(now), time.Second))
	defer cancel()
	info.Renewed, info.Expires = now, now.Add(l.lease)
	if err := l.next(ctx, seq, &info, true); err != nil {
		return err
	}
	l.mu.Lock()
	l.seq, l.info = seq+1, info
	l.mu.Unlock()
	deleteBelow(ctx, l.reps, l.name, seq+1, nil)
	return nil
}

// next creates generation seq+1 holding info. When a region already has
// it, someone else took the lock: it is lost. When too few regions accept
// it, the copies are undone if undoShort is set.
func (l *Lock) next(ctx context.Context, seq uint64, info *Info, undoShort bool) error {
	o, err := create(ctx, l.reps, l.name, seq+1, info)
	if err != nil {
		return err
	}
	if o.exists {
		undo(ctx, l.reps, l.name, seq+1, o)
		err := fmt.Errorf("lock %s: %w: taken over by another holder (generation %d exists in %s)", l.name, ErrLost, seq+1, strings.Join(o.existIn, ", "))
		l.lose(err)
		return err
	}
	if o.n < majority(len(l.reps)) {
		if undoShort {
			undo(ctx, l.reps, l.name, seq+1, o)
		}
		return o.quorumErr(l.name, seq+1, len(l.reps))
	}
	return nil
}

// Release stops the renewals and frees the lock (the newest generation
// becomes a released record). It returns an error wrapping ErrLost when
// the lock had been lost; when a majority of the regions does not accept
// the release record, the lock may stay taken until its lease expires.
// Later calls return the first call's result.
func (l *Lock) Release(ctx context.Context) error {
	l.releaseOnce.Do(func() { l.releaseErr = l.release(ctx) })
	return l.releaseErr
}

// stopRenewals stops the background renewals and waits for them.
func (l *Lock) stopRenewals() {
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.stopped
}

func (l *Lock) release(ctx context.Context) error {
	l.stopRenewals()
	defer l.closeOnce.Do(func() { close(l.done) })
	if err := l.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	info, seq := l.info, l.seq
	l.mu.Unlock()
	info.Released = true
	info.Renewed = l.clock.Now()
	info.Expires = info.Renewed
	// A release record that only some regions accepted is left there: it
	// frees nothing but this lease, whose holder has stopped.
	if err := l.next(ctx, seq, &info, false); err != nil {
		if errors.Is(err, ErrLost) {
			return err
		}
		return fmt.Errorf("lock %s: release: %w", l.name, err)
	}
	l.mu.Lock()
	l.seq = seq + 1
	l.mu.Unlock()
	deleteBelow(ctx, l.reps, l.name, seq+1, nil)
	return nil
}
