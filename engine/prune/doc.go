// Package prune removes what no remaining snapshot needs, safely while
// backups from other hosts keep running (they take no lock), in two runs
// separated by a grace period: a mark decides and deletes nothing, a
// sweep deletes what the mark decided. It follows the protocol of the
// lifecycle design note (§2) and FORMAT.md §18; its decisions:
//
// Every run (Run; the caller holds the repository lock, which keeps
// other prunes, checks and syncs out):
//   - lists snapshots/, index/, data/, gc/ and tombstones/ in every region
//     itself, region by region (not through ListUnion, which tolerates a
//     failing region): any error, even in the middle of a listing, aborts
//     before anything is written (restic #4612);
//   - takes "now" from the storage: a probe object (state/prune-clock-<host>)
//     is written to every region and the newest modification time they
//     report is the run's time; a local clock more than MaxSkew (5 min)
//     away from it refuses the run (kopia #1949: margins measured by a
//     process that may have been suspended);
//   - reads every GC record; the newest decides: marked and within its
//     grace → wait (ActionWait, nothing written); marked and past it →
//     sweep; sweeping → continue the pending regions; swept or none →
//     mark. One decision is outstanding at a time: no new mark until the
//     last one is swept, so the newest generation is the whole state.
//
// Mark:
//   - live snapshots are the union over regions minus those an
//     authenticated tombstone buries (a snapshot only a lagging region
//     holds counts); every tree is walked (two loaded at once); a tree
//     that cannot be read, or a data blob no index names, aborts (restic
//     "blobs seem to be missing");
//   - packs are classified on the union of all index objects read, every
//     (blob, offset) entry of a pack once, so a blob stored twice in a pack
//     is two used entries (rustic #392); a pack holding any used blob is
//     used, even when another pack holds a copy (conservative);
//   - memory: besides the repository's index, a mark holds the used set
//     (trees exactly; data blobs by the first 64 bits of their ID, 8 bytes
//     a slot: a false match only keeps garbage, see usedSet) and counters
//     per pack. Index objects are read one at a time, pack by pack (tally):
//     once to count, again only for the packs listed more than once (their
//     entries are unioned, the rare leftovers of a crashed run), and once
//     more to write the consolidated index; entries are kept only for the
//     packs to repack (their live ones) and those listed more than once;
//   - never condemned: a pack younger than MinPackAge (default 24 h) by the
//     newest storage time any region reports for it, a pack no index names
//     (adoption's business, rustic docs #144), a pack an index object the
//     run does not supersede names;
//   - wholly unused packs are condemned; a partly used pack whose unused
//     share exceeds MaxUnused (5 %) is repacked, most unused first, within
//     MaxRepackBytes: its live blobs are copied into new packs (each pack
//     durable before its own index object, as backups write them), then it
//     is condemned too (three packs at once; each blob's stored bytes
//     are copied as they are once its plaintext verified against its ID,
//     at most 1.8 MiB of a pack read at once);
//   - an index object is superseded only if every pack it names that is
//     not condemned is stored in every region: the consolidated index goes
//     to every region, and must not name a pack a region lacks (such packs
//     keep their own index objects until sync completes the region; the
//     condemned packs those objects name are kept for this run, repeated
//     to a fixpoint);
//   - consolidated index objects (at most 20000 packs and 100000 entries
//     each; a pack with more goes alone) list every pack the superseded
//     objects name except the condemned ones, each once, so they supersede
//     exactly the objects read; index objects written after the listing
//     are left alone;
//   - last, the GC record generation n+1, state marked, Marked = storage
//     time, with the live snapshots, condemned packs, superseded and new
//     index objects, is created with a conditional create (a taken
//     generation is ErrRaced). A crash before it leaves only extra,
//     harmless objects (new packs and index objects duplicating entries).
//
// Sweep (now ≥ Marked + grace):
//   - re-walks the snapshots not in the record (a backup that reused
//     condemned data) and rescues every condemned pack holding a blob
//     they need that no kept pack holds, writing an index object for
//     the rescued packs first; it also rescues every condemned pack an
//     index object outside Superseded names (left by a crashed sweep, or
//     any writer): deleting it would leave an index naming a missing pack.
//     Without a new snapshot (the usual case) it reads only the index
//     objects outside the record and loads no index; otherwise it walks
//     the new snapshots and keeps the exact IDs only of the needed blobs a
//     condemned pack holds;
//   - writes generation n+2, sweeping, with Rescued, the rescue index in
//     NewIndex, and Pending = every configured region;
//   - writes tombstones (reason gc) to every region through the set:
//     index objects' first, then packs' (a keyed sync deletes what
//     tombstones bury, in any order; a pack is never buried while an index
//     object naming it is not; the packs, unindexed meanwhile, are never
//     adopted: repo.FindOrphans skips packs of an unfinished record);
//   - per pending region: makes sure it holds an authentic tombstone of
//     every object (read back; written when missing or not authentic) and
//     the new index objects (copied from another region, verified by hash,
//     when the region missed them), deletes the superseded index objects,
//     and only when they are all gone the packs, each step eight requests
//     at once and over before the next starts; a missing object counts as
//     deleted; any failure (region down, deletion refused by object lock
//     or permission) leaves the region pending without failing the others;
//   - writes the next generation: swept when no region is pending, else
//     sweeping with the regions left (no new generation when nothing
//     changed); a region pending but no longer configured is dropped with a
//     warning;
//   - evicts every deleted object from the local cache.
//
// A continued sweep does not rescue: the objects are already tombstoned
// (a tombstone is never withdrawn), and a backup honouring the records
// (FORMAT.md §18) neither reuses condemned packs nor commits after a
// sweep began that it did not see at its start.
//
// Crash safety: every step is "new durable, then old removed" and
// idempotent; a prune killed after any storage mutation leaves every
// region restorable on its own, and the next runs finish the job
// (TestCrashAtEveryStep kills it at every mutation of a mark and of a
// sweep). A dry run computes and reports; it writes only the clock probe.
package prune
