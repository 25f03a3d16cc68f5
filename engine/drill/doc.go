// Package drill runs restore drills: it restores a snapshot into a scratch
// directory, exactly as a real restore would from the regions it is given
// (the caller leaves out the regions the drill pretends are lost), then
// proves the result by re-reading every restored file from disk and
// comparing it with the snapshot: each file is split at the blob boundaries
// the index gives, every piece must hash to its blob ID, and the blob list
// to the file's hash; type, mode, size, mtime, symlink target, extended
// attributes (security.* and trusted.* ones, and owner, as root only) must
// match. Inode flags are not restored in a drill: its scratch tree is
// removed afterwards. It measures the recovery time (RTO) and the age of
// the snapshot (RPO) and judges them against objectives.
//
// A sampled drill restores a seeded subset of the files, chosen so that the
// packs they touch are those least recently read in the region the drill
// reads from; the coverage records every drill (and `check`) leaves in the
// repository make successive sampled drills read every pack.
//
// Every drill leaves evidence: a Report (pass or fail, with a distinct
// Reason for each cause) and an encrypted Record stored in the repository
// (repo.SaveDrillRecord), which also lists the packs read per region.
// Track wraps a storage so that a drill knows which region served each
// pack.
//
// Records are kept by their own rule (ExpiredRecords, pure): those of the
// last DefaultRecordRetention (90 days), and always the newest record of
// each drill and the newest check record. DeleteRecords deletes the others
// with a plain deletion in every region: records are not needed to
// restore and tombstones do not cover drills/, so a region that was down
// may keep an old record, sync may copy it back, and the next deletion
// removes it again (harmless). Losing old coverage only makes the packs
// they covered look least recently read, which is what they are.
package drill
