package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/cmd/lifeboat/internal/config"
	"lifeboat/engine/drill"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
)

// drillOverrides are settings that take precedence over a configured drill
// (the CLI's flags; the daemon passes none). Zero values keep the drill's.
type drillOverrides struct {
	// Snapshot is "latest" or an ID prefix.
	Snapshot string
	// Source names a configured source whose snapshots are drilled.
	Source string
	// Lose or Only (not both) replace the drill's region lists.
	Lose, Only []string
	// Sample is a percentage in (0,100]; Full forces a full drill.
	Sample float64
	Full   bool
	// Seed picks the sample (0: from the time).
	Seed uint64
	// Target is the scratch directory ("": a temporary one); Keep leaves
	// the restore there.
	Target string
	Keep   bool
	// RTO and RPO are objectives.
	RTO, RPO time.Duration
	// Against is a live path to compare with the snapshot.
	Against string
	// AsOf reads the regions as they were then (zero: now); Ransomware
	// makes it a ransomware drill (drill_ransomware.go).
	AsOf       time.Time
	Ransomware bool
}

// runDrill runs the drill d (nil: an ad-hoc drill of the latest snapshot
// on every region) with the overrides applied. The restore reads only the
// regions the drill keeps (no local cache, as on a fresh machine); the
// record goes to every configured region that can be written. A drill
// that could not even open the repository in its regions returns a failed
// report. Errors are for bad settings, a wrong key, a missing repository
// or an unusable scratch directory. The scheduler calls it too.
func (a *app) runDrill(ctx context.Context, d *config.Drill, o drillOverrides) (*drill.Report, error) {
	cfg, err := a.needConfig()
	if err != nil {
		return nil, err
	}
	spec := config.Drill{Snapshot: config.LatestSnapshot, Sample: 100}
	if d != nil {
		spec = *d
	}
	if o.Snapshot != "" {
		spec.Snapshot = o.Snapshot
	}
	if o.Source != "" {
		spec.Source = o.Source
	}
	if len(o.Lose) > 0 && len(o.Only) > 0 {
		return nil, usageErr("--lose and --only exclude each other")
	}
	if len(o.Lose) > 0 {
		spec.Lose, spec.Only = o.Lose, nil
	}
	if len(o.Only) > 0 {
		spec.Lose, spec.Only = nil, o.Only
	}
	if o.Sample > 0 {
		spec.Sample = config.Percent(o.Sample)
	}
	if o.Full || spec.Sample <= 0 {
		spec.Sample = 100
	}
	if o.RTO > 0 {
		spec.RTO = config.Duration(o.RTO)
	}
	if o.RPO > 0 {
		spec.RPO = config.Duration(o.RPO)
	}
	o.Ransomware = o.Ransomware || spec.Ransomware
	var names []string
	for _, rc := range cfg.RegionsByPriority() {
		names = append(names, rc.Name)
	}
	keep, err := drill.Keep(names, spec.Lose, spec.Only)
	if err != nil {
		return nil, withCode(ExitUsage, err)
	}
	opts := drill.Options{
		Snapshot: spec.Snapshot, Name: spec.Name, Host: hostname(),
		Lose: spec.Lose, Only: spec.Only, SamplePercent: float64(spec.Sample),
		Seed: o.Seed, Target: o.Target, Keep: o.Keep,
		RTO: spec.RTO.Std(), RPO: spec.RPO.Std(),
	}
	if spec.Source != "" {
		src, err := a.source(spec.Source)
		if err != nil {
			return nil, err
		}
		opts.Filter = repo.Filter{Paths: src.Paths, Tags: src.Tags, Host: src.Host}
	}
	if o.Against != "" {
		abs, err := filepath.Abs(o.Against)
		if err != nil {
			return nil, usageErr("--against: %v", err)
		}
		opts.Against = abs
	}
	id, err := a.identity(true)
	if err != nil {
		return nil, err
	}
	// The evidence goes to every configured region, including those the
	// drill pretends are lost.
	var evidence *repo.Repository
	warn := a.stderr
	all, err := a.openStorage(ctx, false)
	if err == nil {
		defer all.Close()
		evidence, err = repo.Open(ctx, all, id, repo.Options{StateDir: a.hostStateDir()})
		if err == nil {
			warn = io.Discard // the regions that are down were named once
		}
	}
	if err != nil {
		// As of a time (or of a simulated attack), the repository of
		// now may be unreadable, or not yet exist: that is the point.
		past := !o.AsOf.IsZero() || o.Ransomware
		if (!past && (errors.Is(err, repo.ErrWrongKey) || errors.Is(err, repo.ErrNoRepository))) || ctx.Err() != nil {
			return nil, err
		}
		fmt.Fprintf(a.stderr, "lifeboat: warning: the drill's record can only go to the regions it reads: %v\n", err)
	}
	sub := *cfg
	sub.Regions = nil
	for _, rc := range cfg.Regions {
		if slices.Contains(keep, rc.Name) {
			sub.Regions = append(sub.Regions, rc)
		}
	}
	sub.Repository.WriteQuorum = 0
	unavailable := func(err error) *drill.Report {
		rep := drill.Unavailable(opts, keep, err)
		if evidence != nil {
			drill.SaveReport(ctx, evidence, rep)
		}
		return rep
	}
	// Opened as a restore after the outage would open them.
	st, err := buildStorageFor(ctx, &sub, drillOpenMode(o, &opts), a.getenv, warn)
	if err != nil {
		return unavailable(err), nil
	}
	tracked := drill.Track(st)
	defer tracked.Close()
	r, err := repo.Open(ctx, tracked, id, repo.Options{})
	if err != nil {
		if errors.Is(err, repo.ErrWrongKey) || ctx.Err() != nil {
			return nil, err
		}
		return unavailable(err), nil
	}
	opts.Evidence = evidence
	return drill.Run(ctx, r, opts)
}

