package lock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"lifeboat/internal/fakeclock"
	"lifeboat/storage"
	"lifeboat/storage/fault"
	"lifeboat/storage/mem"
	"lifeboat/storage/regions"
)

// The region set is Regional: the lock reads and writes its regions
// separately.
var _ Regional = (*regions.Set)(nil)

// cluster is three regions (each a fault wrapper around a memory storage,
// shared by every host) and one region set per host over them, with a
// write quorum of 2, as hosts with the same configuration have.
type cluster struct {
	t      *testing.T
	clock  *fakeclock.Clock
	faults []*fault.Storage
	down   []bool
	sets   []*regions.Set
	// hook, when set, is called before every storage call of the host
	// (see hooked).
	hook func(host int)
}

func newCluster(t *testing.T, hosts int) *cluster {
	t.Helper()
	c := &cluster{t: t, clock: fakeclock.New(t0)}
	for range 3 {
		c.faults = append(c.faults, fault.New(mem.New()))
		c.down = append(c.down, false)
	}
	for h := range hosts {
		var rs []regions.Region
		for i, f := range c.faults {
			rs = append(rs, regions.Region{Name: fmt.Sprintf("r%d", i), Storage: &hooked{Storage: f, c: c, host: h}, Priority: i})
		}
		set, err := regions.New(rs, regions.Options{WriteQuorum: 2, Now: c.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		c.sets = append(c.sets, set)
	}
	return c
}

// setDown takes region i down (every call fails, as a region that does
// not answer) or brings it back with what it held.
func (c *cluster) setDown(i int, down bool) {
	if c.down[i] == down {
		return
	}
	c.down[i] = down
	c.faults[i].Reset()
	if down {
		for _, op := range []fault.Op{fault.OpGet, fault.OpStat, fault.OpList, fault.OpPut, fault.OpDelete} {
			c.faults[i].FailOn(op, nil, storage.MarkTransient(fault.ErrInjected), -1)
		}
	}
}

// hooked calls the cluster's hook before forwarding each call, so that a
// test can run another host's operation in the middle of one.
type hooked struct {
	storage.Storage
	c    *cluster
	host int
}

func (h *hooked) before() {
	if h.c.hook != nil {
		h.c.hook(h.host)
	}
}

func (h *hooked) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	h.before()
	return h.Storage.Get(ctx, name, off, length)
}

func (h *hooked) Stat(ctx context.Context, name string) (storage.Info, error) {
	h.before()
	return h.Storage.Stat(ctx, name)
}

func (h *hooked) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	h.before()
	return h.Storage.List(ctx, prefix, fn)
}

func (h *hooked) Put(ctx context.Context, name string, r io.ReadSeeker, size int64, opt storage.PutOptions) error {
	h.before()
	return h.Storage.Put(ctx, name, r, size, opt)
}

func (h *hooked) Delete(ctx context.Context, name string) error {
	h.before()
	return h.Storage.Delete(ctx, name)
}

// live reports whether l is an unexpired lock its holder still counts on.
func live(l *Lock, now time.Time) bool {
	return l != nil && l.Err() == nil && now.Before(l.Info().Expires)
}

// The scenario: with a write quorum of 2 of 3, region r0 is down
// while host A takes and releases the lock; r0 comes back without the
// lock's objects; B takes the lock; then C tries, while r0 fails to list
// once (it flaps). B and C must not both hold it.
func TestRegionDownDuringTakeAndRelease(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t, 3)
	c.setDown(0, true)
	a := mustAcquire(t, c.sets[0], "repository", holder(1), c.clock)
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	c.setDown(0, false)
	b := mustAcquire(t, c.sets[1], "repository", holder(2), c.clock)
	defer abandon(b)
	c.faults[0].FailOn(fault.OpList, fault.Prefix(Prefix), storage.MarkTransient(fault.ErrInjected), 1)
	l, err := Acquire(ctx, c.sets[2], "repository", holder(3), lease, c.clock)
	if err == nil {
		abandon(l)
		t.Fatalf("host C took the lock host B holds")
	}
	var le *LockedError
	if !errors.As(err, &le) || le.Holder != holder(2) {
		t.Fatalf("host C: %v, want the lock held by host B", err)
	}
	if !live(b, c.clock.Now()) {
		t.Fatal("host B lost the lock")
	}
}

