package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Sentinel errors. Backends translate their native errors into these (wrapped
// with context); callers test them with errors.Is.
var (
	// ErrNotExist reports that the named object does not exist.
	ErrNotExist = errors.New("object does not exist")
	// ErrExist reports that a conditional create found the object already present.
	ErrExist = errors.New("object already exists")
	// ErrInvalidRange reports a Get whose offset lies beyond the object's end.
	ErrInvalidRange = errors.New("invalid range")
	// ErrInvalidName reports an object name that Valid rejects.
	ErrInvalidName = errors.New("invalid object name")
	// ErrReadOnly reports a mutation attempted through a read-only storage.
	ErrReadOnly = errors.New("storage is read-only")
	// ErrAppendOnly reports a Delete refused, without reaching the backend,
	// by an append-only storage (Capabilities.AppendOnly).
	ErrAppendOnly = errors.New("storage is append-only: deletes are left to a trusted host")
	// ErrPermission reports that the backend refused access (bad credentials,
	// denied by policy, unwritable directory). Not retried.
	ErrPermission = errors.New("permission denied")
	// ErrConfig marks an error that only a change of configuration fixes:
	// wrong credentials, access denied by policy, a missing bucket. The
	// backend answered, so the location is misconfigured, not down;
	// waiting or retrying does not help. Backends wrap it alongside the
	// specific sentinel (ErrPermission, a missing-bucket error).
	ErrConfig = errors.New("configuration error")
	// ErrNoSpace reports that the backend is out of space (full disk, quota).
	// Not retried.
	ErrNoSpace = errors.New("no space left")
	// ErrTransient marks an error that may succeed when retried (timeouts,
	// connection resets, 5xx answers, throttling). Backends wrap it with
	// MarkTransient; the retry wrapper retries only errors carrying it.
	ErrTransient = errors.New("transient error")
	// ErrQuorum reports a write that fewer regions of a replicated storage
	// accepted than its write quorum requires.
	ErrQuorum = errors.New("write quorum not reached")
	// ErrUnavailable reports a read that no region of a replicated storage
	// could serve.
	ErrUnavailable = errors.New("no region available")
	// ErrRetained reports a deletion the backend refused because the
	// object (version) is retained by object lock (a retention period or
	// a legal hold). It is not ErrPermission: the deletion becomes
	// possible once the retention ends (see RetainedError.Until), so
	// callers skip the object and retry later.
	ErrRetained = errors.New("object is retained by object lock")
)

// RetainedError is the error of a deletion refused because the object is
// retained by object lock. errors.Is(err, ErrRetained) holds for it.
type RetainedError struct {
	// Name is the object.
	Name string
	// Mode is the retention mode of the retained version (LockCompliance
	// or LockGovernance), "" when the server did not report it.
	Mode string
	// Until is when the retention ends. Zero when the server did not
	// report it (a legal hold, or a noncurrent version whose lock headers
	// the server omits): retry after one lock period.
	Until time.Time
}

// Error describes the retention; callers add the object's name as context.
func (e *RetainedError) Error() string {
	if e.Until.IsZero() {
		return ErrRetained.Error()
	}
	return fmt.Sprintf("%v until %s", ErrRetained, e.Until.UTC().Format(time.RFC3339))
}

// Unwrap makes errors.Is(err, ErrRetained) hold.
func (e *RetainedError) Unwrap() error { return ErrRetained }

// Object lock modes (ObjectLock.Mode, Retention.Mode).
const (
	// LockCompliance: nobody can shorten the retention or delete the
	// version before it ends.
	LockCompliance = "compliance"
	// LockGovernance: only holders of a bypass permission can.
	LockGovernance = "governance"
)

// ObjectLock describes a storage that writes every lockable object (see
// Lockable) with its own retention: mode Mode until the time of the write
// plus Period.
type ObjectLock struct {
	Mode   string
	Period time.Duration
}

// MutablePrefixes are the name prefixes of the bookkeeping objects a
// storage with object lock never locks, because Lifeboat replaces or
// deletes them as part of normal operation: repository locks (locks/),
// sync and maintenance state (state/) and the S3 backend's open probe
// (probe/). Every other object (config, keys/, data/, index/, snapshots/,
// drills/, and any future immutable prefix such as tombstones/) is locked.
// A new mutable prefix must be added here, or its objects become
// undeletable for one lock period.
var MutablePrefixes = []string{"locks/", "state/", "probe/"}

// Lockable reports whether a storage with object lock locks name: every
// name outside MutablePrefixes.
func Lockable(name string) bool {
	for _, p := range MutablePrefixes {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	return true
}

// Retention is the object lock state of an object's current version.
type Retention struct {
	// Mode is LockCompliance, LockGovernance, or "" (no retention).
	Mode string
	// Until is when the retention ends (zero: none).
	Until time.Time
	// LegalHold is true when a legal hold blocks deletion.
	LegalHold bool
}

// Retainer is implemented by backends with object lock (reach it with
// FindRetainer, through wrappers).
type Retainer interface {
	// Retention reads the lock state of name's current version.
	Retention(ctx context.Context, name string) (Retention, error)
	// ExtendRetention makes name's current version retained until at
	// least until; a retention already reaching until is left alone
	// (retention is never shortened). A missing object fails with
	// ErrNotExist.
	ExtendRetention(ctx context.Context, name string, until time.Time) error
	// Purge deletes every version of name (Delete only hides it behind a
	// delete marker in a versioned bucket), freeing its space. A version
	// still retained fails with a *RetainedError; versions deleted before
	// it stay deleted. A name with no version fails with ErrNotExist.
	Purge(ctx context.Context, name string) error
}

// FindRetainer returns the Retainer behind s, unwrapping wrappers
// (Unwrapper), or false when the backend has none.
func FindRetainer(s Storage) (Retainer, bool) {
	for range 16 { // wrappers nest a few deep; bound the walk
		if r, ok := s.(Retainer); ok {
			return r, true
		}
		u, ok := s.(Unwrapper)
		if !ok {
			return nil, false
		}
		s = u.Unwrap()
	}
	return nil, false
}

// MarkTransient wraps err so that errors.Is(err, ErrTransient) holds, keeping
// err itself reachable through errors.Is/As. It returns nil for a nil err.
func MarkTransient(err error) error {
	if err == nil {
		return nil
	}
	return &transientError{err: err}
}

type transientError struct{ err error }

func (e *transientError) Error() string   { return e.err.Error() }
func (e *transientError) Unwrap() []error { return []error{e.err, ErrTransient} }

// IsTransient reports whether err is marked as worth retrying.
func IsTransient(err error) bool { return errors.Is(err, ErrTransient) }

// Info describes a stored object.
type Info struct {
	// Name is the object's full name, as given to Put.
	Name string
	// Size is the object's length in bytes.
	Size int64
	// ModTime is when the object was last written, as the backend reports it
	// (may be zero when the backend does not know).
	ModTime time.Time
}

// Capabilities describes what a backend offers, so callers adapt without type
// assertions.
type Capabilities struct {
	// ConditionalCreate is true when Put with PutOptions.IfNotExists is atomic
	// against concurrent writers (local filesystem link/rename, S3
	// If-None-Match: *). When false, IfNotExists is only best effort.
	// Backends whose servers may ignore the condition (S3) report what a
	// probe at open found, not what they ask for.
	ConditionalCreate bool
	// ConditionalCreateUnverified is true when the backend could not test
	// its conditional creates (its probe write was refused, for example
	// with read-only credentials); ConditionalCreate is then false.
	ConditionalCreateUnverified bool
	// Local is true when the objects live on a local filesystem, so reads are
	// cheap and a local cache adds nothing.
	Local bool
	// Concurrency is the number of requests worth keeping in flight
	// (0 means no preference).
	Concurrency int
	// ReadOnly is true when every mutation fails with ErrReadOnly.
	ReadOnly bool
	// AppendOnly is true when the storage issues no deletes (its
	// credentials may not delete): Delete fails with ErrAppendOnly without
	// a request, and a failed conditional create leaves the copies it
	// made. Writers then skip their housekeeping deletes, leaving them to
	// a host that may delete.
	AppendOnly bool
	// Regions is the region set behind a storage that keeps a copy of
	// every object in several independent regions, nil for any other
	// storage. Callers that verify content fail over and repair through
	// it, commit snapshots and take locks per region; reach it here,
	// never by a type assertion on the storage, so that it survives
	// wrappers. Wrappers pass it through, adapted to their semantics (a
	// read-only wrapper returns a read-only view).
	Regions RegionSet
	// ObjectLock, when not nil, says that the storage writes every
	// Lockable object with its own object lock retention, and that the
	// backend verified at open that the bucket has object lock and
	// versioning enabled. Region sets report nil; ask each region.
	ObjectLock *ObjectLock
	// Versions, when not nil, reads and removes the object versions the
	// storage keeps (see Versions). nil for a backend without versions
	// and for a region set (ask each region); a read-only wrapper passes
	// a view whose DeleteVersion fails with ErrReadOnly.
	Versions Versions
}

// PutOptions modify a Put.
type PutOptions struct {
	// IfNotExists makes Put fail with ErrExist when the object already exists,
	// instead of replacing it. Commit points (snapshots, locks) use it.
	IfNotExists bool
}

// Reader is the read side of a Storage. Consumers that only read (restore,
// check, the source of a sync) take a Reader.
type Reader interface {
	// Get returns the bytes of name starting at offset off. length < 0 reads
	// to the end; otherwise at most length bytes are returned (fewer when the
	// object ends first). off > size fails with ErrInvalidRange; off == size
	// yields an empty body. A missing object fails with ErrNotExist. The
	// caller must Close the body.
	Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error)
	// Stat describes name, or fails with ErrNotExist.
	Stat(ctx context.Context, name string) (Info, error)
	// List calls fn for every object whose name starts with prefix, in no
	// guaranteed order. An error from fn stops the listing and is returned.
	// Objects put or deleted during a List may or may not be reported.
	List(ctx context.Context, prefix string, fn func(Info) error) error
	// Capabilities describes the backend.
	Capabilities() Capabilities
}

// Storage is a flat namespace of immutable-by-convention objects. All methods
// are safe for concurrent use. A successful Put is visible to every later Get,
// Stat and List on the same Storage (read-after-write); a Put is atomic: a
// reader sees either the whole old object, the whole new one, or none.
type Storage interface {
	Reader
	// Put stores size bytes read from r under name, replacing any existing
	// object unless opt.IfNotExists is set. r must be re-readable: a wrapper
	// or backend may Seek(0, io.SeekStart) and read again to retry.
	Put(ctx context.Context, name string, r io.ReadSeeker, size int64, opt PutOptions) error
	// Delete removes name. Deleting a missing object fails with ErrNotExist.
	Delete(ctx context.Context, name string) error
	// Close releases resources held by the storage.
	Close() error
}

// Unwrapper is implemented by wrappers, to reach the storage they wrap.
type Unwrapper interface {
	Unwrap() Storage
}

// MaxNameLen is the longest object name accepted.
const MaxNameLen = 512

// Valid reports whether name is an acceptable object name: 1 to MaxNameLen
// bytes of ASCII letters, digits and "._-" in slash-separated segments, no
// empty, "." or ".." segment, no leading or trailing slash. Backends reject
// other names with ErrInvalidName, so no name can escape a backend's root.
func Valid(name string) bool {
	if name == "" || len(name) > MaxNameLen {
		return false
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			case c == '.' || c == '_' || c == '-':
			default:
				return false
			}
		}
	}
	return true
}

