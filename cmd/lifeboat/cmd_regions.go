package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/cmd/lifeboat/internal/config"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/engine/syncer"
	"lifeboat/storage"
	"lifeboat/storage/regions"
)

// openSet opens the configured regions as a region set.
func (a *app) openSet(ctx context.Context) (*regions.Set, error) {
	st, err := a.openStorage(ctx, false)
	if err != nil {
		return nil, err
	}
	set, ok := st.(*regions.Set)
	if !ok {
		st.Close()
		return nil, fmt.Errorf("internal error: the storage is a %T, not a region set", st)
	}
	return set, nil
}

func (a *app) syncCommand() *cobra.Command {
	var o struct {
		verify      bool
		bad         []string
		concurrency int
		lockWait    time.Duration
		reseed      []string
	}
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Bring every region up to date from the others",
		Long: `Copy the objects a region lacks, or holds a bad copy of, from the regions that
have a good one: keys, the config, packs, index objects, then snapshots, so a
region never names an object it lacks. Every copied object is verified by
its hash first. Without --verify, copies are compared by size; --verify also
downloads and hashes every existing copy. A region holding a different
repository (another config) is refused. Missing local region directories are
created. Needs no key. Exit code 4 when an object has no good copy left.
Like the daemon's jobs, it holds the repository lock: while another host
holds it, it waits up to --lock-wait, then fails naming the holder.

Deletions (format version 4): sync copies tombstones to the regions lacking
them and never copies an object that has one. When an identity or passphrase
is configured (no prompt), sync opens the repository with it and also deletes
the tombstoned objects a region that was down still holds, honouring only
tombstones that authenticate with the repository key; without a key it
deletes nothing and says how many such objects are left. A region last
synced more than the tombstone TTL (90 days) before the others is refused
(exit 1): it may hold deleted objects whose tombstones are gone.
--reseed REGION makes such a region a copy of the healthy ones: every key,
pack, index and snapshot object it holds that no healthy region holds is
deleted from it, then it receives what it lacks.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := a.needConfig()
			if err != nil {
				return err
			}
			if err := refuseAppendOnly(cfg, "lifeboat sync"); err != nil {
				return err
			}
			for _, rc := range cfg.Regions {
				if rc.Type != config.TypeLocal || len(cfg.Regions) < 2 {
					continue
				}
				if _, err := os.Stat(rc.Path); errors.Is(err, os.ErrNotExist) {
					if err := os.MkdirAll(rc.Path, 0o700); err != nil {
						return fmt.Errorf("region %s: %w", rc.Name, err)
					}
					if !a.flags.json {
						a.printf("created the directory of region %s: %s\n", rc.Name, rc.Path)
					}
				}
			}
			set, err := a.openSet(ctx)
			if err != nil {
				return err
			}
			defer set.Close()
			held, err := a.takeRepoLock(ctx, set, o.lockWait)
			if err != nil {
				return err
			}
			defer held.release()
			sopt := syncer.Options{Verify: o.verify, Bad: o.bad, Concurrency: o.concurrency, Host: hostname(), Reseed: o.reseed}
			if v := a.syncVerifier(held.ctx, set); v != nil {
				sopt.Tombstones = v
			}
			rep, err := syncer.Sync(held.ctx, set.Capabilities().Regions, sopt)
			err = held.lost(err)
			if errors.Is(err, repo.ErrNoRepository) || errors.Is(err, context.Canceled) {
				return err
			}
			code := ExitOK
			switch {
			case errors.Is(err, syncer.ErrLost):
				code = ExitIntegrity
			case err != nil:
				code = ExitError
			}
			if a.flags.json {
				out := map[string]any{"regions": rep.Regions, "objects": rep.Objects, "lost": rep.Lost}
				if err != nil {
					out["error"] = err.Error()
				}
				if jerr := a.printJSON(out); jerr != nil {
					return jerr
				}
			} else {
				a.printSync(rep)
			}
			if code != ExitOK {
				if !a.flags.json {
					fmt.Fprintf(a.stderr, "lifeboat: %v\n", err)
				}
				return &silentError{code: code}
			}
			if !a.flags.json {
				a.printf("every region holds the %d objects of the repository\n", rep.Objects)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.verify, "verify", false, "also download and hash every existing copy")
	f.StringArrayVar(&o.bad, "bad", nil, "hash every copy of this object `NAME` (e.g. a pack check reported; repeatable)")
	f.IntVar(&o.concurrency, "concurrency", 0, "objects copied at once (default 4)")
	f.StringArrayVar(&o.reseed, "reseed", nil, "make `REGION` a copy of the healthy regions, deleting what they lack (repeatable)")
	lockWaitFlag(cmd, &o.lockWait)
	return cmd
}

// syncVerifier opens the repository when an identity or passphrase is
// configured (never prompting), so that sync can authenticate tombstones
// and delete what they bury; nil when there is none (a keyless sync).
func (a *app) syncVerifier(ctx context.Context, set *regions.Set) syncer.TombstoneVerifier {
	id, err := a.identity(false)
	if err != nil {
		return nil
	}
	r, err := repo.Open(ctx, set, id, a.repoOptions())
	if err != nil {
		if !a.flags.quiet {
			fmt.Fprintf(a.stderr, "lifeboat: warning: syncing without the key (tombstoned objects are not deleted): %v\n", err)
		}
		return nil
	}
	return r
}

func (a *app) printSync(rep *syncer.Report) {
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	if !a.flags.quiet {
		fmt.Fprintln(tw, "REGION\tCOPIED\tBYTES\tREPLACED\tVERIFIED\tSTATUS")
	}
	for _, r := range rep.Regions {
		status := "complete"
		switch {
		case r.Foreign:
			status = "refused: another repository"
		case r.NeedsReseed:
			status = "refused: re-seed it"
		case !r.Complete:
			status = "incomplete"
		case r.Reseeded:
			status = "complete (re-seeded)"
		}
		if !a.flags.quiet {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%s\n", r.Region, r.Copied, formatBytes(r.Bytes), r.Replaced, r.Verified, status)
		}
		if r.Deleted > 0 {
			defer a.printf("region %s: deleted %d object(s) (tombstoned, or absent from the healthy regions when re-seeding)\n", r.Region, r.Deleted)
		}
		if r.Tombstoned > 0 {
			fmt.Fprintf(a.stderr, "warning: region %s still holds %d tombstoned object(s) (never copied elsewhere): run lifeboat sync with the repository's identity or passphrase to delete them\n", r.Region, r.Tombstoned)
		}
		for _, e := range r.Errors {
			fmt.Fprintf(a.stderr, "error: region %s: %s\n", r.Region, e)
		}
		for _, w := range r.Warnings {
			fmt.Fprintf(a.stderr, "warning: region %s: %s\n", r.Region, w)
		}
	}
	tw.Flush()
	for _, name := range rep.Lost {
		fmt.Fprintf(a.stderr, "error: %s: no good copy in any region\n", name)
	}
}

func (a *app) regionsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "regions",
		Short: "Show each region: reachability, contents, lag and last sync",
		Long: `Show each configured region: whether it answers and how fast (a Stat of the
config), whether it holds the repository, whether its server honours
conditional creates (COND: yes; no: it ignores them; untested: the probe
could not write; unsafe: not working, accepted with
unsafe_no_conditional_create), its objects and bytes, its snapshots and
packs and how many of those other regions hold but it lacks, and when
lifeboat sync last brought it up to date. When a region has object_lock, LOCK shows the
mode and period and UNPROTECTED the oldest snapshot not known to be fully
protected (written since the last lifeboat lock extend, or all of them once
that extension's retention has ended) and how many; "none" when every
snapshot is. Each problem is printed once on
standard error with what to do. Reads listings only; needs no key.

Exit code 6 when any region is unreachable, misconfigured, holds another
repository, lacks working conditional creates (not accepted), or is behind
(lacks the config, snapshots or packs other regions hold), so monitoring
can alert on it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := a.needConfig()
			if err != nil {
				return err
			}
			// No warnings at open: each region's problem is printed once,
			// below.
			all, err := buildStorage(ctx, cfg, false, a.getenv, io.Discard)
			if err != nil {
				return err
			}
			defer all.Close()
			set, ok := all.(*regions.Set)
			if !ok {
				return fmt.Errorf("internal error: the storage is a %T, not a region set", all)
			}
			st, err := syncer.Status(ctx, set.Capabilities().Regions, nil)
			if err != nil {
				return err
			}
			type row struct {
				syncer.RegionStatus
				Type string `json:"type"`
				// ConditionalCreate is yes, no, untested, unsafe, or -.
				ConditionalCreate string `json:"conditional_create"`
				// Problem says what is wrong with the region ("" when
				// nothing is).
				Problem string `json:"problem,omitempty"`
				// ObjectLock is the region's object lock and
				// protection (absent without object_lock).
				ObjectLock *lockStatus `json:"object_lock,omitempty"`
			}
			down := map[string]error{}
			for _, d := range set.Down() {
				down[d.Region] = d.Err
			}
			anyConfig := false
			for _, s := range st {
				anyConfig = anyConfig || s.Config == syncer.ConfigOK
			}
			rows := make([]row, len(st))
			for i, s := range st {
				rc := a.cfg.Region(s.Name)
				rows[i] = row{RegionStatus: s}
				if rc != nil {
					rows[i].Type = rc.Type
				}
				rst, _ := set.Region(s.Name)
				_, isDown := down[s.Name]
				rows[i].ConditionalCreate = conditionalCreate(rc, rst, isDown)
				rows[i].Problem = regionProblem(s, down[s.Name], rows[i].ConditionalCreate, anyConfig)
				rows[i].ObjectLock = regionLock(ctx, rc, rst, isDown)
			}
			bad := false
			for _, r := range rows {
				bad = bad || r.Problem != ""
			}
			if a.flags.json {
				if err := a.printJSON(rows); err != nil {
					return err
				}
			} else {
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				// The LOCK and UNPROTECTED columns appear only when a
				// region has object_lock.
				locked := len(lockedRegions(a.cfg)) > 0
				lockHdr := ""
				if locked {
					lockHdr = "LOCK\tUNPROTECTED\t"
				}
				fmt.Fprintln(tw, "NAME\tTYPE\tREACHABLE\tLATENCY\tCONFIG\tCOND\t"+lockHdr+"OBJECTS\tSIZE\tSNAPSHOTS\tMISSING\tPACKS\tMISSING\tLAST SYNC")
				for _, r := range rows {
					reach, lat := "no", "-"
					if r.Reachable {
						reach, lat = "yes", r.Latency.Round(time.Microsecond).String()
					}
					last := "never"
					if r.LastSync != nil {
						last = r.LastSync.Time.Local().Format("2006-01-02 15:04:05") + " (" + r.LastSync.Host + ")"
					}
					lockCols := ""
					if locked {
						lockCols = lockColumn(a.cfg.Region(r.Name)) + "\t" + unprotectedColumn(r.ObjectLock) + "\t"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s%d\t%s\t%d\t%d\t%d\t%d\t%s\n", r.Name, r.Type, reach, lat, r.Config, r.ConditionalCreate,
						lockCols, r.Objects, formatBytes(r.Bytes), r.Snapshots, r.SnapshotsMissing, r.Packs, r.PacksMissing, last)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				for _, r := range rows {
					if r.Problem != "" {
						fmt.Fprintf(a.stderr, "region %s: %s\n", r.Name, r.Problem)
					}
				}
			}
			if bad {
				return &silentError{code: ExitRegions}
			}
			return nil
		},
	}
	cmd.AddCommand(a.auditCommand(), a.regionsRecoverCommand())
	return cmd
}

