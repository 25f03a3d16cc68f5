package s3

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"lifeboat/storage"
)

// Defaults and limits for Config fields.
const (
	// DefaultTimeout bounds each request's wait for the server to make
	// progress (answer, accept or deliver bytes).
	DefaultTimeout = 30 * time.Second
	// DefaultConnectTimeout bounds establishing a TCP connection.
	DefaultConnectTimeout = 5 * time.Second
	// DefaultPartSize is both the largest object sent as a single PUT and the
	// part size of multipart uploads: a 16 MiB pack is one request.
	DefaultPartSize = 16 << 20
	// MinPartSize is S3's smallest multipart part.
	MinPartSize = 5 << 20
	// MaxSinglePut is S3's largest single PUT, and so the largest object Put
	// accepts with PutOptions.IfNotExists.
	MaxSinglePut = 5 << 30
	// Concurrency is the number of requests worth keeping in flight, as
	// reported by Capabilities.
	Concurrency = 8
)

// ErrNoBucket reports that the configured bucket does not exist. It is not
// storage.ErrNotExist: a missing bucket is a configuration error, not an
// empty repository.
var ErrNoBucket = errors.New("bucket does not exist")

// ErrTooLarge reports a conditional create (PutOptions.IfNotExists) of an
// object larger than MaxSinglePut, which S3 cannot do atomically.
var ErrTooLarge = errors.New("object too large for a conditional put")

// Lookup selects how requests address the bucket.
type Lookup int

const (
	// LookupAuto lets minio-go choose: virtual-host style for the providers
	// known to expect it (AWS, Aliyun, ...), path style otherwise (IP
	// addresses, localhost, other hosts).
	LookupAuto Lookup = iota
	// LookupPath addresses the bucket as http://endpoint/bucket/key.
	LookupPath
	// LookupVirtual addresses the bucket as http://bucket.endpoint/key.
	LookupVirtual
)

// Config describes one S3 bucket (and key prefix) to use as storage.
type Config struct {
	// Endpoint is "host[:port]", or a URL "https://host[:port]" or
	// "http://host[:port]" (the latter requires Insecure).
	Endpoint string
	// Bucket is the bucket's name. It must exist.
	Bucket string
	// Prefix, when not empty, is prepended to every key: object "a/b" is
	// stored as "<Prefix>/a/b". Leading and trailing slashes are ignored;
	// the rest must be a storage.Valid name.
	Prefix string
	// Region is the bucket's region; empty asks the server once per bucket.
	Region string
	// Insecure selects plain HTTP instead of HTTPS.
	Insecure bool
	// Lookup selects path-style or virtual-host-style bucket addressing.
	Lookup Lookup
	// AccessKey, SecretKey and SessionToken are the credentials; all empty
	// means anonymous requests.
	AccessKey, SecretKey, SessionToken string
	// StorageClass, when not empty, is sent with every Put
	// (for example STANDARD_IA).
	StorageClass string
	// Timeout bounds how long a request may make no progress: waiting for
	// response headers, or for the next bytes of a body being sent or
	// received. A large transfer that keeps moving is not cut off.
	// Zero means DefaultTimeout.
	Timeout time.Duration
	// ConnectTimeout bounds TCP connection set-up and the TLS handshake.
	// Zero means DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// PartSize is the largest object sent as one PUT and the part size of
	// larger (multipart) uploads. Zero means DefaultPartSize; otherwise it
	// must lie in [MinPartSize, MaxSinglePut].
	PartSize int64
	// AppendOnly is for credentials that may not delete: the store issues
	// no deletes (Delete fails with storage.ErrAppendOnly without a
	// request, Capabilities().AppendOnly is true) and New's probe uses
	// AppendOnlyProbe instead of a random name it would delete.
	AppendOnly bool
	// Transport, when not nil, replaces the HTTP transport New builds
	// (tests inject faults with it). Timeout still applies; ConnectTimeout
	// does not.
	Transport http.RoundTripper
	// ObjectLock, when not nil, locks every storage.Lockable object Put
	// writes: mode ObjectLock.Mode, retained until the local clock (Now)
	// at the write plus ObjectLock.Period, with Content-MD5 as S3
	// requires. New then verifies that the bucket has object lock and
	// versioning enabled and no default retention, and fails with an
	// error wrapping ErrNoObjectLock (and storage.ErrConfig) otherwise.
	ObjectLock *storage.ObjectLock
	// Now is the clock retention dates are computed from (nil: time.Now).
	Now func() time.Time
}

