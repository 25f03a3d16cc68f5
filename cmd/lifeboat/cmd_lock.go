package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/cmd/lifeboat/internal/config"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/engine/retain"
	"lifeboat/storage"
)

func (a *app) lockCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lock",
		Short: "S3 Object Lock: keep what the snapshots need retained",
	}
	asGroup(cmd)
	cmd.AddCommand(a.lockExtendCommand())
	return cmd
}

func (a *app) lockExtendCommand() *cobra.Command {
	var lockWait time.Duration
	cmd := &cobra.Command{
		Use:   "extend",
		Short: "Extend the object lock of everything the snapshots need",
		Long: `In every region with object_lock, extend the retention of every object the
present snapshots need (the config, the keys, the snapshots, the packs holding
their trees and data, and the index objects naming those packs) to now plus
the region's period. Nothing else is extended: packs and index objects no
snapshot needs keep the retention they were written with, which lapses one
period later, so they can be deleted then.

A kept snapshot is protected until the last extension plus the period: run
lock extend more often than the period (e.g. daily from cron for a 14d
period). Each region's complete extension is recorded in its state/ prefix;
lifeboat regions shows, from that record, the oldest snapshot not known to
be fully protected, and lifeboat check reads the actual retention.

Needs the key (it reads the snapshots' trees). Holds the repository lock.
Exit code 2 when no region has object_lock, 1 when a region with
object_lock could not be extended completely (others are still extended).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := a.needConfig()
			if err != nil {
				return err
			}
			if len(lockedRegions(cfg)) == 0 {
				return usageErr("no region has object_lock configured")
			}
			st, err := a.openStorage(ctx, false)
			if err != nil {
				return err
			}
			defer st.Close()
			id, err := a.identity(true)
			if err != nil {
				return err
			}
			r, err := repo.Open(ctx, st, id, repo.Options{CacheDir: a.cacheDir()})
			if err != nil {
				return err
			}
			held, err := a.takeRepoLock(ctx, st, lockWait)
			if err != nil {
				return err
			}
			defer held.release()
			regs := retain.Regions(st)
			rep, err := retain.Extend(held.ctx, r, regs, retain.Options{Host: hostname(), Now: time.Now})
			err = held.lost(err)
			if rep == nil {
				rep = &retain.Report{}
			}
			// Regions configured with object_lock that did not open with
			// it (down, or misconfigured) were not extended.
			done := map[string]bool{}
			for _, rr := range rep.Regions {
				done[rr.Region] = true
			}
			for _, name := range lockedRegions(cfg) {
				if !done[name] {
					rep.Regions = append(rep.Regions, retain.RegionReport{Region: name, Error: "not extended: the region did not open with object lock (down or misconfigured; see lifeboat regions)"})
					if err == nil || errors.Is(err, retain.ErrNoObjectLock) {
						err = fmt.Errorf("%w in region %s", retain.ErrIncomplete, name)
					}
				}
			}
			if errors.Is(err, context.Canceled) {
				return err
			}
			if a.flags.json {
				out := map[string]any{"snapshots": rep.Snapshots, "objects": rep.Objects, "regions": rep.Regions}
				if err != nil {
					out["error"] = err.Error()
				}
				if jerr := a.printJSON(out); jerr != nil {
					return jerr
				}
			} else {
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				if !a.flags.quiet {
					fmt.Fprintln(tw, "REGION\tMODE\tPERIOD\tRETAINED UNTIL\tOBJECTS\tMISSING\tSTATUS")
				}
				for _, rr := range rep.Regions {
					status, until, period := "extended", "-", "-"
					if rr.Error != "" {
						status = "incomplete"
						fmt.Fprintf(a.stderr, "error: region %s: %s\n", rr.Region, rr.Error)
					}
					if !rr.Until.IsZero() {
						until = rr.Until.Local().Format("2006-01-02 15:04:05")
						period = config.Duration(rr.Period).String()
					}
					if !a.flags.quiet {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", rr.Region, orDash(rr.Mode), period, until, rr.Objects, rr.Missing, status)
					}
				}
				if ferr := tw.Flush(); ferr != nil {
					return ferr
				}
			}
			switch {
			case err == nil:
				if !a.flags.json {
					a.printf("extended the retention of %d object(s) of %d snapshot(s)\n", rep.Objects, rep.Snapshots)
				}
				return nil
			case errors.Is(err, retain.ErrIncomplete):
				if !a.flags.json {
					fmt.Fprintf(a.stderr, "lifeboat: %v\n", err)
				}
				return &silentError{code: ExitError}
			}
			return err
		},
	}
	lockWaitFlag(cmd, &lockWait)
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// lockedRegions names the regions configured with object_lock.
func lockedRegions(cfg *config.Config) []string {
	var out []string
	for _, rc := range cfg.Regions {
		if rc.S3 != nil && rc.S3.ObjectLock != nil {
			out = append(out, rc.Name)
		}
	}
	return out
}

// errNoObjectLock reports a region configured with object_lock whose
// storage does not lock its objects.
var errNoObjectLock = errors.New("object lock not in effect")

// requireObjectLock checks that every region of st (a region set)
// configured with object_lock opened with it: the S3 backend verified
// the bucket's object lock and versioning. init uses it so that it never
// claims a protection the buckets do not give.
func requireObjectLock(cfg *config.Config, st storage.Storage) error {
	set := st.Capabilities().Regions
	var bad []string
	for _, name := range lockedRegions(cfg) {
		var rs storage.Storage
		if set != nil {
			rs, _ = set.Region(name)
		}
		if rs == nil || rs.Capabilities().ObjectLock == nil {
			bad = append(bad, name)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return withCode(ExitUsage, fmt.Errorf("%w in region(s) %s", errNoObjectLock, strings.Join(bad, ", ")))
}

// lockColumn describes a region's object lock for lifeboat regions:
// "compliance 14d", or "-" without one.
func lockColumn(rc *config.Region) string {
	if rc == nil || rc.S3 == nil || rc.S3.ObjectLock == nil {
		return "-"
	}
	return rc.S3.ObjectLock.Mode + " " + rc.S3.ObjectLock.Period.String()
}

// regionProtection summarises a locked region's protection from its lock
// extension state and its snapshot listing (no key needed).
func regionProtection(ctx context.Context, rs storage.Storage, region string) (*retain.Protection, error) {
	st, err := retain.LoadState(ctx, rs, region)
	if err != nil {
		return nil, err
	}
	var snaps []storage.Info
	if err := rs.List(ctx, format.SnapshotPrefix, func(fi storage.Info) error {
		snaps = append(snaps, fi)
		return nil
	}); err != nil {
		return nil, err
	}
	p := retain.Unprotected(st, snaps, time.Now())
	return &p, nil
}

// lockStatus is a region's object lock in lifeboat regions --json.
type lockStatus struct {
	Mode   string `json:"mode"`
	Period string `json:"period"`
	*retain.Protection
	// Error says why the protection could not be read.
	Error string `json:"protection_error,omitempty"`
}

// regionLock reports region rc's object lock (nil without one): its
// mode and period, and, when the region opened, its protection.
func regionLock(ctx context.Context, rc *config.Region, rs storage.Storage, down bool) *lockStatus {
	if rc == nil || rc.S3 == nil || rc.S3.ObjectLock == nil {
		return nil
	}
	ls := &lockStatus{Mode: rc.S3.ObjectLock.Mode, Period: rc.S3.ObjectLock.Period.String()}
	if down || rs == nil {
		return ls
	}
	p, err := regionProtection(ctx, rs, rc.Name)
	if err != nil {
		ls.Error = err.Error()
		return ls
	}
	ls.Protection = p
	return ls
}

// unprotectedColumn is the UNPROTECTED column of lifeboat regions: "-"
// without object lock or when unknown, "none" when every snapshot is
// known protected, else the oldest snapshot not known to be fully
// protected and how many are not.
func unprotectedColumn(ls *lockStatus) string {
	switch {
	case ls == nil || ls.Protection == nil:
		return "-"
	case ls.OldestUnprotected == "":
		return "none"
	}
	id := strings.TrimPrefix(ls.OldestUnprotected, format.SnapshotPrefix)
	if len(id) > 8 {
		id = id[:8]
	}
	return fmt.Sprintf("%s (%d)", id, ls.Unprotected)
}
