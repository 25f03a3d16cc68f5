package lock

import (
	"context"
	"errors"
	"testing"
	"time"

	"lifeboat/storage"
	"lifeboat/storage/fault"
	"lifeboat/storage/readonly"
	"lifeboat/storage/retry"
)

// noSleep makes retries immediate.
func noSleep(context.Context, time.Duration) error { return nil }

// wrappers are storage wrappers a caller may put around a region set; the
// lock must still decide by a majority of its regions through them.
var wrappers = []struct {
	name string
	wrap func(storage.Storage) storage.Storage
}{
	{"retry", func(st storage.Storage) storage.Storage { return retry.New(st, retry.Options{Sleep: noSleep}) }},
	{"fault", func(st storage.Storage) storage.Storage { return fault.New(st) }},
}

// TestLockNeedsMajority through the wrappers: with two of three regions
// down the lock can be neither taken nor renewed, and says why.
func TestWrappedLockNeedsMajority(t *testing.T) {
	for _, w := range wrappers {
		t.Run(w.name, func(t *testing.T) {
			ctx := context.Background()
			c := newCluster(t, 1)
			st := w.wrap(c.sets[0])
			a := mustAcquire(t, st, "repository", holder(1), c.clock)
			defer abandon(a)
			c.setDown(0, true)
			c.setDown(1, true)
			if err := a.renew(); !errors.Is(err, ErrNoQuorum) || errors.Is(err, ErrLost) {
				t.Fatalf("renew with one region: %v, want ErrNoQuorum", err)
			}
			if _, err := Acquire(ctx, st, "other", holder(2), lease, c.clock); !errors.Is(err, ErrNoQuorum) || errors.Is(err, ErrLocked) {
				t.Fatalf("Acquire with one region: %v, want ErrNoQuorum", err)
			}
			c.setDown(1, false)
			if err := a.renew(); err != nil {
				t.Fatalf("renew with two regions: %v", err)
			}
		})
	}
}

// Inspect through a read-only wrapper reads every region: a lock taken
// while the preferred region r0 was down is found although r0 lacks it.
func TestReadOnlyInspectReadsEveryRegion(t *testing.T) {
	c := newCluster(t, 1)
	c.setDown(0, true)
	a := mustAcquire(t, c.sets[0], "repository", holder(1), c.clock)
	defer abandon(a)
	c.setDown(0, false)
	info, err := Inspect(context.Background(), readonly.New(c.sets[0]), "repository")
	if err != nil || info == nil || info.Holder != holder(1) {
		t.Fatalf("Inspect through readonly = %+v, %v; want host 1's lock", info, err)
	}
}
