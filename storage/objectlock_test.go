package storage_test

import (
	"errors"
	"testing"
	"time"

	"lifeboat/storage"
)

func TestLockable(t *testing.T) {
	for name, want := range map[string]bool{
		"config": true, "keys/ab": true, "data/ab/abcd": true, "index/ab": true,
		"snapshots/ab": true, "drills/ab": true, "tombstones/data/ab/abcd": true,
		"locks/repository/1": false, "state/sync-eu": false, "state/lock-eu": false, "probe/x": false,
	} {
		if got := storage.Lockable(name); got != want {
			t.Errorf("Lockable(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestRetainedError(t *testing.T) {
	until := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	var err error = &storage.RetainedError{Name: "data/ab/abcd", Mode: storage.LockCompliance, Until: until}
	if !errors.Is(err, storage.ErrRetained) || errors.Is(err, storage.ErrPermission) {
		t.Fatalf("%v: want ErrRetained only", err)
	}
	var re *storage.RetainedError
	if !errors.As(err, &re) || !re.Until.Equal(until) {
		t.Fatalf("errors.As: %v", re)
	}
	if got, want := err.Error(), "object is retained by object lock until 2027-01-02T03:04:05Z"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
}
