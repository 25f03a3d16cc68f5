package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/engine/format"
	"lifeboat/engine/migrate"
)

func (a *app) migrateCommand() *cobra.Command {
	var o struct {
		to       int
		dryRun   bool
		lockWait time.Duration
	}
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Raise the repository's format version",
		Long: fmt.Sprintf(`Raise the repository's format version (default: %d, the newest this lifeboat
writes) by rewriting its config in every region. From then on, writers store
what the new version allows (version 3: extended attributes and inode flags,
names that are not UTF-8; version 4: forget and key remove record each
deletion with a tombstone first; version 5: every commit is recorded in the
writer's commit chain, for rollback detection); nothing already stored is
rewritten, and every
earlier encoding stays readable. Releases that read only older versions
refuse the repository afterwards, saying its version is newer.

A migrate interrupted between regions leaves the repository at the old
version (writers take the lowest version among the regions) until it is run
again, which finishes it. Every region must be reachable. Migrate takes the
repository lock, as check and sync do. --dry-run prints what would change
and writes nothing.`, format.Version),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.to != 0 && (o.to < 1 || o.to > format.Version) {
				return usageErr("--to %d: this lifeboat writes format versions 1 to %d", o.to, format.Version)
			}
			ctx := cmd.Context()
			r, err := a.openRepoOnly(ctx)
			if err != nil {
				return err
			}
			held := noLockHeld(ctx)
			if !o.dryRun {
				// Not alongside a check or a sync (which compares the
				// regions' configs byte for byte).
				if held, err = a.takeRepoLock(ctx, r.Storage(), o.lockWait); err != nil {
					return err
				}
				defer held.release()
			}
			res, err := migrate.Run(held.ctx, r, migrate.Options{To: o.to, DryRun: o.dryRun})
			err = held.lost(err)
			if errors.Is(err, migrate.ErrDowngrade) || errors.Is(err, migrate.ErrBadVersion) {
				return withCode(ExitUsage, err)
			}
			if res == nil {
				return err
			}
			if a.flags.json {
				if jerr := a.printJSON(res); jerr != nil {
					return jerr
				}
				return err
			}
			verb := map[bool]string{true: "would raise", false: "raised"}[o.dryRun]
			for _, s := range res.Steps {
				where := "repository"
				if s.Region != "" {
					where = "region " + s.Region
				}
				switch {
				case s.Action == "skip":
					a.printf("%s: holds no config yet (sync copies it there)\n", where)
				case s.Action == "none":
					a.printf("%s: already at version %d\n", where, s.From)
				case s.Err != "":
					fmt.Fprintf(a.stderr, "lifeboat: %s: not raised: %s\n", where, s.Err)
				case s.Action == "copy":
					a.printf("%s: version %d; %s to the other regions' config bytes\n", where, s.From, map[bool]string{true: "would copy", false: "copied"}[o.dryRun])
				default:
					a.printf("%s: %s from version %d to %d\n", where, verb, s.From, res.To)
				}
			}
			if res.From < res.To {
				a.printf("%s, writers store:\n", map[bool]string{true: "after a migrate", false: "from now on"}[o.dryRun])
				for _, c := range res.Changes {
					a.printf("  %s\n", c)
				}
			}
			if err == nil && !o.dryRun && res.From == res.To && !res.Pending() {
				a.printf("nothing to do: the repository is at format version %d\n", res.To)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.to, "to", 0, fmt.Sprintf("target format `VERSION` (default %d)", format.Version))
	f.BoolVar(&o.dryRun, "dry-run", false, "print what would change; write nothing")
	lockWaitFlag(cmd, &o.lockWait)
	return cmd
}