// regionProblem says what is wrong with a region for lifeboat regions, in
// order of importance ("" when nothing is): it could not be opened
// (openErr: misconfigured, or unreachable), it failed to answer, it holds
// another repository, its conditional creates do not work (cc, as
// conditionalCreate reports it), or it is behind. anyConfig says some
// region holds the repository's config.
func regionProblem(s syncer.RegionStatus, openErr error, cc string, anyConfig bool) string {
	switch {
	case openErr != nil && errors.Is(openErr, storage.ErrConfig):
		return "misconfigured (not an outage): " + openErr.Error()
	case openErr != nil:
		return "unreachable: " + openErr.Error()
	case s.Error != "":
		// The set's errors already start with "region NAME: ".
		return "unreachable: " + strings.TrimPrefix(s.Error, "region "+s.Name+": ")
	case s.Config == syncer.ConfigDifferent:
		return "refused: it holds another repository (a different config)"
	}
	if p := conditionalCreateProblem(cc); p != "" {
		return p
	}
	switch {
	case s.Config == syncer.ConfigMissing && anyConfig:
		return "behind: it lacks the repository's config; run lifeboat sync"
	case s.SnapshotsMissing > 0 || s.PacksMissing > 0:
		return fmt.Sprintf("behind: it lacks %d snapshot(s) and %d pack(s) other regions hold; run lifeboat sync", s.SnapshotsMissing, s.PacksMissing)
	}
	return ""
}

