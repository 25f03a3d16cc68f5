// Package formatv3 is a frozen copy of the decoders of Lifeboat's
// repository format version 3: the non-test files of engine/format at
// commit 38f0331 (format version 3, before version 4's tombstones), with
// only the package name changed. It is what the releases of that version
// run. Tests decode with it what the current code writes into a repository
// of version 3, to prove those releases can still read it, and that they
// refuse a repository of a later version.
//
// Never edit these files: they stand for released code.
package formatv3
