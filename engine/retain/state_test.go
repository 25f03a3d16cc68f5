package retain_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"lifeboat/engine/format"
	"lifeboat/engine/retain"
	"lifeboat/storage"
)

func TestRetryAt(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	until := now.Add(3 * time.Hour)
	tests := []struct {
		name string
		err  error
		want time.Time
		ok   bool
	}{
		{"until known", fmt.Errorf("purge: %w", &storage.RetainedError{Until: until}), until, true},
		{"until unknown", &storage.RetainedError{}, now.Add(24 * time.Hour), true},
		{"permission", storage.ErrPermission, time.Time{}, false},
		{"other", errors.New("boom"), time.Time{}, false},
	}
	for _, tt := range tests {
		got, ok := retain.RetryAt(tt.err, now, 24*time.Hour)
		if ok != tt.ok || !got.Equal(tt.want) {
			t.Errorf("%s: RetryAt = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestUnprotected(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, b := format.ID{1}, format.ID{2}
	snaps := []storage.Info{
		{Name: format.SnapshotName(b), ModTime: t0.Add(2 * time.Hour)},
		{Name: format.SnapshotName(a), ModTime: t0.Add(time.Hour)},
	}
	st := &retain.State{Time: t0.Add(90 * time.Minute), Until: t0.Add(25 * time.Hour), Snapshots: []format.ID{a}}
	tests := []struct {
		name   string
		st     *retain.State
		now    time.Time
		oldest string
		n      int
	}{
		{"no extension yet", nil, t0.Add(3 * time.Hour), format.SnapshotName(a), 2},
		{"newer snapshot not covered", st, t0.Add(3 * time.Hour), format.SnapshotName(b), 1},
		{"extension lapsed", st, t0.Add(26 * time.Hour), format.SnapshotName(a), 2},
	}
	for _, tt := range tests {
		p := retain.Unprotected(tt.st, snaps, tt.now)
		if p.OldestUnprotected != tt.oldest || p.Unprotected != tt.n {
			t.Errorf("%s: %+v, want oldest %s, %d unprotected", tt.name, p, tt.oldest, tt.n)
		}
	}
}