// A holder crashed after taking the lock while region r0 (the preferred
// one) was down: its expired lock exists only in r1 and r2, and another
// host can break it.
func TestExpiredLockOnlyInOtherRegionsIsBroken(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t, 2)
	c.setDown(0, true)
	a := mustAcquire(t, c.sets[0], "repository", holder(1), c.clock)
	abandon(a) // crashes
	c.setDown(0, false)
	if _, err := Acquire(ctx, c.sets[1], "repository", holder(2), lease, c.clock); !errors.Is(err, ErrLocked) {
		t.Fatalf("before expiry: %v, want ErrLocked", err)
	}
	c.clock.Advance(lease)
	b, err := Acquire(ctx, c.sets[1], "repository", holder(2), lease, c.clock)
	if err != nil {
		t.Fatalf("breaking the expired lock: %v", err)
	}
	defer abandon(b)
	if info, err := Inspect(ctx, c.sets[1], "repository"); err != nil || info == nil || info.Holder != holder(2) {
		t.Fatalf("Inspect = %+v, %v", info, err)
	}
}

// With two of three regions down the lock can be neither taken nor
// renewed, and says why (not ErrLocked).
func TestLockNeedsMajority(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t, 1)
	a := mustAcquire(t, c.sets[0], "repository", holder(1), c.clock)
	defer abandon(a)
	c.setDown(0, true)
	c.setDown(1, true)
	if err := a.renew(); !errors.Is(err, ErrNoQuorum) || errors.Is(err, ErrLost) {
		t.Fatalf("renew with one region: %v, want ErrNoQuorum", err)
	}
	if _, err := Acquire(ctx, c.sets[0], "other", holder(2), lease, c.clock); !errors.Is(err, ErrNoQuorum) || errors.Is(err, ErrLocked) {
		t.Fatalf("Acquire with one region: %v, want ErrNoQuorum", err)
	}
	c.setDown(1, false)
	if err := a.renew(); err != nil {
		t.Fatalf("renew with two regions: %v", err)
	}
}

// model drives the randomized model test.
type model struct {
	*cluster
	rng   *rand.Rand
	locks []*Lock // per host: the lock it holds, or nil
	// crashed are locks whose holder stopped without releasing: they
	// still count until they expire.
	crashed []*Lock
	gen     []int // per host: a new Holder ID after each crash
	log     []string
	seed    uint64
	// depth counts the operations interrupted now; busy marks their
	// hosts (one operation at a time per host).
	depth int
	busy  []bool
}

// maxDepth bounds how many operations are interrupted at once.
const maxDepth = 2

func (m *model) logf(format string, args ...any) {
	m.log = append(m.log, fmt.Sprintf(format, args...))
}

func (m *model) fail(format string, args ...any) {
	m.t.Helper()
	tail := m.log
	if len(tail) > 40 {
		tail = tail[len(tail)-40:]
	}
	m.t.Fatalf("seed %d: %s\nlast steps:\n\t%s", m.seed, fmt.Sprintf(format, args...), strings.Join(tail, "\n\t"))
}

// check asserts the invariant: at most one host holds an unexpired lock.
func (m *model) check() {
	m.t.Helper()
	now := m.clock.Now()
	var holders []string
	for h, l := range m.locks {
		if live(l, now) {
			holders = append(holders, fmt.Sprintf("host%d (generation %d, until %s)", h, l.seq, l.Info().Expires.Sub(t0)))
		}
	}
	for _, l := range m.crashed {
		if live(l, now) {
			holders = append(holders, fmt.Sprintf("crashed %s (generation %d, until %s)", l.Info().Holder.ID, l.seq, l.Info().Expires.Sub(t0)))
		}
	}
	if len(holders) > 1 {
		m.fail("at %s, %d holders at once: %s", now.Sub(t0), len(holders), strings.Join(holders, ", "))
	}
}

func (m *model) holder(h int) Holder {
	return Holder{Host: fmt.Sprintf("host%d", h), PID: 100 + h, ID: fmt.Sprintf("h%d.%d", h, m.gen[h])}
}

