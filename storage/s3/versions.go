package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"

	"lifeboat/storage"
)

// versions is the storage.Versions of a store (Capabilities().Versions).
// Whether the bucket keeps versions is learnt at the first call
// (GetBucketVersioning), not at open, so that opening costs no request
// more for the commands that never read versions.
type versions struct {
	s *store
	// ok is set once the bucket was found versioned (or at open, by the
	// object lock check).
	ok *atomic.Bool
}

// requireVersioning fails with storage.ErrNoVersioning unless the bucket
// has versioning enabled (or suspended: its versions remain).
func (v versions) requireVersioning(ctx context.Context, op string) error {
	if v.ok.Load() {
		return nil
	}
	s := v.s
	wctx, w := s.watch(ctx)
	defer w.stop()
	vc, err := s.client.GetBucketVersioning(wctx, s.bucket)
	if err != nil {
		return fmt.Errorf("s3 %s %s: bucket versioning: %w", op, s.where, s.classify(ctx, err, w, false))
	}
	if vc.Status != "Enabled" && vc.Status != "Suspended" {
		return fmt.Errorf("s3 %s %s: %w (versioning status %q)", op, s.where, storage.ErrNoVersioning, vc.Status)
	}
	v.ok.Store(true)
	return nil
}

// ListVersions lists every version and delete marker under prefix, in
// S3's order: by key, each key's versions newest first.
func (v versions) ListVersions(ctx context.Context, prefix string, fn func(storage.VersionInfo) error) error {
	s := v.s
	if !storage.ValidPrefix(prefix) {
		return fmt.Errorf("s3 list versions: prefix %q: %w", prefix, storage.ErrInvalidName)
	}
	if err := v.requireVersioning(ctx, "list versions"); err != nil {
		return err
	}
	wctx, w := s.watch(ctx)
	defer w.stop()
	fetchOwner := false
	opts := minio.ListObjectsOptions{Prefix: s.keyPrefix + prefix, Recursive: true, WithVersions: true, FetchOwner: &fetchOwner}
	for oi := range s.client.ListObjectsIter(wctx, s.bucket, opts) {
		w.disarm()
		if oi.Err != nil {
			return fmt.Errorf("s3 list versions %q: %w", prefix, s.classify(ctx, oi.Err, w, false))
		}
		name, ok := strings.CutPrefix(oi.Key, s.keyPrefix)
		if ok && storage.Valid(name) {
			vi := storage.VersionInfo{
				Name: name, VersionID: oi.VersionID, ModTime: versionTime(oi.VersionID, oi.LastModified),
				Size: oi.Size, DeleteMarker: oi.IsDeleteMarker, IsLatest: oi.IsLatest,
			}
			if vi.DeleteMarker {
				vi.Size = 0
			}
			if err := fn(vi); err != nil {
				return err
			}
		}
		w.arm()
	}
	w.disarm()
	if err := wctx.Err(); err != nil {
		return fmt.Errorf("s3 list versions %q: %w", prefix, s.classify(ctx, err, w, false))
	}
	return nil
}

// GetVersion reads one version of name.
func (v versions) GetVersion(ctx context.Context, name, versionID string, off, length int64) (io.ReadCloser, error) {
	s := v.s
	if err := storage.CheckName(name); err != nil {
		return nil, fmt.Errorf("s3 get version: %w", err)
	}
	if versionID == "" {
		return nil, fmt.Errorf("s3 get %s: empty version ID: %w", name, storage.ErrNotExist)
	}
	if off < 0 {
		return nil, fmt.Errorf("s3 get %s version %s: negative offset %d: %w", name, versionID, off, storage.ErrInvalidRange)
	}
	if length == 0 {
		return v.emptyVersionAt(ctx, name, versionID, off)
	}
	opts := minio.GetObjectOptions{VersionID: versionID}
	var err error
	switch {
	case off == 0 && length < 0:
		// whole object, no Range header
	case length < 0 || length > math.MaxInt64-off:
		err = opts.SetRange(off, 0)
	default:
		err = opts.SetRange(off, off+length-1)
	}
	if err != nil {
		return nil, fmt.Errorf("s3 get %s version %s: %w", name, versionID, err)
	}
	wctx, w := s.watch(ctx)
	body, _, hdr, err := s.core.GetObject(wctx, s.bucket, s.key(name), opts)
	if err != nil {
		w.stop()
		if isInvalidRange(err) {
			return v.emptyVersionAt(ctx, name, versionID, off)
		}
		return nil, fmt.Errorf("s3 get %s version %s: %w", name, versionID, s.classify(ctx, err, w, false))
	}
	w.disarm()
	if off > 0 {
		if err := checkContentRange(hdr.Get("Content-Range"), off); err != nil {
			body.Close()
			w.stop()
			return nil, fmt.Errorf("s3 get %s version %s: %w", name, versionID, err)
		}
	}
	return &getBody{s: s, ctx: ctx, name: name, body: body, w: w}, nil
}

