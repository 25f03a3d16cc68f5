// Package s3 is the storage.Storage backend for S3-compatible object stores
// (AWS S3, MinIO, versitygw, Ceph RGW, ...). It is the only package in
// Lifeboat that talks to S3, through minio-go.
//
// Object name "a/b" is stored under key "<Prefix>/a/b" of Config.Bucket.
// Every request has explicit time bounds (connect, TLS handshake, response
// headers, and a "no progress for Config.Timeout" watchdog for bodies), so
// a hung server fails requests in seconds rather than minutes. minio-go's own
// retries are disabled: the storage/retry wrapper owns retrying, and this
// package's job is to classify failures into the storage sentinel errors
// (ErrNotExist, ErrExist, ErrInvalidRange, ErrPermission, ErrNoSpace) or
// mark them transient (timeouts, refused or reset connections, truncated
// bodies, 5xx, throttling). Refused credentials and a missing bucket
// (ErrNoBucket) are also storage.ErrConfig: the server answered, the
// configuration is wrong.
//
// Puts of up to Config.PartSize bytes are a single PUT; larger ones are
// multipart uploads. Conditional creates (PutOptions.IfNotExists) send
// If-None-Match: * and are always a single PUT, because minio-go drops that
// header on multipart uploads. Some servers ignore the header and overwrite,
// so New probes it (a second conditional create of a probe object under
// ProbePrefix must fail) and Capabilities().ConditionalCreate reports what
// the server did.
//
// With Config.ObjectLock (S3 Object Lock), New also verifies that the
// bucket has object lock and versioning enabled and no default retention
// (ErrNoObjectLock, a storage.ErrConfig, otherwise), and Put gives every
// storage.Lockable object its own retention (mode, retain-until = Config.Now
// + period, Content-MD5); Capabilities().ObjectLock reports it. The store
// is then a storage.Retainer: Retention reads the lock state from
// StatObject's headers (versitygw's GetObjectRetention answer does not
// parse with minio-go), ExtendRetention never shortens a retention, and
// Purge deletes every version. A deletion the server refuses (403) while
// the version is retained is a *storage.RetainedError, not
// storage.ErrPermission. A Delete without version in a versioned bucket
// only writes a delete marker.
package s3
