// Package backup turns directory trees into a snapshot. One goroutine walks
// the file system in sorted order; a pool of workers reads, chunks, hashes
// and saves changed files (the repository compresses, packs and uploads);
// a directory's tree blob is saved as soon as its last child is done, by
// whichever goroutine finished that child, so no goroutine waits per
// directory and memory is bounded by the number of files in flight.
//
// A file whose size, mtime, ctime and inode equal those in the parent
// snapshot is not read again.
//
// Every entry's extended attributes are stored with it (user.* ones, and
// the POSIX ACLs, file capabilities and other security.*, trusted.* and
// system.* ones this process may read; Options.NoXattrs leaves them out):
// their names are listed for each entry, and the values of an entry whose
// ctime is unchanged since the parent snapshot are taken from it, so an
// attribute-only change (which changes the ctime) is always seen. Inode
// flags (immutable, append-only, …) of files and directories are read from
// the descriptor the backup opens anyway, and taken from the parent for
// unchanged files. Files that cannot be read are reported and
// skipped (the snapshot is then marked partial); a failure to write the
// repository aborts the backup, leaving the repository valid.
//
// Before saving anything, a backup adopts the packs a crashed backup stored
// but never indexed (verified, then indexed), so a crash costs no space:
// the blobs of those packs are deduplicated against, not uploaded again.
//
// A backup honours prune's GC records (gc.go, FORMAT.md "Backups and GC
// records"): it never reuses data in condemned packs, re-reads the records
// while it runs and immediately before it commits, rescues (copies into
// its own packs) the condemned data it already references while that is
// safe, and otherwise refuses to commit (ErrSwept), so a backup suspended
// across a prune's grace period fails instead of committing a snapshot
// that names deleted packs.
package backup
