// Package formatv1 is a frozen copy of the decoders of Lifeboat's
// repository format version 1: the non-test files of engine/format at
// commit debf9b0^ (the commit before format version 2, debf9b0), with only the package
// name changed. It is what the releases of that version run. Tests decode
// with it what the current code writes into a repository of version 1, to
// prove those releases can still read it, and that they refuse a repository
// of a later version.
//
// Never edit these files: they stand for released code.
package formatv1
