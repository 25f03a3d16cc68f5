package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/cmd/lifeboat/internal/config"
	"lifeboat/engine/format"
	"lifeboat/engine/prune"
	"lifeboat/engine/repo"
	"lifeboat/engine/retention"
	"lifeboat/storage"
)

// forgetJSON is one snapshot in forget's --json output.
type forgetJSON struct {
	Source  string             `json:"source,omitempty"` // the configured source whose keep: judged it
	ID      string             `json:"id"`
	Time    time.Time          `json:"time"`
	Host    string             `json:"host"`
	Paths   []string           `json:"paths"`
	Tags    []string           `json:"tags,omitempty"`
	Partial bool               `json:"partial,omitempty"`
	Fate    retention.Fate     `json:"fate,omitempty"`
	Reasons []retention.Reason `json:"reasons,omitempty"`
}

// keepFlags are forget's --keep-* flags, in restic's vocabulary.
type keepFlags struct {
	counts  [6]int    // last, hourly, daily, weekly, monthly, yearly
	within  [6]string // within, within-hourly … within-yearly
	tags    []string
	groupBy string
}

var keepCountKinds = [6]string{"last", "hourly", "daily", "weekly", "monthly", "yearly"}

// keepUnits are the calendar units of keepCountKinds (none for last).
var keepUnits = [6]string{"", "hour", "day", "ISO week", "month", "year"}

func (k *keepFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	for i, name := range keepCountKinds {
		help := "keep the N newest snapshots"
		if i > 0 {
			help = "keep the newest snapshot of each of the N newest " + keepUnits[i] + "s that have one (-1: all)"
		}
		f.IntVar(&k.counts[i], "keep-"+name, 0, help)
	}
	for i, name := range keepCountKinds {
		kind := "within-" + name
		help := "keep the newest snapshot of each " + keepUnits[i] + " newer than DURATION before the newest snapshot"
		if i == 0 {
			kind = "within"
			help = "keep every snapshot newer than DURATION (such as 30d, 1y6m) before the newest snapshot"
		}
		f.StringVar(&k.within[i], "keep-"+kind, "", help)
	}
	f.StringArrayVar(&k.tags, "keep-tag", nil, "keep snapshots carrying all of these comma-separated tags (repeatable)")
	f.StringVar(&k.groupBy, "group-by", "host,paths", "group snapshots by any of host, paths, tags (or none) before applying the policy")
}

// keepFlagNames lists the names of the --keep-* flags.
func keepFlagNames() []string {
	names := []string{"keep-within", "keep-tag"}
	for _, k := range keepCountKinds {
		names = append(names, "keep-"+k)
		if k != "last" {
			names = append(names, "keep-within-"+k)
		}
	}
	return names
}

// rules returns the policy the flags describe (no rule: none).
func (k *keepFlags) rules() ([]retention.Rule, error) {
	var rules []retention.Rule
	add := func(flag, text string) error {
		r, err := retention.ParseRule(text)
		if err != nil {
			return usageErr("--%s: %v", flag, err)
		}
		rules = append(rules, r)
		return nil
	}
	for i, name := range keepCountKinds {
		n := k.counts[i]
		if n == 0 {
			continue
		}
		arg := fmt.Sprint(n)
		if n == -1 {
			arg = "all"
		}
		if err := add("keep-"+name, name+" "+arg); err != nil {
			return nil, err
		}
	}
	for i, name := range keepCountKinds {
		if k.within[i] == "" {
			continue
		}
		kind := "within-" + name
		if i == 0 {
			kind = "within"
		}
		if err := add("keep-"+kind, kind+" "+k.within[i]); err != nil {
			return nil, err
		}
	}
	for _, t := range k.tags {
		if err := add("keep-tag", "tag "+t); err != nil {
			return nil, err
		}
	}
	return rules, nil
}

