// Package storage defines the one interface every Lifeboat backend
// implements: a flat, context-first object store with ranged reads, stat,
// prefix listing, atomic puts of re-readable data and deletes, plus the
// sentinel errors backends translate their failures into.
//
// Backends live in sub-packages (local, s3, mem); cross-cutting concerns
// (retry, read-only, fault injection, metrics) are wrappers with a
// New(inner) constructor. Package storagetest holds the conformance suite
// that every backend and wrapper passes. This package is a leaf: it imports
// only the standard library.
package storage
