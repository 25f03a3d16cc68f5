// Package lock is the repository lock: a lease kept as small JSON objects
// under locks/<name>/ in the repository's storage (every region, when the
// storage is a region set), so that jobs that must not overlap on one
// repository (a check and a sync, later a prune and a backup) run on one
// host at a time.
//
// A lock is taken with a conditional create (storage.PutOptions.IfNotExists)
// of its next generation object, holding {holder host/pid/id, acquired,
// renewed, expires}. The holder renews the lease in the background every
// lease/3 by creating the following generation; anyone may break a lock
// whose lease has expired (a crashed holder blocks nobody for longer than
// the lease) by creating the next generation in the same way, so among
// concurrent acquirers or breakers exactly one wins. A holder that cannot
// renew before its lease expires, or finds its next generation taken,
// has lost the lock: Lock.Done is closed and Lock.Err wraps ErrLost.
// Hosts must agree on the time to well within the lease.
//
// The package imports only storage.
package lock
