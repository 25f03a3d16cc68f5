// Package regions presents several independent storages ("regions", each
// possibly a different provider) as one storage.Storage that keeps a copy of
// every object in each region and implements storage.RegionSet, which its
// Capabilities().Regions returns (so that wrappers around the set keep it).
//
// Writes. Put writes to every region concurrently (bodies up to 64 MiB are
// read into memory once and every region gets its own reader; bigger bodies
// go to the regions one after the other, rewinding the caller's reader). It
// waits for every region and succeeds when at least Options.WriteQuorum
// regions succeeded; the regions that failed are recorded and reported by
// Set.Behind until a later write of the same name to that region succeeds
// (Put or Repair). With fewer successes the error wraps ErrQuorum and, for
// every failed region, "region NAME: <its error>", so errors.Is sees the
// regions' sentinels (storage.ErrNoSpace, storage.ErrReadOnly, ...). A
// region whose breaker opened because it stopped answering is not written
// until its cooldown has passed (then one write is its trial; until then
// its writes fail with ErrUnavailable and it is behind): waiting for its
// timeouts on every object would stall a backup. A region whose last
// failure was bad content (ReportBad) answers, and is written: rewriting
// its bad copies (Repair) is what heals it.
//
// Conditional creates (PutOptions.IfNotExists) are all or nothing. The
// first region in static order (Priority, then configuration order) is the
// arbiter: it is asked first, and an ErrExist from it ends the Put with
// ErrExist without touching the other regions, so concurrent creators are
// serialised by the arbiter. Then the other regions are asked, also with
// IfNotExists. If any region reports ErrExist the result is ErrExist, or if
// fewer than WriteQuorum regions succeeded the result wraps ErrQuorum; in
// both cases the copies this Put created are deleted again (best effort:
// they are ours, as the creates were exclusive) and count for nothing. If
// the arbiter is unreachable the remaining regions decide, and two
// concurrent creators may then both fail with ErrExist; they never both
// succeed while the arbiter answers, nor when WriteQuorum is more than half
// the regions. Capabilities report ConditionalCreate only when every region
// has it.
//
// Append-only sets (Options.AppendOnly, or a region reporting
// Capabilities.AppendOnly) issue no deletes: Delete fails with
// storage.ErrAppendOnly without asking any region, and a failed
// conditional create leaves the copies it made (the regions that missed
// them are then behind). Its error is the same ErrExist or ErrQuorum.
// Such copies are whole objects with the bytes the caller wrote; for the
// hash-named objects a backup creates conditionally (snapshots) they are
// valid objects that sync replicates, not garbage (see FORMAT.md,
// "Append-only hosts").
//
// Commits. Set.Lagging names the regions still missing an object written
// through the set (Behind is not empty for them); Set.PutOnly writes an
// object to a subset of the regions with the write quorum enforced over
// that subset and records the regions left out as behind. A repository
// writes its commit objects (snapshots) with PutOnly to the regions not
// lagging, so that no region ever holds a snapshot whose objects it lacks.
//
// Reads. Get, Stat and List try the regions in preference order: regions
// with a closed breaker first, then hung regions (below), then open
// breakers; among equals by Priority (lower is preferred), then by lower
// latency (an exponentially weighted moving average of request times),
// then configuration order. A region that fails, or reports
// storage.ErrNotExist (it may simply be behind), is skipped and the next
// one is tried; ErrNotExist is returned only when every region reports it,
// and when no region could answer the error wraps ErrUnavailable and every
// region's failure. storage.ErrInvalidRange is an answer and is returned at
// once. Get fails over only while opening the object: an error while
// reading the body is the caller's, who can re-read the range through
// Replicas. List fails over only while no object has been reported yet
// (a region failing mid-listing ends the List with its error), and lists
// one region only, so a region that is behind gives an incomplete listing;
// ListUnion merges the listings of all regions.
//
// Hung regions. Every region has a read deadline: HedgeFactor times its
// latency EWMA, within [Options.HedgeFloor, Options.HedgeCap] (2 s and
// 10 s by default). A read the region has not answered within it marks the
// region hung at once (EventHung; it counts as one failure towards the
// breaker, and a request still in flight is such a signal): the region
// moves behind every region that answers until it answers again, or until
// a trial read after BreakerCooldown (as for an open breaker), and every
// other read waiting on it is treated as past its deadline at once. Get and
// Stat hedge: when the region asked has not answered by its deadline, the
// next region is asked too; the first good answer wins and the other
// requests are cancelled. List abandons a region that reported nothing by
// its deadline for the next one, while another region can serve; ListUnion
// skips a region that makes no progress for its deadline (time in the
// callback aside) while a region that listed completely, or one still to
// list, can serve. The
// readers of Replicas cannot ask another region; a Get or Stat past its
// deadline, or a Get body that makes no progress for it, is cancelled and
// fails with ErrHung (marked storage.ErrTransient) when a later replica of
// the same Replicas call can serve, and a hung region is then not asked at
// all: the caller goes on to the next replica. The last replica able to
// serve is always waited for. Retrying a hang on the same region is the
// retry wrapper's business: a region of a set has it configured not to
// retry timeouts (retry.Options.NoRetryTimeouts). Writes have no deadline
// here (the backend's own timeouts apply): a Put waits for every region.
//
// Delete removes the object from every region; ErrNotExist from some
// regions is fine, from all of them it is the result; any other failure in
// any region is an error (naming each failed region).
//
// Health. Every request outcome is recorded per region: an answer
// (success, or one of storage.ErrNotExist, ErrExist, ErrInvalidRange,
// ErrInvalidName, ErrReadOnly) resets the region's consecutive failure
// count and closes its breaker; any other error counts as a failure, except
// when the caller's context has ended (the caller's cancellation says
// nothing about the region). After Options.BreakerThreshold consecutive
// failures (ReportBad and a hang count as one each) the breaker opens: the region moves to
// the end of the read order and of Replicas. Once Options.BreakerCooldown
// has passed, the next read tries that region first (half-open, one trial
// per cooldown); success closes the breaker, failure restarts the cooldown.
// All times come from Options.Now, and timers from Options.AfterFunc.
//
// Regions that could not be opened. A caller that fails to open a region
// puts Down(err) in its place: the region then fails every request with
// err, Set.Down names it, and Set.CheckWriteQuorum fails (before anything is
// written) when fewer regions opened than the write quorum needs.
//
// Every method is safe for concurrent use; Options.OnEvent is called
// synchronously from the goroutine that observed the event, possibly from
// several goroutines at once, and never with a lock held.
package regions
