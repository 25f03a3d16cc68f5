// Package retain keeps the object lock retention of what a repository
// needs, and only that, in every region with object lock (FORMAT.md,
// "Object lock").
//
// Every lockable object is written locked until its write time plus the
// region's lock period. Extend pushes the retention of the objects
// reachable from the kept snapshots (every snapshot present and not
// tombstoned by forget; Options.Keep narrows it, the hook for a retention
// policy) to now plus the period: the config, every key in use, the
// snapshots, the packs holding their trees and file data, and the index
// objects naming those packs. Everything else (packs of forgotten
// snapshots or of snapshots deleted by hand, superseded index objects,
// drill records, tombstones, GC records, removed keys) is left alone, so
// its lock lapses one period after its write or last extension: the
// storage a lock pins beyond what is kept is bounded by one period of
// garbage, not by the lock history (kopia #4894).
//
// Extend must run more often than the period (from cron, or the later
// prune job): a kept object is protected until the last extension plus
// the period. After each region's complete extension it records, in the
// region's mutable state/ prefix (never locked), the time, the
// retain-until date and the snapshots covered (State). Unprotected reads
// that record cheaply, without the key: a snapshot is known protected
// while it was covered by the last extension and that extension's
// retain-until has not passed; a snapshot written since is not known to
// be (its own new objects are locked at write, but the packs it reuses
// may have lapsed) until the next extension. Verify reads the actual
// retention (StatObject headers) of the reachable objects, all the
// metadata and a bounded sample of the packs, for check. RetryAt tells
// a deleter (the later prune) when to retry an object whose deletion was
// refused because it is retained (storage.ErrRetained).
package retain
