// Package fsmeta reads and writes the file metadata that stat does not
// show: extended attributes (POSIX ACLs and file capabilities included, as
// their system.* and security.* attributes) and inode flags
// (FS_IOC_GETFLAGS: chattr's immutable, append-only, no-dump, …).
//
// Every call works on an entry itself, never on what a symlink points to.
// A file system without extended attributes or inode flags reports none
// when read; writing there fails with an error that IsUnsupported
// recognises. On systems other than Linux every read reports none and
// every write fails with ErrNotSupported.
package fsmeta
