// Package mem is an in-memory storage.Storage for tests.
//
// Guarantees: every method is safe for concurrent use; bytes are copied on
// Put and on Get, so neither the caller's buffer nor a returned body aliases
// the stored object; Put is atomic (the object is swapped in whole after the
// body has been read) and IfNotExists is atomic against concurrent writers
// (Capabilities().ConditionalCreate is true); names are checked with
// storage.CheckName. List reports names in sorted order from a snapshot
// taken when it starts, and calls fn without holding any lock, so fn may use
// the storage. Close is a no-op: the objects survive it, so a test can keep
// using (or "reopen") the same instance.
//
// NewVersioned keeps every version, as an S3 bucket with versioning does
// (Put adds a version, Delete a delete marker, Capabilities().Versions
// lists, reads and removes versions), with an injected clock and an
// optional object-lock stand-in (VersionedOptions.Retained), so tests of
// point-in-time reading and recovery need no server.
package mem