func (a *app) forgetCommand() *cobra.Command {
	var o struct {
		dryRun   bool
		prune    bool
		lockWait time.Duration
		keep     keepFlags
		source   string
		host     string
		tags     []string
		paths    []string
	}
	cmd := &cobra.Command{
		Use:   "forget [ID...]",
		Short: "Delete snapshots, by ID or by a retention policy, so that no region brings them back",
		Long: `Delete the snapshots whose IDs start with the given IDs (at least 4 hex
characters each, unique), or, without IDs, the snapshots a retention policy
does not keep.

The policy is given with --keep-last/-hourly/-daily/-weekly/-monthly/-yearly N,
--keep-within D, --keep-within-hourly/-daily/-weekly/-monthly/-yearly D and
--keep-tag TAGS (restic's vocabulary; D such as 30d, 2w, 6m, 1y6m: m is
months), or taken from a configured source's keep: with --source NAME, which
also limits forget to that source's snapshots (its host and paths).
Without IDs, rules or --source, forget applies the keep: of every
configured source that has one, each to its own snapshots. --keep-* rules
given with --source replace its keep:. Snapshots
are grouped by --group-by (host,paths by default) and the policy applies to
each group; the newest complete snapshot of a group is always kept. Days,
weeks, months and years are those of repository.retention_zone (UTC by
default). --host, --tag and --path limit which snapshots are considered. An
empty policy is refused (exit 2): it would remove everything.

"Now" (only used to recognise snapshots dated in the future) is the storage's
time, read from a small object written to state/clock in each region; forget
refuses to run (exit 1) when the local clock differs from it by more than 5
minutes. --dry-run writes nothing and uses the local clock.

A tombstone of each removed snapshot is written to every region first (the
write quorum at least), then the snapshot objects are deleted; a region that
was down gets the tombstone and the deletion from the next lifeboat sync,
which never copies a forgotten snapshot back. The data only those snapshots
use stays stored. Needs format version 4 (exit 2 otherwise: run lifeboat
migrate). Takes the repository lock, as check and sync do. --dry-run prints
what would be forgotten and writes nothing. --json prints each snapshot's
fate and the rules that kept it. --prune then runs lifeboat prune with its
defaults under the same lock: the data only forgotten snapshots used is
condemned now and deleted by a prune run once the grace has passed (24h),
so that backups running on other hosts stay safe.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if cfg, err := a.needConfig(); err != nil {
				return err
			} else if err := refuseAppendOnly(cfg, "lifeboat forget"); err != nil {
				return err
			}
			rules, err := o.keep.rules()
			if err != nil {
				return err
			}
			keepGiven := false
			for _, name := range keepFlagNames() {
				keepGiven = keepGiven || cmd.Flags().Changed(name)
			}
			if keepGiven && len(rules) == 0 {
				return usageErr("forget: every --keep-* rule given is zero: an empty policy would remove everything")
			}
			allSources := len(args) == 0 && !keepGiven && o.source == ""
			policyMode := len(rules) > 0 || o.source != "" || allSources
			for _, fl := range []string{"host", "tag", "path", "group-by", "source"} {
				if len(args) > 0 && cmd.Flags().Changed(fl) {
					return usageErr("forget: --%s selects snapshots for a policy; it cannot be given with snapshot IDs", fl)
				}
			}
			if len(args) > 0 && len(rules) > 0 {
				return usageErr("forget: give snapshot IDs or --keep-* rules, not both")
			}
			var plans []forgetPlan
			switch {
			case allSources:
				if plans, err = a.allSourcePlans(cmd); err != nil {
					return err
				}
			case policyMode:
				plan, err := a.forgetPlanOf(&o.keep, rules, o.source, o.host, o.tags, o.paths)
				if err != nil {
					return err
				}
				plans = []forgetPlan{plan}
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
			if policyMode {
				if err := a.forgetByPolicy(held, r, plans, o.dryRun); err != nil {
					return err
				}
				return a.pruneAfterForget(held, r, o.prune, o.dryRun)
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
				out = append(out, forgetJSON{ID: id.String(), Time: s.Time, Host: s.Host, Paths: s.Paths, Tags: s.Tags})
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
			return a.pruneAfterForget(held, r, o.prune, o.dryRun)
		},
	}
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "print what would be forgotten; write nothing")
	cmd.Flags().BoolVar(&o.prune, "prune", false, "then run lifeboat prune with its defaults (a mark now; the sweep comes with a prune after the grace)")
	o.keep.register(cmd)
	cmd.Flags().StringVar(&o.source, "source", "", "apply the keep: policy of this configured source to its snapshots")
	cmd.Flags().StringVar(&o.host, "host", "", "only consider snapshots of this host")
	cmd.Flags().StringArrayVar(&o.tags, "tag", nil, "only consider snapshots carrying this tag (repeatable: all of them)")
	cmd.Flags().StringArrayVar(&o.paths, "path", nil, "only consider snapshots of exactly these paths (repeatable)")
	lockWaitFlag(cmd, &o.lockWait)
	return cmd
}

// forgetPlan is a retention policy and the snapshots it applies to.
type forgetPlan struct {
	source string // the configured source whose keep: this is ("" for --keep-* flags)
	policy retention.Policy
	filter repo.Filter
	zone   *time.Location
}

// forgetPlanOf turns forget's flags into a plan: the --keep-* rules, or
// the keep: of --source (whose host and paths then select the snapshots).
func (a *app) forgetPlanOf(k *keepFlags, rules []retention.Rule, source, host string, tags, paths []string) (forgetPlan, error) {
	gb, err := retention.ParseGroupBy(k.groupBy)
	if err != nil {
		return forgetPlan{}, usageErr("--group-by: %v", err)
	}
	cfg, err := a.needConfig()
	if err != nil {
		return forgetPlan{}, err
	}
	p := forgetPlan{policy: retention.Policy{Rules: rules, GroupBy: gb}, filter: repo.Filter{Host: host, Tags: tags, Paths: paths}, zone: cfg.Repository.Zone()}
	if source == "" {
		return p, nil
	}
	if host != "" || len(paths) > 0 {
		return forgetPlan{}, usageErr("forget: --source selects the source's host and paths; --host and --path cannot be given with it")
	}
	src, err := a.source(source)
	if err != nil {
		return forgetPlan{}, err
	}
	sp, err := sourcePolicy(src)
	if err != nil {
		return forgetPlan{}, err
	}
	if len(rules) > 0 {
		sp.policy.Rules = rules // --keep-* flags replace the configured policy
	}
	sp.policy.GroupBy = gb
	sp.filter.Tags = tags
	sp.zone = p.zone
	return sp, nil
}

// allSourcePlans is forget without IDs, rules or --source: the keep: of
// every configured source that has one. Without any it is a usage error.
func (a *app) allSourcePlans(cmd *cobra.Command) ([]forgetPlan, error) {
	for _, fl := range []string{"host", "tag", "path", "group-by"} {
		if cmd.Flags().Changed(fl) {
			return nil, usageErr("forget: --%s needs --keep-* rules or --source", fl)
		}
	}
	cfg, err := a.needConfig()
	if err != nil {
		return nil, err
	}
	var plans []forgetPlan
	for i := range cfg.Sources {
		src := &cfg.Sources[i]
		if src.Keep == nil {
			continue
		}
		p, err := sourcePolicy(src)
		if err != nil {
			return nil, err
		}
		p.zone = cfg.Repository.Zone()
		plans = append(plans, p)
	}
	if len(plans) == 0 {
		return nil, usageErr("forget: give snapshot IDs, --keep-* rules, or --source with a keep: policy; no configured source has keep: (an empty policy would remove everything)")
	}
	return plans, nil
}

// sourcePolicy is the plan of a configured source's keep: policy: its
// rules over the snapshots of the source's host and paths. A source
// without keep: is a usage error.
func sourcePolicy(src *config.Source) (forgetPlan, error) {
	if src.Keep == nil {
		return forgetPlan{}, usageErr("forget: source %s has no keep: policy (an empty policy would remove everything)", src.Name)
	}
	rules, err := src.Keep.Rules()
	if err != nil {
		return forgetPlan{}, usageErr("source %s: %v", src.Name, err)
	}
	spec, err := sourceSpec(src)
	if err != nil {
		return forgetPlan{}, err
	}
	return forgetPlan{
		source: src.Name,
		policy: retention.Policy{Rules: rules},
		filter: repo.Filter{Host: spec.host, Paths: spec.paths},
		zone:   time.UTC,
	}, nil
}

// forgetByPolicy runs plans over r, one after the other, and prints the
// outcome.
func (a *app) forgetByPolicy(held *heldLock, r *repo.Repository, plans []forgetPlan, dryRun bool) error {
	ctx := held.ctx
	now := r.Now()
	clock := "local clock"
	if !dryRun {
		var err error
		if now, err = storageNow(ctx, r.Storage(), now); err != nil {
			return err
		}
		clock = "storage"
	}
	var runs []*policyRun
	for _, plan := range plans {
		run, err := applyPolicy(ctx, r, plan, now, dryRun)
		if err = held.lost(err); err != nil {
			return err
		}
		runs = append(runs, run)
	}
	snaps, removed, pending := []forgetJSON{}, []string{}, []string{}
	kept := 0
	for _, run := range runs {
		snaps = append(snaps, run.snapshots()...)
		for _, id := range run.removed {
			removed = append(removed, id.String())
		}
		if run.deletion != nil {
			pending = append(pending, run.deletion.Pending...)
		}
		kept += len(run.result.Kept())
	}
	if a.flags.json {
		return a.printJSON(map[string]any{
			"dry_run": dryRun, "now": now.UTC(), "now_from": clock, "zone": runs[0].result.Zone,
			"snapshots": snaps, "removed": removed, "pending": pending,
		})
	}
	for _, run := range runs {
		a.printRun(run)
	}
	verb := map[bool]string{true: "would remove", false: "removed"}[dryRun]
	a.printf("%s %d snapshots, kept %d\n", verb, len(removed), kept)
	for _, p := range pending {
		a.printf("not deleted yet (a region did not answer; lifeboat sync deletes it there): %s\n", p)
	}
	return nil
}

// printRun prints one policy's table: each group, each snapshot's fate and
// the reasons it is kept.
func (a *app) printRun(run *policyRun) {
	for _, g := range run.result.Groups {
		var key []string
		if run.plan.source != "" {
			key = append(key, "source "+run.plan.source)
		}
		if g.Key.Host != "" {
			key = append(key, "host "+g.Key.Host)
		}
		if len(g.Key.Paths) > 0 {
			key = append(key, "paths "+strings.Join(g.Key.Paths, " "))
		}
		if len(g.Key.Tags) > 0 {
			key = append(key, "tags "+strings.Join(g.Key.Tags, ","))
		}
		if len(key) == 0 {
			key = []string{"all snapshots"}
		}
		a.printf("group %s:\n", strings.Join(key, ", "))
		for _, d := range g.Snapshots {
			fate := "keep  "
			why := ""
			if d.Fate == retention.FateRemove {
				fate = "remove"
			} else {
				texts := make([]string, len(d.Reasons))
				for i, re := range d.Reasons {
					texts[i] = re.Text
				}
				why = "  " + strings.Join(texts, "; ")
			}
			a.printf("  %s %s  %s%s\n", fate, d.ID.Short(), d.Time.In(run.plan.zone).Format(time.RFC3339), why)
		}
	}
}

// policyRun is the outcome of applying a retention policy.
type policyRun struct {
	plan     forgetPlan
	result   *retention.Result
	snaps    map[format.ID]*format.Snapshot
	removed  []format.ID
	deletion *repo.Deletion // nil for a dry run or when nothing was removed
}

// snapshots lists every considered snapshot with its fate, group by group.
func (p *policyRun) snapshots() []forgetJSON {
	out := []forgetJSON{}
	for _, g := range p.result.Groups {
		for _, d := range g.Snapshots {
			s := p.snaps[d.ID]
			out = append(out, forgetJSON{Source: p.plan.source, ID: d.ID.String(), Time: d.Time, Host: s.Host, Paths: s.Paths, Tags: s.Tags,
				Partial: d.Partial, Fate: d.Fate, Reasons: d.Reasons})
		}
	}
	return out
}

// applyPolicy lists the snapshots of every region (tombstoned ones left
// out), keeps those plan.filter selects, applies plan.policy at now and,
// unless dryRun, forgets (tombstones, then deletes) the removed ones. The
// CLI's forget and the daemon's forget after a backup share it; the caller
// holds the repository lock unless dryRun.
func applyPolicy(ctx context.Context, r *repo.Repository, plan forgetPlan, now time.Time, dryRun bool) (*policyRun, error) {
	refs, err := r.Snapshots(ctx)
	if err != nil {
		return nil, fmt.Errorf("forget: %w", err)
	}
	if plan.zone == nil {
		plan.zone = time.UTC
	}
	run := &policyRun{plan: plan, snaps: map[format.ID]*format.Snapshot{}}
	var snaps []retention.Snapshot
	for _, ref := range refs {
		if !plan.filter.Match(ref.Snapshot) {
			continue
		}
		run.snaps[ref.ID] = ref.Snapshot
		snaps = append(snaps, retention.FromFormat(ref.ID, ref.Snapshot))
	}
	res, err := retention.Apply(snaps, plan.policy, now, plan.zone)
	if err != nil {
		if errors.Is(err, retention.ErrEmptyPolicy) {
			return nil, withCode(ExitUsage, fmt.Errorf("forget: %w (an empty policy would remove everything)", err))
		}
		return nil, fmt.Errorf("forget: %w", err)
	}
	run.result = res
	run.removed = res.Removed()
	if dryRun || len(run.removed) == 0 {
		return run, nil
	}
	d, err := r.Forget(ctx, run.removed)
	run.deletion = d
	if err != nil {
		return run, err
	}
	return run, nil
}

// clockProbe is the object forget writes to each region to learn the
// storage's time from its modification time. state/ is mutable
// bookkeeping: sync neither copies nor judges this name.
const clockProbe = "state/clock"

// maxClockSkew is how far the local clock may be from the storage's.
const maxClockSkew = 5 * time.Minute

// errClockSkew is returned when the local clock is too far from the
// storage's for a retention decision to be trusted.
var errClockSkew = errors.New("the local clock differs from the storage's")

// storageNow returns the storage's time: it writes clockProbe to each
// region (to st itself when it is not a region set) and takes the newest
// modification time the regions report. Regions that fail are skipped;
// when none answers the error is returned. When no region reports a time
// (a backend without modification times), local is returned. A local
// clock more than maxClockSkew away from the storage's is refused
// (errClockSkew).
func storageNow(ctx context.Context, st storage.Storage, local time.Time) (time.Time, error) {
	targets := []storage.Storage{st}
	if rs := st.Capabilities().Regions; rs != nil {
		targets = targets[:0]
		for _, name := range rs.Names() {
			if reg, ok := rs.Region(name); ok {
				targets = append(targets, reg)
			}
		}
	}
	var newest time.Time
	var errs []error
	for _, t := range targets {
		body := []byte(local.UTC().Format(time.RFC3339Nano) + "\n")
		if err := storage.PutBytes(ctx, t, clockProbe, body, storage.PutOptions{}); err != nil {
			errs = append(errs, err)
			continue
		}
		fi, err := t.Stat(ctx, clockProbe)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if fi.ModTime.After(newest) {
			newest = fi.ModTime
		}
	}
	if len(errs) == len(targets) && len(errs) > 0 {
		return time.Time{}, fmt.Errorf("forget: read the storage's time: %w", errors.Join(errs...))
	}
	if newest.IsZero() {
		return local, nil
	}
	if skew := local.Sub(newest); skew > maxClockSkew || skew < -maxClockSkew {
		return time.Time{}, fmt.Errorf("forget: %w by %s (local %s, storage %s): fix the clock; retention would misjudge snapshots' ages",
			errClockSkew, skew.Round(time.Second), local.UTC().Format(time.RFC3339), newest.UTC().Format(time.RFC3339))
	}
	return newest, nil
}

// pruneAfterForget runs prune with its defaults after forget --prune,
// under the lock forget holds (a dry run stays one).
func (a *app) pruneAfterForget(held *heldLock, r *repo.Repository, on, dryRun bool) error {
	if !on {
		return nil
	}
	res, err := prune.Run(held.ctx, r, prune.Options{DryRun: dryRun, Host: hostname()})
	if err = held.lost(err); err != nil {
		return fmt.Errorf("forget --prune: %w", err)
	}
	if a.flags.json {
		return a.printJSON(res)
	}
	a.printPrune(res)
	return nil
}
