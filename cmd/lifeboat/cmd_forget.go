package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/engine/format"
	"lifeboat/engine/repo"
)

// forgetJSON is one snapshot in forget's --json output.
type forgetJSON struct {
	ID    string    `json:"id"`
	Time  time.Time `json:"time"`
	Host  string    `json:"host"`
	Paths []string  `json:"paths"`
}

func (a *app) forgetCommand() *cobra.Command {
	var o struct {
		dryRun   bool
		lockWait time.Duration
	}
	cmd := &cobra.Command{
		Use:   "forget ID...",
		Short: "Delete snapshots, so that no region brings them back",
		Long: `Delete the snapshots whose IDs start with the given IDs (at least 4 hex
characters each, unique). A tombstone of each is written to every region first
(the write quorum at least), then the snapshot objects are deleted; a region
that was down gets the tombstone and the deletion from the next
lifeboat sync, which never copies a forgotten snapshot back. The data only
those snapshots use stays stored. Needs format version 4 (exit 2 otherwise:
run lifeboat migrate). Takes the repository lock, as check and sync do.
--dry-run prints what would be forgotten and writes nothing.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if cfg, err := a.needConfig(); err != nil {
				return err
			} else if err := refuseAppendOnly(cfg, "lifeboat forget"); err != nil {
				return err
			}
			r, err := a.openRepoOnly(ctx)
			if err != nil {
				return err
			}
			if v := r.FormatVersion(); v < format.TombstoneVersion {
				return withCode(ExitUsage, fmt.Errorf("forget: the repository has format version %d, which cannot record deletions so that they stay deleted (%w)", v, repo.ErrNoTombstones))
			}
			held := noLockHeld(ctx)
			if !o.dryRun {
				if held, err = a.takeRepoLock(ctx, r.Storage(), o.lockWait); err != nil {
					return err
				}
				defer held.release()
			}
			ids, err := r.ResolveSnapshots(held.ctx, args)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			var out []forgetJSON
			for _, id := range ids {
				s, err := r.LoadSnapshot(held.ctx, id)
				if err != nil {
					return err
				}
				out = append(out, forgetJSON{ID: id.String(), Time: s.Time, Host: s.Host, Paths: s.Paths})
			}
			var pending []string
			if !o.dryRun {
				d, err := r.Forget(held.ctx, ids)
				if err = held.lost(err); err != nil {
					return err
				}
				pending = d.Pending
			}
			if a.flags.json {
				return a.printJSON(map[string]any{"dry_run": o.dryRun, "snapshots": out, "pending": pending})
			}
			verb := map[bool]string{true: "would forget", false: "forgot"}[o.dryRun]
			for _, s := range out {
				a.printf("%s snapshot %s (%s, %s, %s)\n", verb, s.ID[:8], s.Time.Format(time.RFC3339), s.Host, strings.Join(s.Paths, " "))
			}
			for _, p := range pending {
				a.printf("not deleted yet (a region did not answer; lifeboat sync deletes it there): %s\n", p)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "print what would be forgotten; write nothing")
	lockWaitFlag(cmd, &o.lockWait)
	return cmd
}