func (a *app) drillCommand() *cobra.Command {
	var f struct {
		snapshot, source, sample, target, rto, rpo, against, jsonFile, name string
		lose, only                                                          []string
		full, keep, ransomware                                              bool
		asOf                                                                string
		seed                                                                uint64
	}
	cmd := &cobra.Command{
		Use:   "drill [--json [FILE]]",
		Short: "Restore a snapshot as if regions were lost, verify it, and record the evidence",
		Long: `Restore a snapshot into a scratch directory (a fresh temporary one unless
--target), reading only the regions left after --lose (or only --only), as
a real restore after that outage would, with no local cache. Then re-read
every restored file from disk and verify it against the snapshot (content at
the blob boundaries, file hash, type, mode, size, mtime, symlink target).
--sample N% restores a seeded share of the bytes, picking files whose packs
were read least recently, so successive drills read every pack.

Reports the RTO (start to verified restore; for a sample also extrapolated
to the whole snapshot), the RPO (age of the snapshot), files and bytes,
throughput, reads per region, failovers and repairs. The drill fails, with
exit code 5 and the reasons printed, when a file fails verification, the
remaining regions cannot serve the data (unavailable), no snapshot matches
the selection (no-snapshot), or the RTO or RPO objective is exceeded. The
scratch directory is removed on every way out, an interrupt (SIGINT,
SIGTERM, SIGHUP) included, unless --keep. Every drill stores an encrypted record in the repository (see
"drill history" and "drill coverage"); --json FILE also writes the report
as JSON (--json alone: to standard output, instead of the summary). --name
runs a drill of the configuration; flags override its settings.

--as-of TIME drills the repository as it was then, from the object versions
of regions with versioning. --ransomware simulates an attacker holding this
host's credentials who, at the drill's start (or --as-of), removes in every
region every object version not retained by object lock (none on an
append-only host) and overwrites or deletes the rest; the drill then restores
and verifies as of before the attack from the surviving versions only, and
the report (and its record) counts, per region, the objects the attack could
destroy. A region without versioning is lost to the attack. Nothing is
changed in any region.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				// "--json FILE": the flag takes no value of its own (so
				// that the global --json before a subcommand still works).
				if f.jsonFile != "-" {
					return usageErr("unexpected argument %q", args[0])
				}
				f.jsonFile = args[0]
			}
			var d *config.Drill
			if f.name != "" {
				cfg, err := a.needConfig()
				if err != nil {
					return err
				}
				if d = cfg.Drill(f.name); d == nil {
					return usageErr("no drill %q in the configuration", f.name)
				}
			}
			o := drillOverrides{Snapshot: f.snapshot, Source: f.source, Lose: f.lose, Only: f.only, Full: f.full,
				Seed: f.seed, Target: f.target, Keep: f.keep, Against: f.against}
			if err := parseDrillAsOf(f.asOf, f.ransomware, &o); err != nil {
				return err
			}
			if f.sample != "" {
				p, err := config.ParsePercent(f.sample)
				if err != nil || p <= 0 {
					return usageErr("--sample %q: want a percentage above 0 such as 10%%, or full", f.sample)
				}
				o.Sample = float64(p)
			}
			for _, x := range []struct {
				flag, val string
				dst       *time.Duration
			}{{"--rto", f.rto, &o.RTO}, {"--rpo", f.rpo, &o.RPO}} {
				if x.val == "" {
					continue
				}
				v, err := config.ParseDuration(x.val)
				if err != nil {
					return usageErr("%s: %v", x.flag, err)
				}
				*x.dst = v.Std()
			}
			rep, err := a.runDrill(cmd.Context(), d, o)
			if err != nil {
				return err
			}
			if f.jsonFile != "" {
				if err := a.writeDrillJSON(f.jsonFile, rep); err != nil {
					return err
				}
			}
			if f.jsonFile != "-" {
				a.printDrill(rep)
			}
			if !rep.Passed {
				var why []string
				for _, r := range rep.Reasons {
					why = append(why, fmt.Sprintf("%s: %s", r.Code, r.Message))
				}
				fmt.Fprintf(a.stderr, "lifeboat: drill failed: %s\n", strings.Join(why, "; "))
				return &silentError{code: ExitDrillFailed}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.snapshot, "snapshot", "", "drill `SNAPSHOT`: latest or an ID (default: the drill's, else latest)")
	fl.StringVar(&f.source, "source", "", "drill the latest snapshot of this configured source `NAME`")
	fl.StringSliceVar(&f.lose, "lose", nil, "treat `REGION` as lost (repeatable or comma-separated)")
	fl.StringSliceVar(&f.only, "only", nil, "use only `REGION` (repeatable or comma-separated)")
	fl.StringVar(&f.sample, "sample", "", "restore and verify `N%` of the snapshot's bytes")
	fl.BoolVar(&f.full, "full", false, "restore and verify everything (the default without a drill's sample)")
	fl.Uint64Var(&f.seed, "seed", 0, "seed of the sample (default: from the time; the report names it)")
	fl.StringVar(&f.target, "target", "", "restore into `DIR` (must be empty; default: a temporary directory)")
	fl.BoolVar(&f.keep, "keep", false, "keep the restored tree (in --target or the temporary directory)")
	fl.StringVar(&f.rto, "rto", "", "recovery time objective `DURATION`, e.g. 30m")
	fl.StringVar(&f.rpo, "rpo", "", "recovery point objective `DURATION` (maximum snapshot age), e.g. 26h or 7d")
	fl.StringVar(&f.against, "against", "", "compare the live `PATH` with the snapshot and report drift")
	fl.StringVar(&f.jsonFile, "json", "", "also write the report as JSON to `FILE` (without FILE: to standard output)")
	fl.Lookup("json").NoOptDefVal = "-"
	fl.StringVar(&f.name, "name", "", "run the configured drill `NAME`")
	addDrillAsOfFlags(cmd, &f.asOf, &f.ransomware)
	cmd.AddCommand(a.drillHistoryCommand(), a.drillCoverageCommand())
	return cmd
}

func (a *app) writeDrillJSON(file string, rep *drill.Report) error {
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if file == "-" {
		_, err := a.stdout.Write(data)
		return err
	}
	if err := os.WriteFile(file, data, 0o600); err != nil {
		return fmt.Errorf("--json: %w", err)
	}
	return nil
}

func fmtDuration(d time.Duration) string {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}

func regionLabel(name string) string {
	if name == "" {
		return "(storage)"
	}
	return name
}

// printDrill prints the human summary of a drill.
func (a *app) printDrill(rep *drill.Report) {
	w := a.stdout
	if a.flags.quiet {
		w = io.Discard
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	name := rep.Name
	if name == "" {
		name = "(ad hoc)"
	}
	result := "PASSED"
	if !rep.Passed {
		result = "FAILED"
	}
	fmt.Fprintf(tw, "drill\t%s: %s\n", name, result)
	if rep.Snapshot != "" {
		fmt.Fprintf(tw, "snapshot\t%s of %s\t%s\n", rep.Snapshot[:8], rep.SnapshotTime.Local().Format("2006-01-02 15:04:05"), strings.Join(rep.Paths, " "))
	}
	regions := "read " + strings.Join(rep.Regions, ", ")
	if len(rep.Lost) > 0 {
		regions += "; lost " + strings.Join(rep.Lost, ", ")
	}
	fmt.Fprintf(tw, "regions\t%s\n", regions)
	printRansomware(tw, rep.Ransomware)
	if rep.Snapshot != "" {
		if rep.Full {
			fmt.Fprintf(tw, "sample\tfull\n")
		} else {
			fmt.Fprintf(tw, "sample\t%g%% (seed %d): %d of %d files, %s of %s\n", rep.SamplePercent, rep.Seed,
				rep.SampledFiles, rep.FilesTotal, formatBytes(rep.SampledBytes), formatBytes(rep.BytesTotal))
		}
		fmt.Fprintf(tw, "verified\t%d files (%s), %d dirs, %d symlinks, %d other; %d failed", rep.Files, formatBytes(rep.Bytes),
			rep.Dirs, rep.Symlinks, rep.Other, rep.FailureCount)
		if rep.Skipped > 0 {
			fmt.Fprintf(tw, "; %d skipped (sockets, devices without root)", rep.Skipped)
		}
		fmt.Fprintln(tw)
		rto := fmt.Sprintf("%s (restore %s, verify %s), %s/s", fmtDuration(rep.RTO), fmtDuration(rep.RestoreTime),
			fmtDuration(rep.VerifyTime), formatBytes(int64(rep.Throughput)))
		if rep.RTOObjective > 0 {
			rto += "; objective " + config.Duration(rep.RTOObjective).String()
		}
		fmt.Fprintf(tw, "RTO\t%s\n", rto)
		if !rep.Full {
			fmt.Fprintf(tw, "\textrapolated to the whole snapshot (by bytes): %s\n", fmtDuration(rep.RTOExtrapolated))
		}
		rpo := fmtDuration(rep.RPO)
		if rep.RPOObjective > 0 {
			rpo += "; objective " + config.Duration(rep.RPOObjective).String()
		}
		fmt.Fprintf(tw, "RPO\t%s\n", rpo)
	}
	var reads []string
	for _, region := range rep.Regions {
		rr := rep.Reads[region]
		if rr == nil {
			reads = append(reads, regionLabel(region)+" nothing")
			continue
		}
		s := fmt.Sprintf("%s %d objects %s", regionLabel(region), rr.Objects, formatBytes(rr.Bytes))
		if rr.Errors > 0 {
			s += fmt.Sprintf(" (%d errors)", rr.Errors)
		}
		reads = append(reads, s)
	}
	fmt.Fprintf(tw, "reads\t%s\n", strings.Join(reads, "; "))
	fmt.Fprintf(tw, "failovers\t%d, repairs %d\n", len(rep.Failovers), len(rep.Repairs))
	if rep.PacksRead != nil {
		var cov []string
		for _, region := range rep.Regions {
			cov = append(cov, fmt.Sprintf("%s %d/%d packs", regionLabel(region), rep.PacksRead[region], rep.PacksTotal))
		}
		fmt.Fprintf(tw, "coverage\t%s\n", strings.Join(cov, "; "))
	}
	if dr := rep.Drift; dr != nil {
		if dr.Error != "" {
			fmt.Fprintf(tw, "drift\t%s: %s\n", dr.Path, dr.Error)
		} else {
			fmt.Fprintf(tw, "drift\t%s: %d changed, %d new, %d deleted since the snapshot\n", dr.Path, dr.ChangedCount, dr.NewCount, dr.DeletedCount)
		}
		const show = 10
		for i, c := range dr.Changed {
			if i == show {
				break
			}
			fmt.Fprintf(tw, "\tchanged %s (%s)\n", c.Path, c.Change)
		}
		for i, p := range dr.New {
			if i == show {
				break
			}
			fmt.Fprintf(tw, "\tnew %s\n", p)
		}
		for i, p := range dr.Deleted {
			if i == show {
				break
			}
			fmt.Fprintf(tw, "\tdeleted %s\n", p)
		}
	}
	switch {
	case rep.Record != "" && rep.RecordError == "":
		fmt.Fprintf(tw, "record\t%s\n", rep.Record)
	case rep.Record != "":
		fmt.Fprintf(tw, "record\t%s (not in every region: %s)\n", rep.Record, rep.RecordError)
	case rep.RecordError != "":
		fmt.Fprintf(tw, "record\tnot stored: %s\n", rep.RecordError)
	}
	if rep.Kept {
		fmt.Fprintf(tw, "target\t%s (kept)\n", rep.Target)
	}
	tw.Flush()
	for _, wmsg := range rep.Warnings {
		fmt.Fprintf(a.stderr, "warning: %s\n", wmsg)
	}
	for _, f := range rep.Failures {
		msg := fmt.Sprintf("error: %s: %s", f.Path, f.Error)
		if f.Path == "" {
			msg = "error: " + f.Error
		}
		if len(f.Regions) > 0 {
			msg += " (region " + strings.Join(f.Regions, ", ") + ")"
		}
		fmt.Fprintln(a.stderr, msg)
	}
	if n := rep.FailureCount - int64(len(rep.Failures)); n > 0 {
		fmt.Fprintf(a.stderr, "error: … and %d more\n", n)
	}
}

// openEvidence opens the repository on every configured region, without
// its index unless withIndex.
func (a *app) openEvidence(ctx context.Context, withIndex bool) (*repo.Repository, error) {
	if withIndex {
		return a.openRepo(ctx)
	}
	return a.openRepoOnly(ctx)
}

// historyRow is one line of `drill history`.
type historyRow struct {
	Time            time.Time      `json:"time"`
	Record          string         `json:"record"`
	Name            string         `json:"name,omitempty"`
	Host            string         `json:"host,omitempty"`
	Snapshot        string         `json:"snapshot,omitempty"`
	Regions         []string       `json:"regions"`
	Lost            []string       `json:"lost,omitempty"`
	Only            []string       `json:"only,omitempty"`
	Passed          bool           `json:"passed"`
	Reasons         []drill.Reason `json:"reasons,omitempty"`
	RTO             time.Duration  `json:"rto_ns"`
	RTOExtrapolated time.Duration  `json:"rto_extrapolated_ns,omitempty"`
	RPO             time.Duration  `json:"rpo_ns"`
	Full            bool           `json:"full"`
	SamplePercent   float64        `json:"sample_percent"`
	Files           int64          `json:"files"`
	Bytes           int64          `json:"bytes"`
	PacksRead       map[string]int `json:"packs_read,omitempty"`
	PacksTotal      int            `json:"packs_total"`
}

func (a *app) drillHistoryCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "history",
		Short: "List past drills: time, snapshot, regions lost, result, RTO, RPO, coverage",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			r, err := a.openEvidence(ctx, false)
			if err != nil {
				return err
			}
			recs, bad, err := drill.LoadRecords(ctx, r)
			if err != nil {
				return err
			}
			for _, e := range bad {
				fmt.Fprintf(a.stderr, "warning: %v\n", e)
			}
			rows := []historyRow{}
			for _, rec := range drill.History(recs) {
				d := rec.Drill
				rows = append(rows, historyRow{Time: rec.Time, Record: rec.ID.String(), Name: d.Name, Host: d.Host,
					Snapshot: d.Snapshot, Regions: d.Regions, Lost: d.Lost, Only: d.Only, Passed: d.Passed, Reasons: d.Reasons,
					RTO: d.RTO, RTOExtrapolated: d.RTOExtrapolated, RPO: d.RPO, Full: d.Full, SamplePercent: d.SamplePercent,
					Files: d.Files, Bytes: d.Bytes, PacksRead: d.PacksRead, PacksTotal: d.PacksTotal})
			}
			if a.flags.json {
				return a.printJSON(rows)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tNAME\tSNAPSHOT\tLOST\tRESULT\tRTO\tRPO\tSAMPLE\tCOVERAGE")
			for _, h := range rows {
				snap, lost, result := "-", "-", "passed"
				if len(h.Snapshot) >= 8 {
					snap = h.Snapshot[:8]
				}
				if len(h.Lost) > 0 {
					lost = strings.Join(h.Lost, ",")
				} else if len(h.Only) > 0 {
					lost = "all but " + strings.Join(h.Only, ",")
				}
				if !h.Passed {
					var codes []string
					for _, r := range h.Reasons {
						codes = append(codes, string(r.Code))
					}
					result = "FAILED (" + strings.Join(codes, ",") + ")"
				}
				rto := fmtDuration(h.RTO)
				sample := "full"
				if !h.Full {
					sample = fmt.Sprintf("%g%%", h.SamplePercent)
					rto += " (~" + fmtDuration(h.RTOExtrapolated) + " all)"
				}
				rpo := "-"
				if h.Snapshot != "" {
					rpo = fmtDuration(h.RPO)
				}
				var cov []string
				for _, region := range sortedRegions(h.PacksRead) {
					cov = append(cov, fmt.Sprintf("%s %d/%d", regionLabel(region), h.PacksRead[region], h.PacksTotal))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.Time.Local().Format("2006-01-02 15:04:05"), h.Name, snap, lost,
					result, rto, rpo, sample, strings.Join(cov, " "))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			a.printf("%d drills\n", len(rows))
			return nil
		},
	}
}

func sortedRegions(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (a *app) drillCoverageCommand() *cobra.Command {
	var days float64
	cmd := &cobra.Command{
		Use:   "coverage",
		Short: "Show the share of packs per region read by drills and checks within the last N days",
		Long: `For every configured region, the share of the repository's packs that a drill
or a data check (check --read-data, --read-data-subset) read from that
region, and verified, within the last --days days. Sampled drills prefer the
packs read least recently, so repeated drills bring this to 100%.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if days <= 0 {
				return usageErr("--days must be positive")
			}
			ctx := cmd.Context()
			cfg, err := a.needConfig()
			if err != nil {
				return err
			}
			r, err := a.openEvidence(ctx, true)
			if err != nil {
				return err
			}
			recs, bad, err := drill.LoadRecords(ctx, r)
			if err != nil {
				return err
			}
			for _, e := range bad {
				fmt.Fprintf(a.stderr, "warning: %v\n", e)
			}
			var packs []format.ID
			for _, p := range r.Index().Packs() {
				packs = append(packs, p.ID)
			}
			var names []string
			for _, rc := range cfg.Regions {
				names = append(names, rc.Name)
			}
			since := time.Now().Add(-time.Duration(days * float64(24*time.Hour)))
			cov := drill.Coverage(recs, packs, names, since)
			if a.flags.json {
				return a.printJSON(map[string]any{"days": days, "since": since.UTC(), "regions": cov})
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "REGION\tREAD\tPACKS\tSHARE")
			for _, c := range cov {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f%%\n", c.Region, c.Read, c.Packs, 100*c.Share)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			a.printf("packs read and verified by drills and checks in the last %g days\n", days)
			return nil
		},
	}
	cmd.Flags().Float64Var(&days, "days", 30, "look back `N` days")
	return cmd
}
