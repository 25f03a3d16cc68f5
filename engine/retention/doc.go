// Package retention decides which snapshots a retention policy keeps and
// why. It is pure: no storage, no clock, no I/O. Apply takes the
// snapshots, a Policy, now (the storage server's time, passed in) and the
// policy time zone, and returns every snapshot's fate with every reason it
// is kept. Deleting, locking and tombstones belong to the callers.
//
// This is the definition in the lifecycle design note (§1,
// "Recommendation"), made precise. Decisions the note left open are marked
// "Decision".
//
// # Groups and order
//
// Snapshots are grouped by host and paths unless Policy.GroupBy says
// otherwise (any subset of host, paths, tags, like restic's --group-by;
// GroupNone puts everything in one group). Paths and tags are compared as
// sets: sorted, duplicates dropped (Decision: ["/a","/a"] is ["/a"]). The
// policy runs on each group on its own. Within a group snapshots are
// ordered by time, newest first, ties by ID ascending (byte order, which is
// hex order). Groups are returned in key order (host, then paths, then
// tags, element by element). Duplicate IDs are an error.
//
// # Zone
//
// Every calendar computation (buckets, calendar units of durations) uses
// the policy zone, an explicit *time.Location; nil means UTC and time.Local
// is refused, so the result is the same on every machine. The UTC offset
// recorded in a snapshot's time is ignored.
//
// # The sets
//
//   - future: time > now + FutureSlack (5 min). Kept ("future"); never
//     counted by a rule and never ref. Decision: restic counts them, which
//     lets a snapshot with a clock far ahead push real ones out of last and
//     bucket rules.
//   - candidates: complete (not partial) and not future. Every rule is
//     evaluated over the candidates only.
//   - ref: the time of the newest candidate, which is always kept ("last
//     complete"). A group therefore never loses all its complete snapshots.
//   - partial snapshots with time strictly after ref, or all of them if the
//     group has no candidate, are kept ("partial newer than newest
//     complete"); every other partial snapshot is removed, even if a tag
//     rule names it. Partial snapshots are never counted.
//
// # Rules
//
// Each rule is evaluated on its own over the ordered candidates; a snapshot
// is kept if any rule (or the safety set above) keeps it. Rule order and
// repeated rules do not change the outcome. An empty policy is refused.
//
//   - last N: the first N candidates.
//   - hourly|daily|weekly|monthly|yearly N: the bucket of a snapshot is its
//     hour, day, ISO-8601 week (week-year and week, Monday to Sunday, so
//     2020-12-31 and 2021-01-03 are both 2020-W53), month or year in the
//     zone. The rule keeps the newest snapshot of each bucket that has one,
//     buckets taken newest first, until N are kept. If fewer than N were
//     kept (always, for N = all), the oldest candidate is kept too
//     ("oldest"), unless the rule kept it already.
//     Decision, hourly: the bucket is the wall-clock hour together with the
//     UTC offset, so the hour repeated when clocks fall back is two buckets
//     (each a real hour) and hourly N keeps N real hours. Days are local
//     days: 23 or 25 hours long across DST. A bucket that recurs after
//     another one (a clock falling back across midnight) is still one
//     bucket, kept once.
//   - within D: every candidate with time > ref − D, and the newest
//     candidate with time ≤ ref − D, the "anchor", so that every instant of
//     the window can be restored. Measured from ref, not now: when backups
//     stop, the window stops too.
//   - within-hourly|daily|weekly|monthly|yearly D: the bucket rule with
//     N = all, limited to snapshots with time > ref − D: the newest snapshot
//     of each bucket after the cutoff, and the oldest candidate if it is
//     after the cutoff. No anchor. (This is restic's within-bucket rule.)
//   - tag L: every candidate whose tags include every tag of L. Several tag
//     rules are ORed; tags are not counted.
//
// # Durations
//
// A Duration is a sequence of <number><unit> terms, each unit at most
// once: y (calendar years), m (calendar MONTHS, not minutes), w (weeks of 7
// calendar days), d (calendar days), h (elapsed hours), e.g. "1y2m3d4h".
// ref − D is ref converted to the zone, minus the calendar part in one
// time.Time.AddDate call, minus the hours as elapsed time. AddDate
// normalises dates that do not exist (Decision, as restic, and it is what
// the note prescribes): 2024-02-29 − 1y is 2023-03-01 and 2024-03-31 − 1m
// is "2024-02-31", that is 2024-03-02. "1d" across a DST change is 23 or 25
// hours; "24h" is always 24.
//
// # Output
//
// Result lists every input snapshot exactly once with its Fate and, when
// kept, its Reasons in a fixed order (future, last complete, partial, then
// rules in kind order: last, hourly … yearly, within, within-hourly …
// within-yearly, tag). Rule reasons carry the rule's text and, for counted
// rules, a 1-based counter: "daily 3/7" (third of seven), "daily 3/all",
// "within-daily 7d #3"; the others read "within 30d",
// "anchor (within 30d)", "oldest (daily 7)", "tag a,b". The JSON form is
// meant to be printed as is by forget --json.
//
// # Cost
//
// One sort of all snapshots (by group, time, ID), then one linear pass per
// rule per group: O(n log n + n·rules). See BenchmarkApply100k.
//
// # Differences from restic
//
// restic buckets each snapshot in the offset it recorded (Lifeboat: the
// policy zone), merges the repeated fall-back hour, counts future
// snapshots, has no partial set, keeps no anchor, and its ApplyPolicy may
// remove the newest snapshot (its forget command protects it). Ties are
// broken by input order in restic, by ID here. testdata/README.md lists how
// restic's own policy test vectors compare.
package retention
