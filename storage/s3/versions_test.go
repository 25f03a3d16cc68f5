package s3_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"lifeboat/storage"
	"lifeboat/storage/s3"
	"lifeboat/storage/storagetest"
	"lifeboat/tests/s3server"
)

// TestVersionsConformance runs the versioned-storage suite against a
// versitygw bucket with versioning (created with object lock), each
// subtest under its own prefix.
func TestVersionsConformance(t *testing.T) {
	srv := s3server.Start(t, s3server.WithObjectLock())
	var n atomic.Int64
	storagetest.RunVersions(t, func(t *testing.T) storage.Storage {
		return open(t, config(srv, fmt.Sprintf("v%d", n.Add(1))))
	})
}

// TestVersionsUnversioned: a bucket without versioning has no versions to
// read: ErrNoVersioning, not an empty history.
func TestVersionsUnversioned(t *testing.T) {
	srv := s3server.Start(t)
	st := open(t, config(srv, "repo"))
	storagetest.PutString(t, st, "a", "x")
	err := st.Capabilities().Versions.ListVersions(context.Background(), "", func(storage.VersionInfo) error { return nil })
	if !errors.Is(err, storage.ErrNoVersioning) {
		t.Fatalf("ListVersions on an unversioned bucket: %v, want ErrNoVersioning", err)
	}
}

// TestDeleteVersionRetained: deleting a version still under object lock
// is the retained error, not permission denied; a delete marker over it
// can be removed, which brings the object back.
func TestDeleteVersionRetained(t *testing.T) {
	srv := s3server.Start(t, s3server.WithObjectLock())
	st := openLocked(t, srv, time.Hour)
	ctx := context.Background()
	storagetest.PutString(t, st, "data/aa/pack", "locked bytes")
	if err := st.Delete(ctx, "data/aa/pack"); err != nil {
		t.Fatal(err)
	}
	v := st.Capabilities().Versions
	vs := storagetest.ListAllVersions(t, v, "data/")
	if len(vs) != 2 || !vs[0].DeleteMarker {
		t.Fatalf("versions = %+v, want a marker over the pack", vs)
	}
	err := v.DeleteVersion(ctx, "data/aa/pack", vs[1].VersionID)
	if !errors.Is(err, storage.ErrRetained) || errors.Is(err, storage.ErrPermission) {
		t.Fatalf("delete a locked version: %v, want ErrRetained only", err)
	}
	if err := v.DeleteVersion(ctx, "data/aa/pack", vs[0].VersionID); err != nil {
		t.Fatalf("delete the marker: %v", err)
	}
	if got, err := storage.ReadAll(ctx, st, "data/aa/pack"); err != nil || string(got) != "locked bytes" {
		t.Fatalf("after removing the marker: %q, %v", got, err)
	}
}

// TestVersionTimes: versitygw lists a noncurrent version with the time it
// was replaced; ListVersions reports each version's own write time, so
// the versions of one object have distinct, increasing times even when
// they were all written within one second of the listing's granularity.
func TestVersionTimes(t *testing.T) {
	srv := s3server.Start(t, s3server.WithObjectLock())
	st := open(t, config(srv, "repo"))
	ctx := context.Background()
	var written []time.Time
	for i := range 3 {
		before := time.Now()
		storagetest.PutString(t, st, "obj", fmt.Sprintf("version %d", i))
		written = append(written, before)
		time.Sleep(5 * time.Millisecond) // distinct milliseconds
	}
	after := time.Now()
	if err := st.Delete(ctx, "obj"); err != nil {
		t.Fatal(err)
	}
	vs := storagetest.ListAllVersions(t, st.Capabilities().Versions, "obj")
	if len(vs) != 4 {
		t.Fatalf("versions = %+v", vs)
	}
	// vs[0] is the marker, written after every version.
	if vs[0].ModTime.Before(after.Add(-time.Millisecond)) {
		t.Fatalf("delete marker time %v, want after the last put (%v)", vs[0].ModTime, after)
	}
	for i, vi := range vs[1:] {
		w := written[2-i]
		// Each version's time lies between its own put and the next one.
		lo, hi := w.Add(-time.Millisecond), after
		if i > 0 {
			hi = written[3-i]
		}
		if vi.ModTime.Before(lo) || vi.ModTime.After(hi) {
			t.Fatalf("version %d time %v, want within [%v, %v] (its own write)", 2-i, vi.ModTime, lo, hi)
		}
	}
}

func TestVersionTimeULID(t *testing.T) {
	listed := time.Date(2026, 12, 4, 21, 14, 13, 0, time.UTC)
	for _, tc := range []struct {
		id   string
		want time.Time
	}{
		{"01ARZ3NDEKTSV4RRFFQ69G5FAV", time.UnixMilli(1469922850259).UTC()}, // the ULID spec's example ID
		{"3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY", listed},                       // AWS-style
		{"null", listed},
		{"", listed},
		{"8ZZZZZZZZZZZZZZZZZZZZZZZZZ", listed}, // overflows 48 bits: not a ULID
	} {
		if got := s3.VersionTime(tc.id, listed); !got.Equal(tc.want) {
			t.Errorf("versionTime(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

// TestDeleteVersionRetainedUnconfigured: a store not configured for
// object lock, on a bucket that has it, still reports a version whose
// deletion the lock refuses as retained (not permission denied), and a
// noncurrent one too (whose lock headers versitygw omits).
func TestDeleteVersionRetainedUnconfigured(t *testing.T) {
	srv := s3server.Start(t, s3server.WithObjectLock())
	locked := openLocked(t, srv, time.Hour)
	plain := open(t, config(srv, "repo"))
	ctx := context.Background()
	storagetest.PutString(t, locked, "data/aa/pack", "locked bytes")
	storagetest.PutString(t, locked, "data/aa/pack", "locked again")
	v := plain.Capabilities().Versions
	vs := storagetest.ListAllVersions(t, v, "data/")
	if len(vs) != 2 {
		t.Fatalf("versions = %+v", vs)
	}
	for _, vi := range vs {
		err := v.DeleteVersion(ctx, "data/aa/pack", vi.VersionID)
		if !errors.Is(err, storage.ErrRetained) || errors.Is(err, storage.ErrPermission) {
			t.Fatalf("delete locked version (latest %v) through an unconfigured store: %v, want ErrRetained only", vi.IsLatest, err)
		}
	}
}
