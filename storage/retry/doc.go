// Package retry wraps a storage.Storage so that transient failures are
// retried with capped exponential backoff and full jitter.
//
// Guarantees:
//   - Only errors for which storage.IsTransient holds are retried; every
//     other error (ErrNotExist, ErrExist, ErrPermission, ErrNoSpace, ...) is
//     returned at once, unchanged.
//   - At most Options.Attempts calls are made per operation. Before retry n
//     (n = 1, 2, ...) the wrapper sleeps a random duration in
//     [0, min(Max, Base*2^(n-1))).
//   - With Options.NoRetryTimeouts, an attempt that timed out waiting for
//     the server (IsTimeout) is not retried either: a region set asks
//     another region instead.
//   - A cancelled context stops retrying at once: the error returned then
//     satisfies errors.Is for both the context's error and the last failure.
//   - Put rewinds its body with Seek(0, io.SeekStart) before every retry; a
//     body that cannot be rewound ends the retries.
//   - A conditional Put (IfNotExists) whose earlier attempt failed
//     transiently may have taken effect (a lost reply). When a later attempt
//     then reports ErrExist, the wrapper reads the stored object and reports
//     success if it holds exactly the bytes being put. Content-addressed
//     objects and unique lock files are therefore created exactly once; a
//     different object still yields ErrExist.
//   - Get retries only the opening of the body; read errors mid-stream are
//     the caller's to handle.
//   - List retries a listing that failed transiently, skipping names the
//     callback already saw, so no name is reported twice. An error returned
//     by the callback is never retried.
//   - Delete is retried as is: after a lost reply, a retried Delete reports
//     ErrNotExist even though the object was there, so callers that delete
//     should treat ErrNotExist as done.
//   - A storage's versions (Capabilities().Versions) are retried the same
//     way: ListVersions like List (each version reported once), GetVersion
//     like Get, DeleteVersion like Delete.
//   - Capabilities (but for Versions) and Close pass through; Unwrap
//     returns the inner storage.
//     A region set's Capabilities().Regions passes through as is: its
//     per-region operations (the Replicas' readers, Region, Repair,
//     PutOnly, ListUnion) are the set's own and are not retried by this
//     wrapper. Retries belong around each region, inside the set, as the
//     command line builds it.
package retry
