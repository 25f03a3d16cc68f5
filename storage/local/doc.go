// Package local is the embedded default storage backend: objects are files
// in a directory tree on a local filesystem. Object name "a/b/c" is the file
// ROOT/a/b/c.
//
// Guarantees:
//   - Confinement: every name is checked with storage.CheckName and all file
//     access goes through an os.Root, so no operation reaches outside ROOT;
//     symbolic links are followed only when they stay inside ROOT, and List
//     never reports them.
//   - Atomic, durable Put: the body is written to a temporary file in the
//     destination directory (named ".lb~tmp-<random>", which is not a valid
//     object name), fsynced, then renamed over the target; with
//     PutOptions.IfNotExists it is hard-linked to the target instead
//     (link(2) fails if the target exists, so creation is atomic and
//     exclusive), falling back on Linux to renameat2(RENAME_NOREPLACE) on
//     filesystems without hard links (exFAT, vfat). The directory is fsynced
//     afterwards, and so is the parent of every directory Put creates.
//     Readers see the whole old object, the whole new one, or none.
//   - A crashed Put leaves at most a temporary file, which Get, Stat and
//     List never see and which does not disturb later Puts. Nothing removes
//     such leftovers automatically.
//   - List walks only the subtree under the prefix's last complete
//     directory, and reports only regular files whose relative path is a
//     valid name.
//   - Delete unlinks the file (and fsyncs its directory); empty directories
//     stay behind.
//   - Errors are wrapped with the operation and name; the os error stays
//     reachable with errors.Is/As next to the storage sentinel: ENOENT and
//     ENOTDIR are storage.ErrNotExist, EEXIST is storage.ErrExist,
//     ENOSPC/EDQUOT are storage.ErrNoSpace, EACCES/EPERM/EROFS are
//     storage.ErrPermission, ENAMETOOLONG is storage.ErrInvalidName. No
//     local error is transient.
//
// Limits: a filesystem cannot hold both an object "a" and an object "a/b";
// such a Put fails (with an error that is none of the sentinels, except
// IfNotExists over a directory, which reports storage.ErrExist because the
// name is taken). Each path segment must fit the filesystem's name limit
// (usually 255 bytes). Files are created with mode 0600, directories 0700.
package local
