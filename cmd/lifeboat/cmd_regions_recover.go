package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/cmd/lifeboat/internal/config"
	"lifeboat/engine/pitr"
	"lifeboat/storage"
	"lifeboat/storage/regions"
)

func (a *app) regionsRecoverCommand() *cobra.Command {
	var asOf string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "recover REGION --as-of TIME [--dry-run]",
		Short: "Make a region's objects what they were at a time again, from its object versions",
		Long: `Point-in-time recovery of one region whose bucket keeps object versions (S3
with versioning, which object_lock requires). For every object changed after
--as-of TIME it removes the versions and delete markers written since, so the
version of that time is current again. Where a later version cannot be
removed (retained by object lock, or these credentials may not delete
versions), it writes the version of the time again as the current one, or,
for an object that did not exist then, deletes it. Objects under locks/ and
probe/ are left alone. Content is brought back before the snapshots that
refer to it, and later snapshots are removed before their data.

Running it again changes nothing. --dry-run prints the plan and changes
nothing. Needs no key. Run it from a trusted host while no backup, prune or
sync runs, after "lifeboat restore --as-of TIME" (which changes nothing) has
shown the time to be right; every later backup in this region is undone.

Exit code 2 when the region does not exist or keeps no versions, 1 when an
object could not be recovered (named; run it again).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, err := a.needConfig()
			if err != nil {
				return err
			}
			if asOf == "" {
				return usageErr("regions recover needs --as-of TIME")
			}
			at, err := parseAsOf(asOf, time.Now(), time.Local)
			if err != nil {
				return err
			}
			rc := cfg.Region(args[0])
			if rc == nil {
				var names []string
				for _, r := range cfg.Regions {
					names = append(names, r.Name)
				}
				return usageErr("no region %q (have %s)", args[0], strings.Join(names, ", "))
			}
			sub := *cfg
			sub.Regions = []config.Region{*rc}
			sub.Repository.WriteQuorum = 0
			st, err := buildStorage(ctx, &sub, false, a.getenv, a.stderr)
			if err != nil {
				return err
			}
			defer st.Close()
			set, ok := st.(*regions.Set)
			if !ok {
				return fmt.Errorf("internal error: the storage is a %T, not a region set", st)
			}
			rst, _ := set.Region(rc.Name)
			plan, err := pitr.MakePlan(ctx, rst, at)
			if errors.Is(err, storage.ErrNoVersioning) {
				return withCode(ExitUsage, fmt.Errorf("region %s keeps no object versions, so it cannot be recovered as of a time: %w; enable versioning (or object lock) on its bucket before an incident", rc.Name, err))
			}
			if err != nil {
				return fmt.Errorf("region %s: %w", rc.Name, err)
			}
			when := at.UTC().Format(time.RFC3339Nano)
			if dryRun {
				return a.printRecoverPlan(rc.Name, when, plan)
			}
			type outJSON struct {
				Name           string   `json:"name"`
				Removed        int      `json:"removed"`
				Rewritten      bool     `json:"rewritten,omitempty"`
				Deleted        bool     `json:"deleted,omitempty"`
				AlreadyCurrent bool     `json:"already_current,omitempty"`
				Kept           []string `json:"kept,omitempty"`
				Error          string   `json:"error,omitempty"`
			}
			var outs []outJSON
			res, err := pitr.Apply(ctx, rst, plan, pitr.Options{OnOutcome: func(o pitr.Outcome) {
				j := outJSON{Name: o.Name, Removed: o.Removed, Rewritten: o.Rewritten, Deleted: o.Hidden, AlreadyCurrent: o.AlreadyCurrent, Kept: o.Kept}
				if o.Err != nil {
					j.Error = o.Err.Error()
				}
				outs = append(outs, j)
				if a.flags.json {
					return
				}
				switch {
				case o.Err != nil:
					fmt.Fprintf(a.stderr, "error: %s: %v\n", o.Name, o.Err)
				case o.AlreadyCurrent:
				case o.Rewritten:
					a.printf("rewrote   %s (removed %d later versions; %d retained)\n", o.Name, o.Removed, len(o.Kept))
				case o.Hidden:
					a.printf("deleted   %s (did not exist then; %d later versions retained)\n", o.Name, len(o.Kept))
				default:
					a.printf("recovered %s (removed %d later versions)\n", o.Name, o.Removed)
				}
			}})
			if err != nil {
				return err
			}
			changed := 0
			for _, o := range res.Outcomes {
				if o.Err == nil && !o.AlreadyCurrent {
					changed++
				}
			}
			if a.flags.json {
				if outs == nil {
					outs = []outJSON{}
				}
				if err := a.printJSON(map[string]any{"region": rc.Name, "as_of": when, "versions": plan.Versions,
					"changed": changed, "failed": res.Failed, "objects": outs}); err != nil {
					return err
				}
			} else {
				a.printf("region %s as of %s: %d objects recovered, %d already were, %d failed (%d versions read)\n",
					rc.Name, when, changed, len(res.Outcomes)-changed-res.Failed, res.Failed, plan.Versions)
				if changed > 0 {
					// Hosts that saw the later commits report the recovery
					// as a rollback until they accept it.
					a.printf("once every region is recovered: lifeboat check --read-data, then lifeboat history accept on each host whose check reports the recovery as a rollback\n")
				}
			}
			if res.Failed > 0 {
				return &silentError{code: ExitError}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&asOf, "as-of", "", "recover to `TIME` (RFC 3339, or local \"YYYY-MM-DD[ HH:MM[:SS]]\")")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan, change nothing")
	return cmd
}

// printRecoverPlan prints what regions recover would do.
func (a *app) printRecoverPlan(region, when string, plan *pitr.Plan) error {
	if a.flags.json {
		type itemJSON struct {
			Name   string   `json:"name"`
			Target string   `json:"version,omitempty"`
			Remove []string `json:"remove"`
		}
		items := []itemJSON{}
		for _, it := range plan.Items {
			j := itemJSON{Name: it.Name, Remove: []string{}}
			if it.Target != nil {
				j.Target = it.Target.VersionID
			}
			for _, l := range it.Later {
				j.Remove = append(j.Remove, l.VersionID)
			}
			items = append(items, j)
		}
		return a.printJSON(map[string]any{"region": region, "as_of": when, "dry_run": true, "versions": plan.Versions, "objects": items})
	}
	for _, it := range plan.Items {
		what := "bring back the version of then"
		if it.Target == nil {
			what = "remove (did not exist then)"
		}
		markers := 0
		for _, l := range it.Later {
			if l.DeleteMarker {
				markers++
			}
		}
		a.printf("%s: %s; remove %d later versions and %d delete markers\n", it.Name, what, len(it.Later)-markers, markers)
	}
	a.printf("region %s as of %s: %d objects to recover (%d versions read); nothing changed (--dry-run)\n", region, when, len(plan.Items), plan.Versions)
	return nil
}
