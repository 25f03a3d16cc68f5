// Package fsmetatest helps tests of extended attributes and inode flags:
// it mounts scratch file systems (tmpfs, which has user, security and
// trusted attributes, POSIX ACLs and inode flags; ramfs, which has no
// extended attributes at all) and builds valid attribute values (a file
// capability, a POSIX ACL). Mounting needs root; a mount that fails fails
// the test.
package fsmetatest
