package main

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/engine/format"
	"lifeboat/engine/prune"
	"lifeboat/engine/repo"
)

func (a *app) pruneCommand() *cobra.Command {
	var o struct {
		dryRun             bool
		maxUnused, maxSize string
		minPackAge, grace  time.Duration
		lockWait           time.Duration
	}
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Delete the data no snapshot needs any more, in two runs separated by a grace period",
		Long: `Remove what no remaining snapshot needs. Prune works in two steps, one per
run, so that backups from other hosts keep running meanwhile:

A first run (mark) lists every region completely (any listing error aborts
with nothing written), walks every snapshot, condemns the packs no snapshot
uses and repacks the partly used ones whose unused share exceeds
--max-unused (their live blobs are copied to new packs first), writes a
consolidated index and a GC record (gc/<generation>). It deletes nothing.

A run once --grace has passed since the mark (sweep) keeps any condemned
pack a snapshot made since needs, writes tombstones, then deletes in every
region the replaced index objects first and the packs after. A region that
is down, or that refuses a deletion, is swept by a later run.

Times are the storage's (a probe object written to every region); prune
refuses to run when the local clock differs by more than 5 minutes. Packs
younger than --min-pack-age are never condemned. Takes the repository lock
(against other prunes, checks and syncs); backups take none. Needs format
version 4. --dry-run reports what would be condemned and writes nothing
but the clock probe.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			maxUnused, err := parsePercent(o.maxUnused)
			if err != nil {
				return withCode(ExitUsage, fmt.Errorf("--max-unused: %w", err))
			}
			var maxSize int64
			if o.maxSize != "" {
				if maxSize, err = parseSize(o.maxSize); err != nil {
					return withCode(ExitUsage, fmt.Errorf("--max-repack-size: %w", err))
				}
			}
			if o.grace < 0 || o.minPackAge < 0 {
				return withCode(ExitUsage, fmt.Errorf("--grace and --min-pack-age must not be negative"))
			}
			r, err := a.openRepoOnly(ctx)
			if err != nil {
				return err
			}
			if v := r.FormatVersion(); v < format.TombstoneVersion {
				return withCode(ExitUsage, fmt.Errorf("prune: the repository has format version %d, which cannot record deletions (%w)", v, repo.ErrNoTombstones))
			}
			held, err := a.takeRepoLock(ctx, r.Storage(), o.lockWait)
			if err != nil {
				return err
			}
			defer held.release()
			res, err := runPrune(held.ctx, r, pruneSettings{
				maxUnused: maxUnused, maxRepackBytes: maxSize,
				minPackAge: o.minPackAge, grace: o.grace, dryRun: o.dryRun,
			})
			if err = held.lost(err); err != nil {
				return err
			}
			if a.flags.json {
				return a.printJSON(res)
			}
			a.printPrune(res)
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.dryRun, "dry-run", false, "report what would be condemned or deleted; write nothing")
	f.StringVar(&o.maxUnused, "max-unused", "5%", "repack a partly used pack when more than this share of it is unused")
	f.StringVar(&o.maxSize, "max-repack-size", "", "repack at most this many bytes of packs per run (e.g. 10G; default no limit)")
	f.DurationVar(&o.minPackAge, "min-pack-age", prune.DefaultMinPackAge, "never condemn a pack younger than this (by storage time)")
	f.DurationVar(&o.grace, "grace", prune.DefaultGrace, "time between the mark and the sweep")
	lockWaitFlag(cmd, &o.lockWait)
	return cmd
}

// pruneSettings are the settings of one prune run, from lifeboat prune's
// flags or the daemon's jobs.prune. Zero values are meant literally
// (0 %: repack every partly used pack; min pack age 0: any pack), except
// grace, whose 0 is the default.
type pruneSettings struct {
	maxUnused      float64 // fraction
	maxRepackBytes int64   // 0: no limit
	minPackAge     time.Duration
	grace          time.Duration
	dryRun         bool
}

// runPrune runs one prune step (mark, wait or sweep) on r, as lifeboat
// prune and the daemon's prune job do. The caller holds the repository
// lock.
func runPrune(ctx context.Context, r *repo.Repository, s pruneSettings) (*prune.Result, error) {
	if v := r.FormatVersion(); v < format.TombstoneVersion {
		return nil, withCode(ExitUsage, fmt.Errorf("prune: the repository has format version %d, which cannot record deletions (%w)", v, repo.ErrNoTombstones))
	}
	// The engine's zero values mean its defaults.
	if s.maxUnused == 0 {
		s.maxUnused = 1e-9 // 0 %: every partly used pack
	}
	if s.minPackAge == 0 {
		s.minPackAge = time.Nanosecond // 0: any pack, however young
	}
	if s.grace == 0 {
		// 0: the sweep may follow the mark at once (tests, benchmarks; a
		// backup running meanwhile refuses to commit instead of rescuing).
		s.grace = time.Nanosecond
	}
	return prune.Run(ctx, r, prune.Options{
		MaxUnused: s.maxUnused, MaxRepackBytes: s.maxRepackBytes,
		MinPackAge: s.minPackAge, Grace: s.grace,
		DryRun: s.dryRun, Host: hostname(),
	})
}

// parsePercent parses "5%" or "5" as 0.05.
func parsePercent(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, "%")), 64)
	if err != nil || v < 0 || v > 100 {
		return 0, fmt.Errorf("%q is not a percentage from 0 to 100", s)
	}
	return v / 100, nil
}

func (a *app) printPrune(res *prune.Result) {
	would := map[bool]string{true: "would ", false: ""}[res.DryRun]
	switch res.Action {
	case prune.ActionNone:
		a.printf("nothing to prune")
		if res.Plan != nil && res.Plan.Young > 0 {
			a.printf(" (%d packs younger than the minimum age kept)", res.Plan.Young)
		}
		a.printf("\n")
	case prune.ActionWait:
		a.printf("gc record %d (marked %s) waits for its grace: %d packs condemned; sweep after %s\n",
			res.Record.Generation, res.Record.Marked.Format(time.RFC3339), len(res.Record.Condemned), res.SweepAfter.Format(time.RFC3339))
	case prune.ActionMark:
		p := res.Plan
		a.printf("%scondemn %d unused packs and repack %d partly used ones (%s of live data to copy) from %d snapshots\n",
			would, len(p.Condemned), len(p.Repack), formatBytes(p.RepackBytes), len(p.Snapshots))
		regions := make([]string, 0, len(p.Reclaimable))
		for rn := range p.Reclaimable {
			regions = append(regions, rn)
		}
		sort.Strings(regions)
		for _, rn := range regions {
			name := rn
			if name == "" {
				name = "repository"
			}
			a.printf("  %s: %s reclaimable\n", name, formatBytes(p.Reclaimable[rn]))
		}
		if p.Young > 0 {
			a.printf("  %d packs younger than the minimum age kept\n", p.Young)
		}
		if !res.DryRun {
			a.printf("nothing deleted yet: run lifeboat prune again after %s to sweep\n", res.SweepAfter.Format(time.RFC3339))
		}
	case prune.ActionSweep:
		if res.DryRun {
			a.printf("would sweep gc record %d: %d packs in regions %s\n", res.Record.Generation, len(res.Record.Condemned)-len(res.Record.Rescued), strings.Join(res.Pending, ", "))
			return
		}
		total := 0
		for _, n := range res.Deleted {
			total += n
		}
		a.printf("swept gc record %d: %d objects deleted", res.Record.Generation, total)
		if len(res.Rescued) > 0 {
			a.printf(", %d packs kept for new snapshots", len(res.Rescued))
		}
		a.printf("\n")
		if len(res.Pending) > 0 {
			a.printf("regions still to sweep (run lifeboat prune again): %s\n", strings.Join(res.Pending, ", "))
		}
	}
	for _, p := range res.Problems {
		a.printf("warning: %s\n", p)
	}
}
