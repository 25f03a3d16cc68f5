// Package readonly wraps a storage.Storage so that it cannot be changed.
//
// Guarantees: Put and Delete never reach the inner storage; they fail with an
// error wrapping storage.ErrReadOnly (whatever the name or context). Get,
// Stat and List pass through unchanged. Capabilities are the inner
// storage's with ReadOnly set. Close closes the inner storage; Unwrap
// returns it.
package readonly
