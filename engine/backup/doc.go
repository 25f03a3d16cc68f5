// Package backup turns directory trees into a snapshot. One goroutine walks
// the file system in sorted order; a pool of workers reads, chunks, hashes
// and saves changed files (the repository compresses, packs and uploads);
// a directory's tree blob is saved as soon as its last child is done, by
// whichever goroutine finished that child, so no goroutine waits per
// directory and memory is bounded by the number of files in flight.
//
// A file whose size, mtime, ctime and inode equal those in the parent
// snapshot is not read again. Files that cannot be read are reported and
// skipped (the snapshot is then marked partial); a failure to write the
// repository aborts the backup, leaving the repository valid.
//
// Before saving anything, a backup adopts the packs a crashed backup stored
// but never indexed (verified, then indexed), so a crash costs no space:
// the blobs of those packs are deduplicated against, not uploaded again.
package backup
