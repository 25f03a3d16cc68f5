// Package check verifies a repository. The structural check lists every
// pack and compares it with the index (present, right size; a pack no index
// names is a warning: the next backup adopts it), reads every
// snapshot and every tree reachable from one, and confirms that every blob
// a tree references is indexed and that every file's blob list matches its
// whole-file hash. The data check additionally downloads packs (all, or a
// subset) from every selected region of a replicated storage
// (storage.Capabilities().Regions; a plain storage is one region),
// verifies each copy's SHA-256 against its name, and for the pack's true
// bytes authenticates and decrypts them, compares the pack's own trailer
// with the index, and decompresses and re-hashes every blob. It verifies
// Options.Workers packs at once, alongside the structural check, hashing
// each copy as it arrives and decrypting it in runs of blobs into reused
// buffers, so that its memory is bounded by the workers, not by the
// repository (beyond the index it looks blobs up in). Every problem
// names the object, and the region of a bad or missing copy. Packs no index
// names (left by a backup that died before indexing them) are warnings
// naming the fix; with data reading they are verified, and one that fails
// is a problem. Objects deleted with a tombstone (format version 4) that a
// region still holds are warnings naming the region and the fix (a keyed
// lifeboat sync); a tombstone that does not authenticate is a problem.
// In regions with object lock, objects the snapshots need whose
// retention has ended are problems too (engine/retain.Verify: all the
// metadata, a bounded sample of the packs). The repository's history is
// verified against its commit chains (repo.VerifyHistory): a snapshot,
// index object or key that vanished without a deletion record, a chain or
// region gone back to an older state, a replaced config and a forged
// commit record are problems naming the object (and region).
package check
