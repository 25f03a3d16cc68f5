package s3_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"lifeboat/storage"
	"lifeboat/storage/s3"
	"lifeboat/tests/s3server"
)

func openLocked(t *testing.T, srv *s3server.Server, period time.Duration) storage.Storage {
	t.Helper()
	cfg := config(srv, "repo")
	cfg.ObjectLock = &storage.ObjectLock{Mode: storage.LockCompliance, Period: period}
	return open(t, cfg)
}

func retainer(t *testing.T, st storage.Storage) storage.Retainer {
	t.Helper()
	r, ok := storage.FindRetainer(st)
	if !ok {
		t.Fatal("the s3 store is not a storage.Retainer")
	}
	return r
}

// waitRetainedEnd sleeps until until has passed (by the local clock, which
// the server on 127.0.0.1 shares), plus a second of header rounding.
func waitRetainedEnd(t *testing.T, until time.Time) {
	t.Helper()
	d := time.Until(until) + 1500*time.Millisecond
	if d > 30*time.Second {
		t.Fatalf("retained until %v: too far away to wait for", until)
	}
	time.Sleep(max(d, 0))
}

// TestObjectLockedWrites: content objects are written with their own
// retention, mutable bookkeeping is not; a delete without version makes a
// marker; purging a locked version fails with the retained error (not
// permission denied) naming the retain-until date.
func TestObjectLockedWrites(t *testing.T) {
	srv := s3server.Start(t, s3server.WithObjectLock())
	st := openLocked(t, srv, time.Hour)
	ctx := context.Background()
	if ol := st.Capabilities().ObjectLock; ol == nil || ol.Mode != storage.LockCompliance || ol.Period != time.Hour {
		t.Fatalf("Capabilities().ObjectLock = %+v, want compliance 1h", ol)
	}
	rt := retainer(t, st)
	before := time.Now()
	for _, name := range []string{"data/aa/pack", "locks/lock-1", "state/sync-a"} {
		if err := storage.PutBytes(ctx, st, name, []byte("bytes of "+name), storage.PutOptions{}); err != nil {
			t.Fatalf("put %s: %v", name, err)
		}
	}
	r, err := rt.Retention(ctx, "data/aa/pack")
	if err != nil {
		t.Fatal(err)
	}
	if r.Mode != storage.LockCompliance || r.Until.Before(before.Add(time.Hour-2*time.Second)) || r.Until.After(time.Now().Add(time.Hour+2*time.Second)) {
		t.Fatalf("pack retention = %+v, want compliance until about now+1h", r)
	}
	for _, name := range []string{"locks/lock-1", "state/sync-a"} {
		r, err := rt.Retention(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if r.Mode != "" || !r.Until.IsZero() {
			t.Fatalf("%s retention = %+v, want none (mutable prefix)", name, r)
		}
		if err := rt.Purge(ctx, name); err != nil {
			t.Fatalf("purge %s: %v", name, err)
		}
	}

	err = rt.Purge(ctx, "data/aa/pack")
	var re *storage.RetainedError
	if !errors.As(err, &re) || !errors.Is(err, storage.ErrRetained) {
		t.Fatalf("purge of a locked pack: %v, want a RetainedError", err)
	}
	if errors.Is(err, storage.ErrPermission) || errors.Is(err, storage.ErrConfig) {
		t.Fatalf("purge of a locked pack: %v is also permission/config", err)
	}
	if !re.Until.Equal(r.Until) {
		t.Fatalf("RetainedError.Until = %v, want %v", re.Until, r.Until)
	}

	// A delete without version hides the object behind a marker.
	if err := st.Delete(ctx, "data/aa/pack"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := st.Stat(ctx, "data/aa/pack"); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("stat after delete: %v, want ErrNotExist", err)
	}
	// The locked version is still there: purging removes the marker,
	// then is refused on the version.
	if err := rt.Purge(ctx, "data/aa/pack"); !errors.Is(err, storage.ErrRetained) {
		t.Fatalf("purge after delete marker: %v, want ErrRetained", err)
	}
}

// TestObjectLockExpiresAndExtends: with a short period, a version becomes
// purgeable once its retention ends; one whose retention was extended
// stays retained past its original end.
func TestObjectLockExpiresAndExtends(t *testing.T) {
	srv := s3server.Start(t, s3server.WithObjectLock())
	st := openLocked(t, srv, 2*time.Second)
	ctx := context.Background()
	rt := retainer(t, st)
	for _, name := range []string{"data/aa/garbage", "data/bb/kept"} {
		if err := storage.PutBytes(ctx, st, name, []byte(name), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := rt.ExtendRetention(ctx, "data/bb/kept", time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("extend: %v", err)
	}
	g, err := rt.Retention(ctx, "data/aa/garbage")
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Purge(ctx, "data/aa/garbage"); !errors.Is(err, storage.ErrRetained) {
		t.Fatalf("purge before the end: %v, want ErrRetained", err)
	}
	waitRetainedEnd(t, g.Until)
	if err := rt.Purge(ctx, "data/aa/garbage"); err != nil {
		t.Fatalf("purge after the end: %v", err)
	}
	if _, err := st.Stat(ctx, "data/aa/garbage"); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("stat after purge: %v", err)
	}
	if err := rt.Purge(ctx, "data/bb/kept"); !errors.Is(err, storage.ErrRetained) {
		t.Fatalf("purge of the extended object: %v, want ErrRetained", err)
	}
	// Extending to an earlier time than the current retention is a no-op,
	// not a refused shortening.
	if err := rt.ExtendRetention(ctx, "data/bb/kept", time.Now()); err != nil {
		t.Fatalf("extend to an earlier time: %v", err)
	}
}

// TestObjectLockRefusesUnlockedBucket: a bucket without object lock (made
// as a directory, as s3server does by default) fails New with a
// configuration error instead of claiming protection.
func TestObjectLockRefusesUnlockedBucket(t *testing.T) {
	srv := s3server.Start(t)
	cfg := config(srv, "")
	cfg.ObjectLock = &storage.ObjectLock{Mode: storage.LockGovernance, Period: time.Hour}
	st, err := s3.New(context.Background(), cfg)
	if err == nil {
		st.Close()
		t.Fatal("New succeeded on a bucket without object lock")
	}
	if !errors.Is(err, s3.ErrNoObjectLock) || !errors.Is(err, storage.ErrConfig) {
		t.Fatalf("New: %v, want ErrNoObjectLock and ErrConfig", err)
	}
}

func TestParseRetentionHeaders(t *testing.T) {
	h := http.Header{}
	h.Set("X-Amz-Object-Lock-Mode", "GOVERNANCE")
	h.Set("X-Amz-Object-Lock-Retain-Until-Date", "2026-12-04T04:00:32Z")
	h.Set("X-Amz-Object-Lock-Legal-Hold", "ON")
	r, err := s3.ParseRetention(h)
	if err != nil {
		t.Fatal(err)
	}
	want := storage.Retention{Mode: storage.LockGovernance, Until: time.Date(2026, 12, 4, 4, 0, 32, 0, time.UTC), LegalHold: true}
	if r != want {
		t.Fatalf("got %+v, want %+v", r, want)
	}
	h.Set("X-Amz-Object-Lock-Mode", "BOGUS")
	if _, err := s3.ParseRetention(h); err == nil {
		t.Fatal("unknown mode accepted")
	}
}
