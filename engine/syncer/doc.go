// Package syncer brings the regions of a region set up to date from one
// another, and reports how far apart they are.
//
// Sync works on object names, sizes and bytes: it needs no repository key.
// It first reads the config object of every region: the regions whose
// config bytes are those held by most regions (ties go to the preferred
// region) hold the repository; a region holding other config bytes holds
// a different repository and is refused (ErrForeignRepository: nothing is
// copied to or from it); a region without a config receives one; a region
// that cannot be read is skipped. Then it copies what is missing, one
// prefix after the other: keys/, then the config (to regions that lack
// it: a config without its keys would be unreadable), data/ (packs),
// index/, snapshots/. A region where a copy (or the listing) fails gets
// nothing of the later prefixes, so no region ever holds an index object
// naming a pack it lacks, nor a snapshot whose index it lacks.
//
// Every object under those prefixes is named by the SHA-256 of its bytes,
// and a copy is written only after the bytes read from a source region
// hashed to the name. A present copy whose size differs from a verified
// copy is bad and is replaced. Without Options.Verify, copies of the same
// size are taken to be good, except for the objects listed in
// Options.Bad; with Verify every copy is downloaded and hashed (catching a
// corrupted copy of the right size). An object none of whose copies
// verifies is lost (Report.Lost). Objects under other names are ignored.
//
// Deletions (format version 4, FORMAT.md §15). Before keys/, sync copies
// the tombstones/ objects, and never copies an object a tombstone buries.
// With Options.Tombstones (the repository key) it honours and copies only
// tombstones that authenticate and deletes the objects they bury from the
// regions that still hold them (regions that were down during a forget or
// key remove); without it, it cannot tell a forged tombstone from a genuine
// one, so it deletes nothing and counts the tombstoned objects left
// (RegionReport.Tombstoned). Those are the only deletions, apart from
// re-seeding: a region not brought up to date for longer than the tombstone
// TTL before the others may hold objects deleted since whose tombstones are
// gone, and is refused (ErrReseed) until re-seeded (Options.Reseed): never
// copied from, stripped of what no healthy region holds, then filled. In
// repositories of older versions (no tombstones), an object deleted while
// a region was unreachable (a removed key) comes back from that region.
//
// Commit records (chain/, FORMAT.md §19) are copied after snapshots/ to
// the regions that lack them, never replaced: without the key the
// well-formed ones, with it (Options.Tombstones implementing
// ChainVerifier) only those that authenticate.
//
// Sync is idempotent and resumable: it compares listings, so a second run
// copies nothing and an interrupted run continues where it stopped. For
// every region that ends complete (no error), it writes the small
// unencrypted JSON object state/sync-<region> ({version, region, time,
// host}) to every region, so that Status on any host shows when each
// region was last brought up to date.
//
// Status summarizes each region from its listing (no key needed); Audit
// compares index objects and pack listings across regions, which needs an
// open repository to decrypt the index objects.
package syncer
