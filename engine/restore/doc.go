// Package restore writes a snapshot back to a directory.
//
// The snapshot tree is walked in batches of files. For each batch the blobs
// are grouped by pack, each pack is read once (streamed: one ranged read per
// run of needed blobs, through a bounded window, see repo.ReadPackBlobs) by
// one of a bounded number of workers (more from remote storage, where they
// also wait for the network), and every blob is decrypted, decompressed and
// checked against its keyed ID before it is written, with pwrite, into the
// temporary file of every file that contains it. A file gets its real name only after
// all of its blobs were written and verified and its whole-file hash
// matches the snapshot; a file that fails is removed and reported by name,
// never left under its real name.
//
// Temporary files cannot be confused with anything in the target: on Linux
// they are unnamed (O_TMPFILE) and linked under their real name by their
// descriptor once verified; elsewhere, and to replace an existing file
// atomically, they get a random name created with O_EXCL in this run, and
// are renamed or removed only after checking that the name still holds the
// file restore created. An entry restore did not create is never removed to
// make room for a temporary file.
//
// Restore replaces only what the snapshot says: an existing entry of the
// same type is kept or replaced as the Overwrite mode says, one of another
// type (a directory where the snapshot has a file, …) is a conflict,
// reported and left alone (ErrConflict). Options.Delete makes the target
// identical to the snapshot instead: it removes such entries, and the
// entries of restored directories the snapshot does not have, within the
// selection, reporting each.
//
// Extended attributes are set on each file after its content and owner
// (a write or chown would remove a file capability), on a directory after
// its entries were created (a default ACL would apply to them), before the
// times; inode flags are set last of all, once every entry is in place
// with its times. An attribute or flag that cannot be set is reported by
// name (ErrXattrs) and the restore is partial; the entry itself is in
// place. An existing immutable file is a conflict.
//
// Names come from the repository and are untrusted: every file operation
// goes through descriptors of the target's directories (opened one
// component at a time, never through a symlink), so no entry can escape
// the target or write through a symlink, and tree names are validated again
// here.
package restore
