// Package treecmp compares two directory trees on disk: which entries exist
// in only one, and for entries in both, their type, permission bits, size,
// content, modification time and symlink target. Restore tests, the
// quickstart and restore drills use it to prove a restore is identical.
package treecmp
