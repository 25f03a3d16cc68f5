// Package storagetest is the conformance suite for storage.Storage: every
// backend (local, s3, mem) and every wrapper (retry, fault) runs Run against
// fresh instances and must pass it unchanged.
//
// The suite checks the contract documented in package storage: put/get round
// trips of empty, tiny and multi-MiB objects; ranged reads including the
// short-read and ErrInvalidRange edges; ErrNotExist for missing objects;
// atomic overwrite (readers never see a mix of old and new bytes);
// IfNotExists (ErrExist, object unchanged, exactly one winner among
// concurrent creators when Capabilities().ConditionalCreate is set); Put with
// a reader that may be rewound; ErrInvalidName for every name storage.Valid
// rejects; exact prefix semantics of List over a few thousand objects and
// early stop on a callback error; Stat; concurrent use from many goroutines;
// and context.Canceled from every method given a cancelled context.
//
// Subtests run sequentially; each calls newStorage for a fresh, empty
// storage and closes it when the subtest ends (so a newStorage that also
// registers a Close needs an idempotent Close). RunWithOptions lowers the
// number of objects the List subtest stores, for slow backends.
//
// RunLagging is the lagging-region variant, for replicated storages (a
// region set of three regions, write quorum two): each region is wrapped
// in a Region the suite takes down and brings back, so that it misses
// writes and then lags. It checks what a set guarantees then for objects
// written once: they read back whole whatever region is preferred; a
// conditional create of a name the lagging region misses fails with
// ErrExist and leaves no copy of its own anywhere; concurrent conditional
// creates have exactly one winner; a conditional create that failed for
// want of regions leaves nothing behind. It does not check List, which a
// set may serve from the lagging region alone.
//
// RunRegions is for wrappers (readonly, retry, fault, ...): around a small
// region set it checks that the wrapper keeps Capabilities().Regions and
// that it reaches the set's regions (replicas, each region's storage, the
// union listing, repair, the commit writes and lagging, bad-content
// reports), or for a read-only wrapper a read-only view of them.
package storagetest
