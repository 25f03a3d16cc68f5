package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// hostStateDir is where this host keeps what it last saw of each
// repository's history (repo.Options.StateDir): the daemon's state
// directory, or the one `lifeboat daemon` would use (--state-dir aside):
// LIFEBOAT_STATE_DIR, $XDG_STATE_HOME/lifeboat, ~/.local/state/lifeboat.
// "" when there is none (rollback detection then relies on the commit
// chains alone).
func (a *app) hostStateDir() string {
	if a.hostState != "" {
		return a.hostState
	}
	dir, err := a.stateDir("")
	if err != nil {
		return ""
	}
	return dir
}

func (a *app) historyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "history",
		Short: "The repository's recorded history (rollback detection)",
	}
	asGroup(cmd)
	cmd.AddCommand(a.historyAcceptCommand())
	return cmd
}

func (a *app) historyAcceptCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "accept",
		Short: "Accept the repository's present state as its history, on this host",
		Long: `Accept what check, backup and drill report as history gone back (objects
vanished without a deletion record, commit chains or regions gone back, a
replaced config) as the repository's state from now on, on this host: after
a recovery to an earlier point in time, or objects removed on purpose.

It forgets what this host saw before, records the deletion of every
vanished snapshot, index object and key (a tombstone each, as forget and
prune write), records every region's config that belongs to this
repository, and verifies again. What remains (forged commit records, gaps
in a chain, another repository's config) is printed and the exit code is 4.
Every region must be reachable. Run it on every host that reports the
rollback.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			r, err := a.openRepoOnly(ctx)
			if err != nil {
				return err
			}
			acc, err := r.AcceptHistory(ctx)
			if err != nil {
				return err
			}
			var remaining []string
			for _, f := range acc.Remaining.Findings {
				remaining = append(remaining, f.Error())
			}
			if a.flags.json {
				if err := a.printJSON(map[string]any{"buried": acc.Buried, "configs": acc.Configs, "remaining": remaining}); err != nil {
					return err
				}
			} else {
				for _, b := range acc.Buried {
					a.printf("recorded the deletion of %s\n", b)
				}
				for _, c := range acc.Configs {
					a.printf("recorded the config of %s\n", regionOrStorage(c))
				}
				for _, rem := range remaining {
					fmt.Fprintf(a.stderr, "error: %s\n", rem)
				}
			}
			if len(remaining) > 0 {
				return &silentError{code: ExitIntegrity}
			}
			a.printf("history accepted\n")
			return nil
		},
	}
}

func regionOrStorage(name string) string {
	if name == "" {
		return "the storage"
	}
	return "region " + name
}