// CheckName returns an error wrapping ErrInvalidName when name is not Valid.
func CheckName(name string) error {
	if !Valid(name) {
		return fmt.Errorf("%q: %w", name, ErrInvalidName)
	}
	return nil
}

// ValidPrefix reports whether prefix may be passed to List: empty, or a name
// prefix whose complete segments are valid (a trailing slash is allowed).
func ValidPrefix(prefix string) bool {
	if prefix == "" {
		return true
	}
	return Valid(strings.TrimSuffix(prefix, "/"))
}

// ReadAll reads a whole object.
func ReadAll(ctx context.Context, r Reader, name string) ([]byte, error) {
	body, err := r.Get(ctx, name, 0, -1)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return data, nil
}

// ReadRange reads exactly length bytes of name at off; a short object is an
// io.ErrUnexpectedEOF.
func ReadRange(ctx context.Context, r Reader, name string, off int64, buf []byte) error {
	body, err := r.Get(ctx, name, off, int64(len(buf)))
	if err != nil {
		return err
	}
	defer body.Close()
	if _, err := io.ReadFull(body, buf); err != nil {
		return fmt.Errorf("read %s at %d: %w", name, off, err)
	}
	return nil
}

// PutBytes stores data under name.
func PutBytes(ctx context.Context, s Storage, name string, data []byte, opt PutOptions) error {
	return s.Put(ctx, name, bytes.NewReader(data), int64(len(data)), opt)
}