// emptyVersionAt answers a read the server cannot express (a zero
// length, or a range it refused at or past the version's end): empty up
// to the end, ErrInvalidRange past it.
func (v versions) emptyVersionAt(ctx context.Context, name, versionID string, off int64) (io.ReadCloser, error) {
	s := v.s
	wctx, w := s.watch(ctx)
	defer w.stop()
	oi, err := s.client.StatObject(wctx, s.bucket, s.key(name), minio.StatObjectOptions{VersionID: versionID})
	if err != nil {
		return nil, fmt.Errorf("s3 get %s version %s: %w", name, versionID, s.classify(ctx, err, w, false))
	}
	if off > oi.Size {
		return nil, fmt.Errorf("s3 get %s version %s: offset %d beyond size %d: %w", name, versionID, off, oi.Size, storage.ErrInvalidRange)
	}
	return io.NopCloser(strings.NewReader("")), nil
}

// DeleteVersion removes one version or delete marker of name. A version
// the server refuses to delete while it is retained is a
// *storage.RetainedError.
func (v versions) DeleteVersion(ctx context.Context, name, versionID string) error {
	s := v.s
	if err := storage.CheckName(name); err != nil {
		return fmt.Errorf("s3 delete version: %w", err)
	}
	if s.caps.AppendOnly {
		return fmt.Errorf("s3 delete %s version %s: %w", name, versionID, storage.ErrAppendOnly)
	}
	if versionID == "" {
		return fmt.Errorf("s3 delete %s: empty version ID: %w", name, storage.ErrNotExist)
	}
	wctx, w := s.watch(ctx)
	defer w.stop()
	err := s.client.RemoveObject(wctx, s.bucket, s.key(name), minio.RemoveObjectOptions{VersionID: versionID})
	if err != nil {
		cerr := s.classify(ctx, err, w, false)
		if storage.IsTransient(cerr) {
			return fmt.Errorf("s3 delete %s version %s: %w", name, versionID, cerr)
		}
		return fmt.Errorf("s3 delete %s version %s: %w", name, versionID, s.retainedVersionOr(ctx, name, versionID, cerr))
	}
	return nil
}

// retainedVersionOr is retainedOr for a version of any bucket: a refused
// deletion (403) of a version whose lock headers show a retention, or of
// a noncurrent version (whose headers versitygw omits) in a bucket with
// object lock enabled, is retained.
func (s *store) retainedVersionOr(ctx context.Context, name, versionID string, err error) error {
	err = s.retainedOr(ctx, name, versionID, err)
	if storage.IsTransient(err) || !errors.Is(err, storage.ErrPermission) || s.lock != nil {
		return err
	}
	wctx, w := s.watch(ctx)
	defer w.stop()
	if enabled, _, _, _, lerr := s.client.GetObjectLockConfig(wctx, s.bucket); lerr == nil && enabled == "Enabled" {
		return fmt.Errorf("%w (server: %v)", &storage.RetainedError{Name: name}, err)
	}
	return err
}

// versionTime is the write time of a version listed with LastModified
// listed. versitygw (v1.8, its issue #2311) lists a noncurrent version
// with the time it was replaced, and a delete marker with the time of
// the version it hides; its version IDs are ULIDs, whose first 48 bits
// are the write time in milliseconds, which this returns for any version
// ID of ULID form (26 Crockford base32 characters). Other servers' IDs
// (AWS: 32 characters, MinIO: UUIDs) are not of that form and keep
// LastModified.
func versionTime(id string, listed time.Time) time.Time {
	if t, ok := ulidTime(id); ok {
		return t
	}
	return listed
}

// ulidTime decodes the timestamp of a ULID.
func ulidTime(id string) (time.Time, bool) {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	if len(id) != 26 || id[0] > '7' {
		return time.Time{}, false
	}
	var ms int64
	for i := 0; i < len(id); i++ {
		d := strings.IndexByte(alphabet, id[i])
		if d < 0 {
			return time.Time{}, false
		}
		if i < 10 {
			ms = ms<<5 | int64(d)
		}
	}
	return time.UnixMilli(ms).UTC(), true
}
