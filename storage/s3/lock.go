package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"lifeboat/storage"
)

// ErrNoObjectLock reports a bucket configured for object lock (Config.
// ObjectLock) that lacks it: object lock or versioning not enabled, or a
// bucket default retention (which would lock the mutable bookkeeping
// objects too). It is also storage.ErrConfig.
var ErrNoObjectLock = errors.New("bucket is not set up for object lock")

// S3 object lock response headers (StatObject). They are read instead of
// GetObjectRetention, whose answer some servers (versitygw v1.8) encode
// with an XML root minio-go does not parse.
const (
	hdrLockMode  = "X-Amz-Object-Lock-Mode"
	hdrLockUntil = "X-Amz-Object-Lock-Retain-Until-Date"
	hdrLockHold  = "X-Amz-Object-Lock-Legal-Hold"
)

func minioMode(mode string) minio.RetentionMode {
	if mode == storage.LockGovernance {
		return minio.Governance
	}
	return minio.Compliance
}

// checkObjectLock verifies, when the store locks its objects, that the
// bucket has object lock and versioning enabled and no default retention,
// and records the lock in the capabilities.
func (s *store) checkObjectLock(ctx context.Context) error {
	if s.lock == nil {
		return nil
	}
	wctx, w := s.watch(ctx)
	defer w.stop()
	enabled, mode, _, _, err := s.client.GetObjectLockConfig(wctx, s.bucket)
	if err != nil {
		cerr := s.classify(ctx, err, w, false)
		var er minio.ErrorResponse
		if errors.As(err, &er) && (er.Code == "ObjectLockConfigurationNotFoundError" || er.StatusCode == http.StatusNotFound) {
			cerr = nil
		} else if storage.IsTransient(cerr) || ctx.Err() != nil || errors.Is(cerr, storage.ErrConfig) {
			return fmt.Errorf("s3 open %s: object lock configuration: %w", s.where, cerr)
		}
		return fmt.Errorf("s3 open %s: %w: object lock is not enabled (%v); fix: create the bucket with object lock enabled (e.g. aws s3api create-bucket --object-lock-enabled-for-bucket), or remove object_lock from the region", s.where, configErr{ErrNoObjectLock}, err)
	}
	if enabled != "Enabled" {
		return fmt.Errorf("s3 open %s: %w: object lock is %q, not Enabled; fix: enable object lock on the bucket (put-object-lock-configuration on a versioned bucket), or remove object_lock from the region", s.where, configErr{ErrNoObjectLock}, enabled)
	}
	if mode != nil && *mode != "" {
		return fmt.Errorf("s3 open %s: %w: the bucket has a default retention (%s), which would lock locks/ and state/ too; fix: remove the bucket's default retention (Lifeboat locks each object itself)", s.where, configErr{ErrNoObjectLock}, *mode)
	}
	w.arm()
	vc, err := s.client.GetBucketVersioning(wctx, s.bucket)
	if err != nil {
		return fmt.Errorf("s3 open %s: bucket versioning: %w", s.where, s.classify(ctx, err, w, false))
	}
	if !vc.Enabled() {
		return fmt.Errorf("s3 open %s: %w: versioning is %q, not Enabled; fix: enable versioning on the bucket", s.where, configErr{ErrNoObjectLock}, vc.Status)
	}
	l := *s.lock
	s.caps.ObjectLock = &l
	s.versioned.Store(true)
	return nil
}

// Retention reads the lock state of name's current version from
// StatObject's headers.
func (s *store) Retention(ctx context.Context, name string) (storage.Retention, error) {
	return s.retention(ctx, name, "")
}

func (s *store) retention(ctx context.Context, name, versionID string) (storage.Retention, error) {
	if err := storage.CheckName(name); err != nil {
		return storage.Retention{}, fmt.Errorf("s3 retention: %w", err)
	}
	wctx, w := s.watch(ctx)
	defer w.stop()
	oi, err := s.client.StatObject(wctx, s.bucket, s.key(name), minio.StatObjectOptions{VersionID: versionID})
	if err != nil {
		return storage.Retention{}, fmt.Errorf("s3 retention %s: %w", name, s.classify(ctx, err, w, false))
	}
	return parseRetention(oi.Metadata)
}

