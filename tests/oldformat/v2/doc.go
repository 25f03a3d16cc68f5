// Package formatv2 is a frozen copy of the decoders of Lifeboat's
// repository format version 2: the non-test files of engine/format at
// commit 8f8e480 (format version 2, before version 3's Node fields), with only the package
// name changed. It is what the releases of that version run. Tests decode
// with it what the current code writes into a repository of version 2, to
// prove those releases can still read it, and that they refuse a repository
// of a later version.
//
// Never edit these files: they stand for released code.
package formatv2
