// Package enginetest holds helpers for the engine's tests: repositories on
// in-memory storage with deterministic secrets, and generated source trees
// with every kind of entry a backup must handle. It is imported only by
// tests.
package enginetest