// store is the storage.Storage of one bucket and prefix.
type store struct {
	client    *minio.Client
	core      minio.Core
	transport http.RoundTripper
	bucket    string
	keyPrefix string // "" or "prefix/"
	where     string // "s3://bucket/prefix", for messages
	timeout   time.Duration
	partSize  int64
	class     string
	caps      storage.Capabilities // ConditionalCreate set by New's probe
	lock      *storage.ObjectLock  // nil: objects are not locked
	now       func() time.Time
	closeOnce sync.Once
	versioned atomic.Bool // the bucket was found versioned (see versions)
}

// New returns the storage for cfg. It checks that the bucket exists and is
// accessible (one HEAD request), so a wrong name fails with ErrNoBucket and
// wrong credentials with storage.ErrPermission (both also storage.ErrConfig);
// an unreachable server fails with an error storage.IsTransient reports.
//
// It then probes conditional creates, since some S3 servers ignore
// If-None-Match and silently overwrite: it creates an object under
// ProbePrefix conditionally twice, expects the second to fail, and deletes
// it (with Config.AppendOnly it keeps one fixed probe, AppendOnlyProbe,
// and deletes nothing). Capabilities().ConditionalCreate reports the outcome. When the probe
// cannot write (read-only credentials, a full bucket) the store still opens,
// with ConditionalCreate false and ConditionalCreateUnverified true; a
// transient failure of the probe fails New like one of the bucket check.
func New(ctx context.Context, cfg Config) (storage.Storage, error) {
	s, err := newStore(cfg)
	if err != nil {
		return nil, err
	}
	if err := s.checkBucket(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.checkObjectLock(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.probeConditionalCreate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// ProbePrefix is where New writes (and at once deletes) the object that
// tests the server's conditional creates.
const ProbePrefix = "probe/"

// AppendOnlyProbe is the one probe object of append-only stores, never
// deleted: the first open creates it, and every open's conditional create
// of it must then fail, which proves that the server honours If-None-Match
// without any delete.
const AppendOnlyProbe = ProbePrefix + "conditional-create-append-only"

// probeConditionalCreate sets s.caps.ConditionalCreate to what the server
// does with a second conditional create of the same object.
func (s *store) probeConditionalCreate(ctx context.Context) error {
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return fmt.Errorf("s3 open %s: probe name: %w", s.where, err)
	}
	// A random name: concurrent opens must not see each other's probe.
	name := ProbePrefix + "conditional-create-" + hex.EncodeToString(rnd[:])
	if s.caps.AppendOnly {
		name = AppendOnlyProbe
	}
	data := []byte("lifeboat conditional create probe; safe to delete\n")
	create := func() error {
		return storage.PutBytes(ctx, s, name, data, storage.PutOptions{IfNotExists: true})
	}
	err := create()
	switch {
	case err == nil:
	case s.caps.AppendOnly && errors.Is(err, storage.ErrExist):
		// An earlier open created it: the condition held.
		s.caps.ConditionalCreate = true
		return nil
	case storage.IsTransient(err) || ctx.Err() != nil:
		return fmt.Errorf("s3 open %s: probe conditional create: %w", s.where, err)
	default:
		// Cannot write here (read-only credentials, no space): the
		// conditional create cannot be tested.
		s.caps.ConditionalCreateUnverified = true
		return nil
	}
	if !s.caps.AppendOnly {
		defer s.removeProbe(ctx, name)
	}
	err = create()
	switch {
	case errors.Is(err, storage.ErrExist):
		s.caps.ConditionalCreate = true
	case err == nil:
		// The server ignored If-None-Match and replaced the object.
	case storage.IsTransient(err) || ctx.Err() != nil:
		return fmt.Errorf("s3 open %s: probe conditional create: %w", s.where, err)
	default:
		// The server refused the condition itself (NotImplemented, ...):
		// no conditional creates either.
	}
	return nil
}

// removeProbe deletes the probe object; a failure leaves a small,
// harmless object under ProbePrefix.
func (s *store) removeProbe(ctx context.Context, name string) {
	wctx, w := s.watch(ctx)
	defer w.stop()
	_ = s.client.RemoveObject(wctx, s.bucket, s.key(name), minio.RemoveObjectOptions{})
}

func newStore(cfg Config) (*store, error) {
	host, secure, err := parseEndpoint(cfg.Endpoint, cfg.Insecure)
	if err != nil {
		return nil, err
	}
	if err := s3utils.CheckValidBucketName(cfg.Bucket); err != nil {
		return nil, fmt.Errorf("s3: bucket %q: %w", cfg.Bucket, err)
	}
	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix != "" && !storage.Valid(prefix) {
		return nil, fmt.Errorf("s3: prefix %q: %w", cfg.Prefix, storage.ErrInvalidName)
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	connectTimeout := cfg.ConnectTimeout
	if connectTimeout <= 0 {
		connectTimeout = DefaultConnectTimeout
	}
	partSize := cfg.PartSize
	if partSize == 0 {
		partSize = DefaultPartSize
	}
	if partSize < MinPartSize || partSize > MaxSinglePut {
		return nil, fmt.Errorf("s3: part size %d outside [%d, %d]", partSize, MinPartSize, MaxSinglePut)
	}
	var lookup minio.BucketLookupType
	switch cfg.Lookup {
	case LookupAuto:
		lookup = minio.BucketLookupAuto
	case LookupPath:
		lookup = minio.BucketLookupPath
	case LookupVirtual:
		lookup = minio.BucketLookupDNS
	default:
		return nil, fmt.Errorf("s3: unknown bucket lookup %d", cfg.Lookup)
	}
	tr := cfg.Transport
	if tr == nil {
		tr = newTransport(timeout, connectTimeout)
	}
	client, err := minio.New(host, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken),
		Secure:       secure,
		Transport:    tr,
		Region:       cfg.Region,
		BucketLookup: lookup,
		// No retries inside minio-go: storage/retry owns retrying, with
		// its own budget and backoff.
		MaxRetries: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("s3: endpoint %q: %w", cfg.Endpoint, err)
	}
	s := &store{
		client:    client,
		core:      minio.Core{Client: client},
		transport: tr,
		bucket:    cfg.Bucket,
		where:     "s3://" + cfg.Bucket,
		timeout:   timeout,
		partSize:  partSize,
		class:     cfg.StorageClass,
		caps:      storage.Capabilities{Concurrency: Concurrency, AppendOnly: cfg.AppendOnly},
	}
	if cfg.ObjectLock != nil {
		switch cfg.ObjectLock.Mode {
		case storage.LockCompliance, storage.LockGovernance:
		default:
			return nil, fmt.Errorf("s3: object lock mode %q (want %s or %s)", cfg.ObjectLock.Mode, storage.LockCompliance, storage.LockGovernance)
		}
		if cfg.ObjectLock.Period <= 0 {
			return nil, fmt.Errorf("s3: object lock period %v must be positive", cfg.ObjectLock.Period)
		}
		l := *cfg.ObjectLock
		s.lock = &l
	}
	s.caps.Versions = versions{s: s, ok: &s.versioned}
	s.now = cfg.Now
	if s.now == nil {
		s.now = time.Now
	}
	if prefix != "" {
		s.keyPrefix = prefix + "/"
		s.where += "/" + prefix
	}
	return s, nil
}

// parseEndpoint splits an optional scheme off endpoint.
func parseEndpoint(endpoint string, insecure bool) (host string, secure bool, err error) {
	host = strings.TrimSuffix(endpoint, "/")
	switch {
	case strings.HasPrefix(host, "https://"):
		host = strings.TrimPrefix(host, "https://")
		if insecure {
			return "", false, fmt.Errorf("s3: endpoint %q is https but Insecure is set", endpoint)
		}
	case strings.HasPrefix(host, "http://"):
		host = strings.TrimPrefix(host, "http://")
		if !insecure {
			return "", false, fmt.Errorf("s3: endpoint %q is plain http; set Insecure to allow it", endpoint)
		}
	}
	if host == "" || strings.ContainsAny(host, "/?#@ ") {
		return "", false, fmt.Errorf("s3: endpoint %q: want host[:port]", endpoint)
	}
	return host, !insecure, nil
}

// newTransport is an HTTP transport whose every phase is time-bounded.
func newTransport(timeout, connectTimeout time.Duration) *http.Transport {
	dialer := &net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   connectTimeout,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          4 * Concurrency,
		MaxIdleConnsPerHost:   2 * Concurrency,
		// Go would otherwise ask for gzip and transparently decompress,
		// which breaks ranges and lengths.
		DisableCompression: true,
	}
}

// String names the bucket and prefix, for messages.
func (s *store) String() string { return s.where }

func (s *store) key(name string) string { return s.keyPrefix + name }

// checkBucket verifies the bucket exists and the credentials may use it.
func (s *store) checkBucket(ctx context.Context) error {
	wctx, w := s.watch(ctx)
	defer w.stop()
	ok, err := s.client.BucketExists(wctx, s.bucket)
	if err != nil {
		return fmt.Errorf("s3 open %s: %w", s.where, s.classify(ctx, err, w, false))
	}
	if ok {
		return nil
	}
	// A HEAD answer has no body, so minio-go reads any 404 as "no such
	// bucket"; some servers (versitygw) answer 404 to unknown access keys
	// too. A one-key listing gets the server's real error code.
	w.arm()
	fetchOwner := false
	for oi := range s.client.ListObjectsIter(wctx, s.bucket, minio.ListObjectsOptions{MaxKeys: 1, FetchOwner: &fetchOwner}) {
		err = oi.Err
		break
	}
	if err == nil {
		err = wctx.Err()
	}
	if err == nil {
		return nil // the listing works, so the bucket is there after all
	}
	return fmt.Errorf("s3 open %s: %w", s.where, s.classify(ctx, err, w, false))
}

// Capabilities reports remote storage, and an atomic conditional create
// when New's probe found one.
func (s *store) Capabilities() storage.Capabilities { return s.caps }

// Stat describes name.
func (s *store) Stat(ctx context.Context, name string) (storage.Info, error) {
	return s.stat(ctx, "stat", name)
}

// stat is Stat with op naming the caller's operation in errors.
func (s *store) stat(ctx context.Context, op, name string) (storage.Info, error) {
	if err := storage.CheckName(name); err != nil {
		return storage.Info{}, fmt.Errorf("s3 %s: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		return storage.Info{}, fmt.Errorf("s3 %s %s: %w", op, name, err)
	}
	wctx, w := s.watch(ctx)
	defer w.stop()
	oi, err := s.client.StatObject(wctx, s.bucket, s.key(name), minio.StatObjectOptions{})
	if err != nil {
		return storage.Info{}, fmt.Errorf("s3 %s %s: %w", op, name, s.classify(ctx, err, w, false))
	}
	return storage.Info{Name: name, Size: oi.Size, ModTime: oi.LastModified}, nil
}

// Get returns the bytes of name from off, at most length of them (all when
// length < 0). The body fails with a transient error when the server sends
// nothing for Timeout.
func (s *store) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if err := storage.CheckName(name); err != nil {
		return nil, fmt.Errorf("s3 get: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("s3 get %s: %w", name, err)
	}
	if off < 0 {
		return nil, fmt.Errorf("s3 get %s: negative offset %d: %w", name, off, storage.ErrInvalidRange)
	}
	if length == 0 {
		return s.emptyAt(ctx, name, off, 0)
	}
	var opts minio.GetObjectOptions
	var err error
	switch {
	case off == 0 && length < 0:
		// whole object, no Range header
	case length < 0 || length > math.MaxInt64-off:
		err = opts.SetRange(off, 0) // bytes=off-
	default:
		err = opts.SetRange(off, off+length-1)
	}
	if err != nil {
		return nil, fmt.Errorf("s3 get %s: %w", name, err)
	}

	wctx, w := s.watch(ctx)
	body, _, hdr, err := s.core.GetObject(wctx, s.bucket, s.key(name), opts)
	if err != nil {
		w.stop()
		if isInvalidRange(err) {
			// S3 cannot express an empty range: off == size is an
			// empty read, off > size an error.
			return s.emptyAt(ctx, name, off, length)
		}
		return nil, fmt.Errorf("s3 get %s: %w", name, s.classify(ctx, err, w, false))
	}
	w.disarm()
	if off > 0 {
		if err := checkContentRange(hdr.Get("Content-Range"), off); err != nil {
			body.Close()
			w.stop()
			return nil, fmt.Errorf("s3 get %s: %w", name, err)
		}
	}
	return &getBody{s: s, ctx: ctx, name: name, body: body, w: w}, nil
}

// emptyAt answers a read the server cannot express, found by a Stat: a
// zero-length read (length 0) anywhere up to the object's end, or a read
// starting exactly at its end (after the server refused the range), is
// empty; an offset past the end fails with ErrInvalidRange.
func (s *store) emptyAt(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	info, err := s.stat(ctx, "get", name)
	if err != nil {
		return nil, err
	}
	switch {
	case off > info.Size:
		return nil, fmt.Errorf("s3 get %s: offset %d beyond size %d: %w", name, off, info.Size, storage.ErrInvalidRange)
	case length != 0 && off < info.Size:
		// The server refused the range, yet the object now reaches past
		// off: it was replaced in between. Reading again will work.
		return nil, storage.MarkTransient(fmt.Errorf("s3 get %s: object changed during the read", name))
	}
	return io.NopCloser(strings.NewReader("")), nil
}

// checkContentRange verifies that a ranged GET's answer starts at off, so a
// server that ignores Range cannot pass the object's head off as its middle.
func checkContentRange(cr string, off int64) error {
	rest, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return fmt.Errorf("server ignored the range request (Content-Range %q)", cr)
	}
	first, _, _ := strings.Cut(rest, "-")
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start != off {
		return fmt.Errorf("server answered range %q for offset %d", cr, off)
	}
	return nil
}

// getBody is a Get response body under the no-progress watchdog: the timer
// runs only while a Read waits for the server, never while the caller is
// busy elsewhere.
type getBody struct {
	s    *store
	ctx  context.Context // the caller's, to tell cancellation from stalls
	name string
	body io.ReadCloser
	w    *watchdog
}

func (b *getBody) Read(p []byte) (int, error) {
	b.w.arm()
	n, err := b.body.Read(p)
	b.w.disarm()
	if err != nil && err != io.EOF {
		err = fmt.Errorf("s3 get %s: %w", b.name, b.s.classify(b.ctx, err, b.w, false))
	}
	return n, err
}

func (b *getBody) Close() error {
	b.w.stop()
	return b.body.Close()
}

// Put stores size bytes of r under name: one PUT up to the part size (and
// always for IfNotExists), a multipart upload beyond.
func (s *store) Put(ctx context.Context, name string, r io.ReadSeeker, size int64, opt storage.PutOptions) error {
	if err := storage.CheckName(name); err != nil {
		return fmt.Errorf("s3 put: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3 put %s: %w", name, err)
	}
	if size < 0 {
		return fmt.Errorf("s3 put %s: negative size %d", name, size)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("s3 put %s: rewind: %w", name, err)
	}
	opts := minio.PutObjectOptions{
		ContentType:  "application/octet-stream",
		StorageClass: s.class,
		PartSize:     uint64(s.partSize),
		// No SHA-256 payload signing (UNSIGNED-PAYLOAD): it would hash
		// every byte once more on each side, per region. Objects are named
		// by their SHA-256 and verified on every read, by check and by
		// sync --verify; requests stay signed.
		DisableContentSha256: true,
	}
	if opt.IfNotExists {
		// minio-go sends If-None-Match only on a single PUT; its
		// multipart path would silently overwrite.
		if size > MaxSinglePut {
			return fmt.Errorf("s3 put %s: %d bytes: %w (limit %d)", name, size, ErrTooLarge, int64(MaxSinglePut))
		}
		opts.SetMatchETagExcept("*")
		opts.DisableMultipart = true
	} else if size <= s.partSize {
		opts.DisableMultipart = true
	}
	if size == 0 {
		// Over plain HTTP minio-go signs bodies as aws-chunked streams;
		// for an empty body it declares Content-Length 0 yet sends the
		// final signed chunk, which Go then sends chunked and versitygw
		// leaves unread, poisoning the kept-alive connection. An empty
		// body needs no payload signature.
		opts.DisableContentSha256 = true
	}
	if s.lock != nil && storage.Lockable(name) {
		opts.Mode = minioMode(s.lock.Mode)
		opts.RetainUntilDate = s.now().Add(s.lock.Period).UTC()
		opts.SendContentMd5 = true // S3 requires it with a retention
	}
	wctx, w := s.watch(ctx)
	defer w.stop()
	opts.Progress = w // every chunk sent resets the no-progress timer
	if _, err := s.client.PutObject(wctx, s.bucket, s.key(name), r, size, opts); err != nil {
		return fmt.Errorf("s3 put %s: %w", name, s.classify(ctx, err, w, opt.IfNotExists))
	}
	return nil
}

// Delete removes name, failing with ErrNotExist when it is missing (S3's
// DELETE succeeds either way, so this costs a HEAD first).
func (s *store) Delete(ctx context.Context, name string) error {
	if s.caps.AppendOnly {
		return fmt.Errorf("s3 delete %s: %w", name, storage.ErrAppendOnly)
	}
	if _, err := s.stat(ctx, "delete", name); err != nil {
		return err
	}
	wctx, w := s.watch(ctx)
	defer w.stop()
	if err := s.client.RemoveObject(wctx, s.bucket, s.key(name), minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("s3 delete %s: %w", name, s.retainedOr(ctx, name, "", s.classify(ctx, err, w, false)))
	}
	return nil
}

// List calls fn for every object under prefix. Keys that are not valid
// object names (written by other tools) are skipped. Each page request is
// under the no-progress watchdog; time spent in fn does not count.
func (s *store) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	if !storage.ValidPrefix(prefix) {
		return fmt.Errorf("s3 list: prefix %q: %w", prefix, storage.ErrInvalidName)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3 list %q: %w", prefix, err)
	}
	wctx, w := s.watch(ctx)
	defer w.stop()
	fetchOwner := false
	opts := minio.ListObjectsOptions{
		Prefix:     s.keyPrefix + prefix,
		Recursive:  true,
		FetchOwner: &fetchOwner,
	}
	for oi := range s.client.ListObjectsIter(wctx, s.bucket, opts) {
		w.disarm()
		if oi.Err != nil {
			return fmt.Errorf("s3 list %q: %w", prefix, s.classify(ctx, oi.Err, w, false))
		}
		name, ok := strings.CutPrefix(oi.Key, s.keyPrefix)
		if ok && storage.Valid(name) {
			if err := fn(storage.Info{Name: name, Size: oi.Size, ModTime: oi.LastModified}); err != nil {
				return err
			}
		}
		w.arm()
	}
	w.disarm()
	// minio-go's iterator ends silently when its context is done; without
	// this check a cancelled or stalled listing would look complete.
	if err := wctx.Err(); err != nil {
		return fmt.Errorf("s3 list %q: %w", prefix, s.classify(ctx, err, w, false))
	}
	return nil
}

// Close releases idle connections. The storage must not be used afterwards.
func (s *store) Close() error {
	s.closeOnce.Do(func() {
		if c, ok := s.transport.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
	})
	return nil
}
