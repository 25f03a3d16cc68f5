// Package storage defines the one interface every Lifeboat backend
// implements: a flat, context-first object store with ranged reads, stat,
// prefix listing, atomic puts of re-readable data and deletes, plus the
// sentinel errors backends translate their failures into.
//
// Backends live in sub-packages (local, s3, mem); cross-cutting concerns
// (retry, read-only, fault injection, metrics) are wrappers with a
// New(inner) constructor. What a storage can do is in its Capabilities,
// a region set's regions included (Capabilities().Regions, a RegionSet):
// wrappers pass them through, adapted where their semantics demand, so
// callers never type-assert a storage for an optional interface that a
// wrapper would hide. A storage that keeps object versions (an S3 bucket
// with versioning) offers them as Capabilities().Versions; package asof
// reads such a storage as it was at a time. Package storagetest holds the conformance suite
// that every backend and wrapper passes. This package is a leaf: it imports
// only the standard library.
package storage
