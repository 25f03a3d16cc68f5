// Package repo implements a Lifeboat repository on top of a storage.Storage:
// opening it with an age identity, the config and key objects, the in-memory
// blob index and the index objects that persist it, packing blobs into sealed
// pack files, reading and verifying blobs, trees and snapshots, a local
// cache of metadata objects, the commit chains that record what was
// committed, so that what disappears or goes back is detected, and two
// sealed local files that keep a backup's cost from growing with the
// history: the headers of the snapshots seen (snapcache.go; finding a
// backup's parent reads only the snapshots not seen before and the one it
// returns) and, with Options.CacheIndex, the small index objects read
// (indexcache.go; one per backup until a prune consolidates them).
//
// Invariants:
//   - every object is named by the SHA-256 of its stored bytes (except the
//     config), and every blob by the keyed hash of its plaintext; both are
//     checked on every read;
//   - a pack is durable before any index object names it, and every index
//     object a snapshot depends on is durable before the snapshot is written;
//   - a pack no index names (left by a crash) is indexed only after it was
//     downloaded and verified whole, and is never deleted;
//   - on append-only storage (storage.Capabilities.AppendOnly) a writer
//     issues no deletes: its one-pack index objects stay, unconsolidated,
//     and RemoveKey refuses;
//   - the repository never holds file data in memory beyond a few packs;
//   - the in-memory index (blobtable.go) takes about 54 bytes a blob and
//     never holds two copies of itself, not even while it is loaded: its
//     sorted base grows by pages and takes new blobs by merging in place;
//   - a local cache never decides what exists: listings (and tombstones)
//     do; the snapshot header and index caches only stand in for reading
//     a listed, unburied object, and FindSnapshot reads and verifies the
//     snapshot it returns from the storage;
//   - writers never store an object the repository's format version does
//     not allow (trees in its encoding, snapshots of its version); the
//     version is the lowest among the regions' configs while a migrate is
//     unfinished, and a config of a version this code does not read makes
//     Open fail with format.ErrNewerVersion, not an integrity error;
//   - deletions (Forget, RemoveKey) in a repository of format version 4 or
//     later first store an authenticated tombstone of each object in every
//     region (the write quorum at least), then delete; listings and Open
//     ignore every object an authenticated tombstone buries, wherever it is
//     still stored, and ignore tombstones that do not authenticate;
//     LoadIndex never loads a buried index object (prune swept it where a
//     region still holds it), and FindOrphans never adopts a buried pack
//     or one the newest, unfinished GC record condemns;
//   - for prune (engine/prune) it reads index objects pack by pack
//     (ReadIndexObjectFunc), copies live blobs' stored bytes, verified,
//     into new packs (CopyBlobs), drops the tree-pack cache after a walk
//     (DropTreeCache),
//     writes consolidated index objects, GC records (conditional create of
//     gc/<generation>) and tombstones without deleting (PutTombstones),
//     tells the storage's time by a probe write (StorageTime) and evicts
//     deleted objects from the local cache (Evict).
//   - in a repository of format version 5 or later every commit (a
//     snapshot, a key, a config before migrate replaces it, prune's index
//     objects) is recorded after it is durable in the writer's commit chain
//     (chain.go: chain/<writer>/<seq>, conditional create, HMAC keyed by the
//     repository secret, each record naming the hash of the one before);
//     VerifyHistory (history.go) reports every recorded object that no
//     region holds and no authenticated tombstone buries, chains and
//     regions gone back from what this host saw (Options.StateDir, which
//     only grows) or what another writer witnessed, and configs no record
//     names; AcceptHistory (accept.go) accepts the present state;
//   - GC records (gc.go) are written once per generation (a conditional
//     create) and read from every region; a session that condemned packs
//     (CondemnPacks) never deduplicates against a blob whose only indexed
//     copy is in one of them.
package repo