func (a *app) auditCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "audit",
		Short: "Compare index objects and packs across regions",
		Long: `Compare the regions: index objects, snapshots and keys present in some regions
but not others, packs that an index object names but a region lacks, packs
whose sizes differ, and packs no index names (reported, harmless). Decrypts
the index objects, so it needs the key. Exit code 4 when the regions differ
(run lifeboat sync), 1 when a region could not be audited.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			set, err := a.openSet(ctx)
			if err != nil {
				return err
			}
			defer set.Close()
			id, err := a.identity(true)
			if err != nil {
				return err
			}
			r, err := repo.Open(ctx, set, id, repo.Options{CacheDir: a.cacheDir()})
			if err != nil {
				return err
			}
			rep, err := syncer.Audit(ctx, r, set.Capabilities().Regions)
			if err != nil {
				return err
			}
			if a.flags.json {
				out := struct {
					*syncer.AuditReport
					Drift bool `json:"drift"`
				}{rep, rep.Drift()}
				if err := a.printJSON(out); err != nil {
					return err
				}
			} else {
				a.printAudit(rep)
			}
			switch {
			case rep.Drift():
				return &silentError{code: ExitIntegrity}
			case len(rep.Unreachable) > 0:
				return &silentError{code: ExitError}
			}
			return nil
		},
	}
}

func (a *app) printAudit(rep *syncer.AuditReport) {
	a.printf("audited %d region(s): %s; %d index objects, %d packs\n", len(rep.Regions), strings.Join(rep.Regions, ", "), rep.IndexObjects, rep.Packs)
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range rep.Unreachable {
			if !yield(k) {
				return
			}
		}
	})
	for _, name := range names {
		fmt.Fprintf(a.stderr, "error: region %s could not be audited: %s\n", name, rep.Unreachable[name])
	}
	for _, name := range rep.Config {
		fmt.Fprintf(a.stdout, "drift: region %s: config missing or different\n", name)
	}
	presence := func(what string, ps []syncer.Presence) {
		perRegion := map[string][]string{}
		for _, p := range ps {
			for _, m := range p.Missing {
				perRegion[m] = append(perRegion[m], p.Object)
			}
		}
		for _, region := range rep.Regions {
			objs := perRegion[region]
			if len(objs) == 0 {
				continue
			}
			example := objs[0]
			if len(objs) > 1 {
				example += ", …"
			}
			fmt.Fprintf(a.stdout, "drift: region %s lacks %d %s (%s)\n", region, len(objs), what, example)
		}
	}
	presence("key(s)", rep.Keys)
	presence("index object(s)", rep.Index)
	presence("snapshot(s)", rep.Snapshots)
	presence("indexed pack(s)", rep.MissingPacks)
	for _, p := range rep.PackSizes {
		var sizes []string
		for _, region := range rep.Regions {
			if sz, ok := p.Sizes[region]; ok {
				sizes = append(sizes, fmt.Sprintf("%s=%d", region, sz))
			}
		}
		want := "unindexed"
		if p.Want > 0 {
			want = fmt.Sprintf("index says %d", p.Want)
		}
		fmt.Fprintf(a.stdout, "drift: %s: sizes differ (%s; %s)\n", p.Object, strings.Join(sizes, " "), want)
	}
	for _, e := range rep.IndexErrors {
		fmt.Fprintf(a.stdout, "damage: unreadable index object %s\n", e)
	}
	for _, p := range rep.Tombstoned {
		fmt.Fprintf(a.stdout, "drift: %s is deleted (tombstoned) but region %s still holds it; run lifeboat sync (with the repository's key) to delete it there\n", p.Object, strings.Join(p.Present, ", "))
	}
	for _, e := range rep.TombstoneErrors {
		fmt.Fprintf(a.stdout, "damage: tombstone not honoured: %s\n", e)
	}
	for _, st := range rep.Stale {
		fmt.Fprintf(a.stdout, "drift: region %s must be re-seeded: %s; run lifeboat sync --reseed %s\n", st.Region, st.Reason, st.Region)
	}
	if n := len(rep.Unreferenced); n > 0 {
		a.printf("%d pack(s) are named by no index object (left by an interrupted backup; harmless)\n", n)
	}
	if rep.Drift() {
		fmt.Fprintf(a.stderr, "the regions differ: run lifeboat sync\n")
	} else {
		a.printf("no drift found\n")
	}
}

// regionLag is a region that missed writes during a command.
type regionLag struct {
	Region string `json:"region"`
	// Objects counts the objects whose write to the region failed or
	// was withheld.
	Objects int64 `json:"objects"`
	// Snapshot is true when the new snapshot is among them.
	Snapshot bool `json:"snapshot_missing"`
}

// regionsBehind lists the regions of st (a region set) that missed
// writes, sorted by name; nil for other storages.
func regionsBehind(st storage.Storage, snapshot format.ID) []regionLag {
	set, ok := st.(*regions.Set)
	if !ok {
		return nil
	}
	out := []regionLag{}
	for name, lag := range set.Behind() {
		out = append(out, regionLag{Region: name, Objects: int64(len(lag.Names)) + lag.Overflow,
			Snapshot: slices.Contains(lag.Names, format.SnapshotName(snapshot))})
	}
	slices.SortFunc(out, func(a, b regionLag) int { return strings.Compare(a.Region, b.Region) })
	return out
}

// warnBehind tells the user which regions a backup into st left behind,
// and what to do: a region that is down needs a sync once it is back; a
// misconfigured one needs its configuration fixed first (waiting will not
// bring it back).
func (a *app) warnBehind(st storage.Storage, behind []regionLag) {
	misconfigured := map[string]bool{}
	if set, ok := st.(*regions.Set); ok {
		for _, d := range set.Down() {
			misconfigured[d.Region] = errors.Is(d.Err, storage.ErrConfig)
		}
	}
	var fix []string
	outage := false
	for _, l := range behind {
		note := ""
		if l.Snapshot {
			note = ", so the snapshot was not written there"
		}
		fmt.Fprintf(a.stderr, "warning: region %s is behind: %d object(s) could not be written to it%s\n", l.Region, l.Objects, note)
		if misconfigured[l.Region] {
			fix = append(fix, l.Region)
		} else {
			outage = true
		}
	}
	if len(fix) > 0 {
		fmt.Fprintf(a.stderr, "hint: region(s) %s are misconfigured, not down (see the warning above): fix the configuration, then run 'lifeboat sync' to copy what they missed\n", strings.Join(fix, ", "))
	}
	if outage {
		fmt.Fprintf(a.stderr, "hint: run 'lifeboat sync' to copy them once the region is back\n")
	}
}
