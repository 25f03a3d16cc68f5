// Package pitr is point-in-time recovery of a region whose storage keeps
// object versions (an S3 bucket with versioning or object lock): it makes
// the region's current state what it was at a time again, after an
// attacker (or a mistake) deleted objects (delete markers) or overwrote
// them (new versions).
//
// Plan reads every version of the region and finds, per name, the version
// that was current at the time (none when the name did not exist or was
// deleted then) and the versions and delete markers written after it.
// Apply removes those later versions, newest first. Where one cannot be
// removed (retained by object lock, or the credentials may not delete
// versions), it writes the version of the time again as the current one
// (or, for a name that did not exist then, deletes it, which leaves a
// delete marker). A name whose current content already equals that of the
// time is left alone, so Apply is idempotent: a second run changes
// nothing. Names under locks/ and probe/ are never touched (an old lock
// would look held).
//
// Names are recovered content first (data/, index/, keys/, config), then
// snapshots/ and the rest, and only then are names that did not exist at
// the time removed, snapshots/ first and data/ last, so that an
// interrupted recovery never leaves a snapshot whose data was removed
// before it.
package pitr
