// Package formatv4 is a frozen copy of the decoders of Lifeboat's
// repository format version 4: the non-test files of engine/format at
// commit 2123d87 (format version 4, before version 5's commit chains),
// with only the package name changed. It is what the releases of that
// version run. Tests decode with it what the current code writes into a
// repository of version 4, to prove those releases can still read it, and
// that they refuse a repository of a later version.
//
// Never edit these files: they stand for released code.
package formatv4
