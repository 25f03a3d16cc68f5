// Package storagetest is the conformance suite for storage.Storage: every
// backend (local, s3, mem) and every wrapper (retry, fault) runs Run against
// fresh instances and must pass it unchanged.
//
// The suite checks the contract documented in package storage: put/get round
// trips of empty, tiny and multi-MiB objects; ranged reads including the
// short-read and ErrInvalidRange edges; ErrNotExist for missing objects;
// atomic overwrite (readers never see a mix of old and new bytes);
// IfNotExists (ErrExist, object unchanged, exactly one winner among
// concurrent creators when Capabilities().ConditionalCreate is set); Put with
// a reader that may be rewound; ErrInvalidName for every name storage.Valid
// rejects; exact prefix semantics of List over a few thousand objects and
// early stop on a callback error; Stat; concurrent use from many goroutines;
// and context.Canceled from every method given a cancelled context.
//
// Subtests run sequentially; each calls newStorage for a fresh, empty
// storage and closes it when the subtest ends (so a newStorage that also
// registers a Close needs an idempotent Close). RunWithOptions lowers the
// number of objects the List subtest stores, for slow backends.
package storagetest