// Replica is one copy of an object in a replicated storage (a region).
type Replica struct {
	// Region names where this copy lives.
	Region string
	// Reader reads from that region only.
	Reader Reader
}

// RegionSet is what a replicated storage (a region set) offers besides the
// Storage methods, reached through Capabilities().Regions. Storage-level
// failures fail over inside the set; callers that verify content
// (hashes, authentication) use Replicas to try another copy when one is
// bad, ReportBad to count it against the region and Repair to rewrite it
// from a good one; a repository commits its snapshots with Lagging,
// WriteQuorum and PutOnly, lists with ListUnion, and the repository lock
// keeps its objects in every region through Names and Region.
//
// The per-region operations are the set's own: a wrapper around the set
// (retry, fault injection) does not apply its behaviour to them, only a
// read-only wrapper restricts them (see readonly).
type RegionSet interface {
	// Names returns the region names in configuration order.
	Names() []string
	// Region returns the named region's own storage (false for a name
	// that is not in the set).
	Region(name string) (Storage, bool)
	// Replicas returns one reader per region, in read preference order
	// (healthy, high priority, low latency first).
	Replicas() []Replica
	// Repair rewrites the copy of name in region with data, which the
	// caller has verified.
	Repair(ctx context.Context, region, name string, data []byte) error
	// ReportBad tells the set that region returned bad content for name
	// (it counts against the region's health).
	ReportBad(region, name string, err error)
	// Lagging returns, in configuration order, the regions missing an
	// object written through the set since it was created.
	Lagging() []string
	// WriteQuorum returns how many regions must accept a write.
	WriteQuorum() int
	// PutOnly writes name to the named regions only, with the write
	// quorum enforced over them; the regions left out are then lagging.
	PutOnly(ctx context.Context, regions []string, name string, r io.ReadSeeker, size int64, opt PutOptions) error
	// ListUnion calls fn once for every name under prefix in any region
	// (a region that is behind cannot hide objects).
	ListUnion(ctx context.Context, prefix string, fn func(Info) error) error
}

