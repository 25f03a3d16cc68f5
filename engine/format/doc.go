// Package format defines Lifeboat's repository format: object names, the
// repository config, snapshots, trees, index objects and pack trailers, with
// their encoders and strict decoders. It does no I/O and no cryptography; the
// repo package seals and stores what this package encodes. FORMAT.md at the
// repository root is the prose specification of the same bytes.
//
// Every decoder here treats its input as hostile: it bounds sizes, rejects
// trailing garbage and unknown versions, and is fuzzed. A version newer than
// this code reads (a config, a snapshot, a tree field that must be
// understood) fails with ErrNewerVersion rather than ErrFormat; a value a
// tree encoding cannot store unchanged fails to encode with
// ErrNotRepresentable.
package format
