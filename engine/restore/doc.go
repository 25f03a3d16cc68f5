// Package restore writes a snapshot back to a directory.
//
// The snapshot tree is walked in batches of files. For each batch the blobs
// are grouped by pack, each pack is read once (one ranged read covering the
// needed blobs), and every blob is decrypted, decompressed and checked
// against its keyed ID before it is written, with pwrite, into the temporary
// file of every file that contains it. A file is renamed to its real name
// only after all of its blobs were written and verified and its whole-file
// hash matches the snapshot; a file that fails is removed and reported by
// name, never left under its real name.
//
// Names come from the repository and are untrusted: every file operation
// goes through an os.Root for the target, so no entry can escape the target
// or write through a symlink, and tree names are validated again here.
package restore
