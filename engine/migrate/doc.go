// Package migrate raises a repository's format version (`lifeboat
// migrate`): it rewrites the config object, in every region, with the new
// version, after which writers store what that version allows (format
// version 3: binary trees with extension areas, holding extended attributes
// and inode flags; version 4: tombstones before deletions; version 5: a
// commit record in the writer's chain after every commit). It rewrites nothing else: readers read every earlier
// encoding, so old trees and snapshots stay as they are. Releases that read
// only older versions refuse the repository afterwards, naming the version.
//
// The config is replaced region by region, each replacement atomic. An
// interrupted migrate leaves some regions at the new version and some at
// the old; the repository keeps working at the old version (readers take
// the lowest version among the regions' configs), and running migrate
// again finishes it, copying the new config's exact bytes to the regions
// that lack them, so that every region ends with identical config bytes.
package migrate