// ErrNoVersioning reports a version operation (Capabilities.Versions) on
// a storage that keeps no object versions: an S3 bucket without
// versioning enabled, or a backend without versions. Point-in-time
// reading and recovery need versioning.
var ErrNoVersioning = errors.New("storage keeps no object versions (versioning is not enabled)")

// VersionInfo describes one version of an object, or one delete marker,
// in a versioned storage.
type VersionInfo struct {
	// Name is the object's name.
	Name string
	// VersionID identifies the version (opaque; the backend's own).
	VersionID string
	// ModTime is when this version (or marker) was written, by the
	// storage's clock.
	ModTime time.Time
	// Size is the version's length in bytes (0 for a delete marker).
	Size int64
	// DeleteMarker is true for a delete marker: the object was deleted
	// (without a version ID) at ModTime.
	DeleteMarker bool
	// IsLatest is true for the object's current version or marker.
	IsLatest bool
}

// Versions is the object-version side of a versioned storage (an S3
// bucket with versioning), reached through Capabilities().Versions. In
// such a storage a Put adds a new version, a Delete adds a delete
// marker, and the older versions stay readable until deleted by version.
// A storage that can only tell at use whether it keeps versions (S3)
// fails these calls with ErrNoVersioning when it does not.
type Versions interface {
	// ListVersions calls fn for every version and delete marker of every
	// object whose name starts with prefix: grouped by name, newest first
	// within a name. An error from fn stops the listing and is returned.
	ListVersions(ctx context.Context, prefix string, fn func(VersionInfo) error) error
	// GetVersion is Get of one version of name (ErrNotExist when name has
	// no such version, or it is a delete marker).
	GetVersion(ctx context.Context, name, versionID string, off, length int64) (io.ReadCloser, error)
	// DeleteVersion permanently removes one version or delete marker of
	// name. A version still retained by object lock fails with a
	// *RetainedError; a read-only storage fails with ErrReadOnly and an
	// append-only one with ErrAppendOnly. Removing a latest delete marker
	// makes the version below it current again.
	DeleteVersion(ctx context.Context, name, versionID string) error
}
