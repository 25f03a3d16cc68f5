// Package asof is a read-only view of a versioned storage as it was at a
// point in time, read from its object versions (Capabilities().Versions):
// what an attacker deleted (delete markers) or overwrote (new versions)
// after that time is invisible through it.
//
// For each name the view shows the newest version written at or before
// the time, unless that is a delete marker; Get, Stat and List read that
// version. Times are the storage's (the versions' write times), not the
// reader's clock. Resolved versions are remembered, since the past does
// not change. Put and Delete fail with storage.ErrReadOnly. Options.Keep
// narrows the versions the view may use, for simulating an attacker who
// removes every version that is not retained (the ransomware drill).
package asof