// parseRetention decodes the object lock headers of a HEAD answer.
func parseRetention(h http.Header) (storage.Retention, error) {
	var r storage.Retention
	switch m := strings.ToUpper(h.Get(hdrLockMode)); m {
	case "":
	case string(minio.Compliance):
		r.Mode = storage.LockCompliance
	case string(minio.Governance):
		r.Mode = storage.LockGovernance
	default:
		return r, fmt.Errorf("s3: unknown object lock mode %q", m)
	}
	if u := h.Get(hdrLockUntil); u != "" {
		t, err := time.Parse(time.RFC3339, u)
		if err != nil {
			return r, fmt.Errorf("s3: object lock retain-until %q: %w", u, err)
		}
		r.Until = t
	}
	r.LegalHold = strings.EqualFold(h.Get(hdrLockHold), "ON")
	return r, nil
}

// ExtendRetention makes name's current version retained until at least
// until, in the store's mode (a compliance retention stays compliance).
// It reads the retention first: one already reaching until is left alone,
// so the call never asks the server to shorten one.
func (s *store) ExtendRetention(ctx context.Context, name string, until time.Time) error {
	cur, err := s.Retention(ctx, name)
	if err != nil {
		return err
	}
	if !cur.Until.IsZero() && !cur.Until.Before(until) {
		return nil
	}
	mode := minio.Compliance
	if s.lock != nil {
		mode = minioMode(s.lock.Mode)
	}
	if cur.Mode == storage.LockCompliance && !cur.Until.IsZero() {
		mode = minio.Compliance
	}
	u := until.UTC().Truncate(time.Second).Add(time.Second) // headers have second precision; round up
	wctx, w := s.watch(ctx)
	defer w.stop()
	err = s.client.PutObjectRetention(wctx, s.bucket, s.key(name), minio.PutObjectRetentionOptions{Mode: &mode, RetainUntilDate: &u})
	if err != nil {
		return fmt.Errorf("s3 extend retention %s: %w", name, s.classify(ctx, err, w, false))
	}
	return nil
}

// Purge deletes every version and delete marker of name. The first
// version whose deletion is refused for its retention ends it with a
// *storage.RetainedError.
func (s *store) Purge(ctx context.Context, name string) error {
	if err := storage.CheckName(name); err != nil {
		return fmt.Errorf("s3 purge: %w", err)
	}
	key := s.key(name)
	type version struct {
		id     string
		marker bool
	}
	var versions []version
	wctx, w := s.watch(ctx)
	defer w.stop()
	fetchOwner := false
	for oi := range s.client.ListObjectsIter(wctx, s.bucket, minio.ListObjectsOptions{Prefix: key, Recursive: true, WithVersions: true, FetchOwner: &fetchOwner}) {
		if oi.Err != nil {
			return fmt.Errorf("s3 purge %s: list versions: %w", name, s.classify(ctx, oi.Err, w, false))
		}
		if oi.Key == key {
			versions = append(versions, version{oi.VersionID, oi.IsDeleteMarker})
		}
	}
	if err := wctx.Err(); err != nil {
		return fmt.Errorf("s3 purge %s: list versions: %w", name, s.classify(ctx, err, w, false))
	}
	if len(versions) == 0 {
		return fmt.Errorf("s3 purge %s: %w", name, storage.ErrNotExist)
	}
	for _, v := range versions {
		w.arm()
		err := s.client.RemoveObject(wctx, s.bucket, key, minio.RemoveObjectOptions{VersionID: v.id})
		if err != nil {
			cerr := s.classify(ctx, err, w, false)
			if !v.marker {
				cerr = s.retainedOr(ctx, name, v.id, cerr)
			}
			return fmt.Errorf("s3 purge %s: %w", name, cerr)
		}
	}
	return nil
}

// retainedOr turns a refused deletion (ErrPermission, S3's 403) of name
// into a *storage.RetainedError when the object is retained: the lock
// headers of the version (versionID, or the current version when "")
// show a retention not yet over or a legal hold. Some servers
// (versitygw) send no lock headers for noncurrent versions; a refused
// deletion of a version in a bucket this store locks is then reported
// retained with an unknown end. The result is no longer ErrPermission.
// Any other err is returned as is.
func (s *store) retainedOr(ctx context.Context, name, versionID string, err error) error {
	if !errors.Is(err, storage.ErrPermission) || ctx.Err() != nil {
		return err
	}
	if r, rerr := s.retention(ctx, name, versionID); rerr == nil && (r.LegalHold || r.Until.After(s.now())) {
		return fmt.Errorf("%w (server: %v)", &storage.RetainedError{Name: name, Mode: r.Mode, Until: r.Until}, err)
	}
	if versionID != "" && s.lock != nil {
		return fmt.Errorf("%w (server: %v)", &storage.RetainedError{Name: name, Mode: s.lock.Mode}, err)
	}
	return err
}