// step performs one random action (of host h, for the host actions).
func (m *model) step() {
	m.t.Helper()
	ctx := context.Background()
	switch r := m.rng.IntN(100); {
	case r < 15:
		i := m.rng.IntN(len(m.down))
		m.logf("region r%d %s", i, map[bool]string{true: "down", false: "up"}[!m.down[i]])
		m.setDown(i, !m.down[i])
	case r < 20:
		// The next write or delete there takes effect but its answer is
		// lost: a copy is left that its writer does not know about, or
		// one it thinks it kept is gone.
		i := m.rng.IntN(len(m.down))
		op := []fault.Op{fault.OpPut, fault.OpDelete}[m.rng.IntN(2)]
		m.logf("region r%d loses the answer to its next %s", i, op)
		m.faults[i].FailAfter(op, nil, storage.MarkTransient(fault.ErrInjected), 1)
	case r < 32:
		d := []time.Duration{time.Second, 5 * time.Second, lease / 3, lease / 2, lease}[m.rng.IntN(5)]
		m.logf("clock +%s", d)
		m.clock.Advance(d)
	default:
		h := m.rng.IntN(len(m.locks))
		for m.busy[h] {
			h = (h + 1) % len(m.locks)
		}
		if m.depth < maxDepth && m.rng.IntN(3) == 0 {
			m.interrupt(h)
		}
		l := m.locks[h]
		switch {
		case l == nil:
			nl, err := Acquire(ctx, m.sets[h], "repository", m.holder(h), lease, m.clock)
			m.hook = nil
			switch {
			case err == nil:
				m.locks[h] = nl
				m.logf("host%d acquired generation %d until %s", h, nl.seq, nl.Info().Expires.Sub(t0))
			case errors.Is(err, ErrLocked), errors.Is(err, ErrNoQuorum):
				m.logf("host%d acquire: %v", h, err)
			default:
				m.fail("host%d acquire: unexpected error %v", h, err)
			}
		case m.rng.IntN(5) == 0:
			m.logf("host%d releases generation %d", h, l.seq)
			m.locks[h] = nil // it stops relying on the lock now
			err := l.Release(ctx)
			m.hook = nil
			if err != nil && !errors.Is(err, ErrLost) && !errors.Is(err, ErrNoQuorum) {
				m.fail("host%d release: unexpected error %v", h, err)
			}
			m.logf("host%d release: %v", h, err)
		case m.rng.IntN(8) == 0:
			m.logf("host%d crashes holding generation %d", h, l.seq)
			m.locks[h] = nil
			m.crashed = append(m.crashed, l)
			m.gen[h]++
		default:
			err := l.renew()
			m.hook = nil
			if err != nil && !errors.Is(err, ErrLost) && !errors.Is(err, ErrNoQuorum) {
				m.fail("host%d renew: unexpected error %v", h, err)
			}
			m.logf("host%d renew: generation %d until %s: %v", h, l.seq, l.Info().Expires.Sub(t0), err)
			if l.Err() != nil {
				m.locks[h] = nil
			}
		}
	}
	m.check()
}

// interrupt arranges for one random action to run just before host h's
// k-th storage call in its next operation: an interleaving of two hosts,
// or an outage in the middle of an operation.
func (m *model) interrupt(h int) {
	k := 1 + m.rng.IntN(12)
	m.hook = func(host int) {
		if host != h {
			return
		}
		if k--; k > 0 {
			return
		}
		m.hook = nil
		m.depth++
		m.busy[h] = true
		m.logf("  (host%d interrupted:)", h)
		m.step()
		m.depth--
		m.busy[h] = false
		m.logf("  (host%d resumes)", h)
	}
}

// A seeded randomized model test: four hosts, three regions with a write
// quorum of 2, random outages and recoveries of the regions, random
// lost answers (a write that took effect reported as failed),
// acquisitions, renewals, releases, crashes and clock moves, some of them
// in the middle of another host's operation; after every step at most one
// host holds an unexpired lock.
func TestModelAtMostOneHolder(t *testing.T) {
	testSequential, testNoRenewals = true, true
	t.Cleanup(func() { testSequential, testNoRenewals = false, false })
	const seeds, steps = 60, 300
	for seed := uint64(1); seed <= seeds; seed++ {
		m := &model{cluster: newCluster(t, 4), rng: rand.New(rand.NewPCG(seed, 0x10c4)), seed: seed,
			locks: make([]*Lock, 4), gen: make([]int, 4), busy: make([]bool, 4)}
		for range steps {
			m.step()
		}
	}
}
