// Package check verifies a repository. The structural check lists every
// pack and compares it with the index (present, right size; a pack no index
// names is a warning: the next backup adopts it), reads every
// snapshot and every tree reachable from one, and confirms that every blob
// a tree references is indexed and that every file's blob list matches its
// whole-file hash. The data check additionally downloads packs (all, or a
// subset), verifies their SHA-256 against their name, authenticates and
// decrypts them, compares each pack's own trailer with the index, and
// decompresses and re-hashes every blob, and verifies every pack no index
// names (one that fails is a problem). Every problem names the object.
package check
