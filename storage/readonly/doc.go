// Package readonly wraps a storage.Storage so that it cannot be changed.
//
// Guarantees: Put and Delete never reach the inner storage; they fail with an
// error wrapping storage.ErrReadOnly (whatever the name or context). Get,
// Stat and List pass through unchanged. Capabilities are the inner
// storage's with ReadOnly set; for a region set (Capabilities().Regions)
// they hold a read-only view of it: Names, Replicas (whose readers only
// read), ReportBad (the set's health bookkeeping, not a change of any
// object), Lagging, WriteQuorum and ListUnion pass through, Region returns
// the region's storage wrapped read-only, and Repair and PutOnly fail with
// storage.ErrReadOnly without reaching the set. A storage's versions
// (Capabilities().Versions) can be listed and read through it, while
// DeleteVersion fails with storage.ErrReadOnly. Close closes the inner
// storage; Unwrap returns it.
package readonly
