// Package lock is the repository lock: a lease kept as small JSON objects
// under locks/<name>/ in the repository's storage, so that jobs that must
// not overlap on one repository (a check and a sync, later a prune and a
// backup) run on one host at a time. AcquireWait waits for a lock another
// host holds, polling on an injected clock; Lock.Context ends the work
// done under a lock that is lost.
//
// # Objects
//
// A lock is a series of numbered generation objects locks/<name>/<n>,
// each holding {holder host/pid/id, acquired, renewed, expires,
// released}, and each created only by a conditional create
// (storage.PutOptions.IfNotExists). The records of one lease (one
// acquisition: same holder and acquired time) are its acquisition, its
// renewals (the holder creates the next generation every lease/3) and its
// release (a record with released set). A lease is held while its newest
// record is neither released nor expired. Anyone may break a lock whose
// lease expired (a crashed holder blocks nobody for longer than the
// lease) by acquiring it. A holder that cannot renew before its lease
// expires, or finds its next generation taken, has lost the lock:
// Lock.Done is closed and Lock.Err wraps ErrLost. Hosts must agree on the
// time to well within the lease.
//
// # Regions
//
// On a region set (a storage whose Capabilities().Regions is set, also
// through wrappers such as retry or readonly), the lock does not use the
// set's reads and writes, which read one region and whose conditional
// creates are arbitrated by one region: it reads and writes every region
// separately and decides by a strict majority of all the configured
// regions (2 of 3, 2 of 2, 3 of 4), whatever the set's write quorum. Any
// other storage is one region (a majority of 1). Every region must do
// atomic conditional creates (storage.Capabilities.ConditionalCreate):
// with a region that only emulates them, two hosts can both create the
// same generation there and the majorities below no longer intersect in
// an exclusive create; the command refuses such configurations, this
// package relies on it. A region that missed lock writes is not brought
// up to date (sync does not copy locks/): every view reads every region,
// so none needs to be complete.
//
// A view is the list of generations of every region, and every record
// found, read from each region that answers; a view needs a majority of
// the regions answering (a region that cannot be listed or read counts as
// not answering), else the operation fails with ErrNoQuorum. In a view,
// the newest generation is the largest in any region (the union), and the
// lock is held when some lease's newest record, in any region, is held
// (when two regions hold different records of one generation, either
// holding counts).
//
// Acquire (and breaking an expired lock, which is the same): read a view;
// if a lease is held, fail with a *LockedError. Else create generation
// top+1 in every region (the first region first: creators who meet there
// stop at once, so among concurrent acquirers one usually gets every
// region). When some region already has it, undo our copies and try
// again from a new view; when fewer than a majority of all the regions
// accepted it, undo and fail with ErrNoQuorum. Then read a second view:
// only if our generation is still the newest and no other lease is held
// in it do we hold the lock; else undo and try again. Renewing and
// releasing create the next generation the same way: a region that
// already has it means the lock was taken (lost); fewer than a majority
// is a failure (a renewal is undone and retried while the lease lasts; a
// release record that reached some regions is left, as it frees only the
// releasing lease). After a success the older generations are deleted
// (best effort: a region that is down keeps them until a later holder
// cleans up).
//
// # Why two hosts never hold the lock at once
//
// Any two majorities of the regions share a region, and in a region a
// generation is created once. Suppose A holds generation a and B then
// takes generation b.
//
//   - b = a: A and B both created it in a majority, so in some region
//     both created it: impossible.
//   - b > a: A's second view did not see b in any region of its majority
//     (or A would have backed off), so in a region r of both A's second
//     view and B's creates, A listed r before B created b there. Every
//     create of A came before that listing, and B's second view comes
//     after every create of B: so B's second view lists every region of
//     A's majority after A created a there, and, as it shares a region
//     with that majority, it sees A's record. A still holds it (or its
//     renewal, or a newer one of A's: A deletes its older records only
//     after creating a newer one in a majority), so B backs off.
//   - b < a: symmetrically A's second view sees B's record and A backs
//     off, so A does not hold.
//
// Undoing can fail (a region goes down between the create and the
// delete, or a write took effect but its answer was lost), which leaves
// stale records. (A create that finds the very bytes it writes already
// there, its own earlier attempt, counts as created.) A stale record of an acquirer or a renewal is held for
// at most a lease from its creation: it may make the lock look taken that
// long, never free. A stale release record only frees its own lease,
// whose holder has stopped. Records of one generation may then differ
// between regions; a view counts every copy, so the one that holds wins.
//
// # Interleavings
//
// A region down while A takes and releases the lock (quorum 2 of 3): A
// creates generations 1 and 2 (released) in the two others, which then
// delete 1. The region comes back empty. B's view (at least two regions,
// one of which has 2) has newest generation 2, released: B creates 3 in
// all three. C's view, even with the returned region not answering, sees
// 3 held by B: C waits. (Reading one region, B read the returned,
// empty one and took generation 1; C, that region failing to list once,
// read another, found generation 2 released and took 3: both held the
// lock.)
//
// An expired lock whose records exist only in regions other than the
// preferred one is seen in the union and broken with the next generation;
// creating a generation the preferred region lacks but others have would
// fail forever.
//
// A region that comes back with an old set of generations (it was down
// while others renewed and cleaned up): its generations are older than
// the newest in the majority, and its records belong to leases whose
// newer records exist elsewhere (they are superseded) or whose leases
// have expired; the next acquirer creates a generation above all of them
// and deletes them.
//
// Two hosts acquiring at once: both read the same newest generation and
// create the next one; the first region lets one of them through, the
// other backs off and, from its next view, sees the lock held. If the
// first region is down they may each get one region and both back off;
// the attempts are bounded (ErrLocked after too much contention).
//
// A holder whose renewals fail (regions down) keeps the lock until its
// lease ends, then loses it; nobody can break it before that, as every
// view still holds its last record.
//
// The package imports only storage.
package lock
