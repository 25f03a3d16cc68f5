package main

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/cmd/lifeboat/internal/config"
	"lifeboat/engine/check"
	"lifeboat/engine/format"
	"lifeboat/engine/fsmeta"
	"lifeboat/engine/repo"
	"lifeboat/engine/syncer"
	"lifeboat/storage/regions"
)

func (a *app) snapshotsCommand() *cobra.Command {
	var host string
	var tags []string
	cmd := &cobra.Command{
		Use:   "snapshots",
		Short: "List snapshots",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.readOnlyOpen = true
			r, err := a.openRepoOnly(cmd.Context()) // listing needs no index
			if err != nil {
				return err
			}
			refs, err := r.Snapshots(cmd.Context())
			if err != nil {
				return err
			}
			f := repo.Filter{Host: host, Tags: tags}
			type row struct {
				ID       string          `json:"id"`
				ShortID  string          `json:"short_id"`
				Time     time.Time       `json:"time"`
				Host     string          `json:"host"`
				Username string          `json:"username,omitempty"`
				Paths    []string        `json:"paths"`
				Tags     []string        `json:"tags,omitempty"`
				Parent   string          `json:"parent,omitempty"`
				Tree     string          `json:"tree"`
				Summary  *format.Summary `json:"summary,omitempty"`
			}
			rows := []row{}
			for _, s := range refs {
				if !f.Match(s.Snapshot) {
					continue
				}
				rw := row{ID: s.ID.String(), ShortID: s.ID.Short(), Time: s.Time, Host: s.Host, Username: s.Username,
					Paths: s.Paths, Tags: s.Tags, Tree: s.Tree.String(), Summary: s.Summary}
				if s.Parent != nil {
					rw.Parent = s.Parent.String()
				}
				rows = append(rows, rw)
			}
			if a.flags.json {
				return a.printJSON(rows)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTIME\tHOST\tTAGS\tFILES\tSIZE\tPATHS")
			for _, s := range rows {
				files, size := "", ""
				if s.Summary != nil {
					files = fmt.Sprint(s.Summary.TotalFiles)
					size = formatBytes(s.Summary.TotalBytes)
					if s.Summary.Partial {
						files += " (partial)"
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ShortID, s.Time.Local().Format("2006-01-02 15:04:05"), s.Host,
					strings.Join(s.Tags, ","), files, size, strings.Join(s.Paths, " "))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			a.printf("%d snapshots\n", len(rows))
			return nil
		},
	}
	cmd.Flags().StringVar(&host, "host", "", "only snapshots of this host")
	cmd.Flags().StringArrayVar(&tags, "tag", nil, "only snapshots with this tag (repeatable)")
	a.addAsOfFlag(cmd)
	return cmd
}

func (a *app) lsCommand() *cobra.Command {
	var long, xattrs bool
	cmd := &cobra.Command{
		Use:   "ls SNAPSHOT|latest [PATH]",
		Short: "List the files in a snapshot",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			a.readOnlyOpen = true
			r, err := a.openRepo(ctx)
			if err != nil {
				return err
			}
			snap, err := r.FindSnapshot(ctx, args[0], repo.Filter{})
			if err != nil {
				return err
			}
			prefix := "/"
			if len(args) == 2 {
				prefix = cleanSnapPath(args[1])
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 1, ' ', 0)
			err = walkTree(ctx, r, snap.Tree, "/", func(p string, n *format.Node) error {
				if p != prefix && !strings.HasPrefix(p, strings.TrimSuffix(prefix, "/")+"/") {
					return nil
				}
				if a.flags.json {
					out := map[string]any{"path": p, "type": n.Type, "mode": fmt.Sprintf("%04o", n.Mode),
						"size": n.Size, "mtime": n.MTime, "uid": n.UID, "gid": n.GID, "link_target": n.LinkTarget}
					if len(n.Xattrs) > 0 {
						xs := make([]map[string]any, len(n.Xattrs))
						for i, x := range n.Xattrs {
							xs[i] = map[string]any{"name": x.Name, "size": len(x.Value)}
						}
						out["xattrs"] = xs
					}
					if n.Flags != 0 {
						out["flags"] = fsmeta.FlagString(n.Flags)
					}
					return a.printJSON(out)
				}
				if !long && !xattrs {
					fmt.Fprintln(a.stdout, p)
					return nil
				}
				target := ""
				if n.Type == format.TypeSymlink {
					target = " -> " + n.LinkTarget
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s%s\n", modeString(n), ownerName(n.User, n.UID), ownerName(n.Group, n.GID),
					n.Size, n.MTime.Local().Format("2006-01-02 15:04:05"), p, target)
				if xattrs {
					// Lines without cells: the columns are aligned
					// between them.
					for _, x := range n.Xattrs {
						fmt.Fprintf(tw, "    xattr %s (%d bytes)\n", x.Name, len(x.Value))
					}
					if n.Flags != 0 {
						fmt.Fprintf(tw, "    flags %s\n", fsmeta.FlagString(n.Flags))
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVarP(&long, "long", "l", false, "long listing (mode, owner, size, mtime)")
	cmd.Flags().BoolVar(&xattrs, "xattrs", false, "long listing with each entry's extended attributes (name and size) and inode flags below it")
	a.addAsOfFlag(cmd)
	return cmd
}

func ownerName(name string, id uint32) string {
	if name != "" {
		return name
	}
	return fmt.Sprint(id)
}

// modeString is the mode as ls -l prints it: the type (- d l p s b c),
// then rwx for owner, group and others, with setuid, setgid and sticky as
// s/S and t/T.
func modeString(n *format.Node) string {
	b := []byte("-rwxrwxrwx")
	switch n.Type {
	case format.TypeDir:
		b[0] = 'd'
	case format.TypeSymlink:
		b[0] = 'l'
	case format.TypeFIFO:
		b[0] = 'p'
	case format.TypeSocket:
		b[0] = 's'
	case format.TypeDev:
		b[0] = 'b'
	case format.TypeCharDev:
		b[0] = 'c'
	}
	for i := 0; i < 9; i++ {
		if n.Mode&(1<<(8-i)) == 0 {
			b[1+i] = '-'
		}
	}
	for _, s := range []struct {
		bit uint32
		pos int
		c   byte
	}{{0o4000, 3, 's'}, {0o2000, 6, 's'}, {0o1000, 9, 't'}} {
		if n.Mode&s.bit != 0 {
			if b[s.pos] == '-' {
				b[s.pos] = s.c - 'a' + 'A'
			} else {
				b[s.pos] = s.c
			}
		}
	}
	return string(b)
}

// walkTree calls fn for every node below tree id, depth first, in order.
func walkTree(ctx context.Context, r *repo.Repository, id format.ID, dir string, fn func(p string, n *format.Node) error) error {
	t, err := r.LoadTree(ctx, id)
	if err != nil {
		return err
	}
	for i := range t.Nodes {
		n := &t.Nodes[i]
		p := path.Join(dir, n.Name)
		if err := fn(p, n); err != nil {
			return err
		}
		if n.Type == format.TypeDir {
			if err := walkTree(ctx, r, *n.Subtree, p, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *app) checkCommand() *cobra.Command {
	var readData bool
	var subset string
	var seed uint64
	var regionNames []string
	var lockWait time.Duration
	var noLock bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Verify the repository's structure and, optionally, its data",
		Long: `Verify the repository. Without flags: every indexed pack exists with the right
size, every snapshot and tree decodes, every referenced blob is indexed, and
every file's blob list matches its hash. --read-data also downloads every
region's copy of every pack and verifies its hash, authentication, trailer
and every blob; --region NAME (repeatable) reads only those regions' copies.
--read-data-subset N% does that for N% of the packs: those read least
recently in the regions read by earlier checks and drills (each run stores
what it read, per region), so successive runs read every pack.
Any problem is named, with the region of a bad or missing copy, followed by
how to repair it (lifeboat sync --bad NAME, or lifeboat sync --verify), and
the exit code is 4.
Like the daemon's jobs, it holds the repository lock: while another host
holds it, it waits up to --lock-wait, then fails naming the holder. The lock
needs a majority of the regions; --no-lock checks without it (for example the
one region left of two), at the risk of reporting objects that a concurrent
prune removes as missing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := check.Options{ReadData: readData, Seed: seed}
			if subset != "" {
				pc, err := config.ParsePercent(subset)
				p := float64(pc)
				if err != nil {
					return usageErr("--read-data-subset: %v", err)
				}
				opts.SubsetPercent = p
				if p >= 100 {
					opts.ReadData = true
				}
			}
			if len(regionNames) > 0 {
				if !opts.ReadData && opts.SubsetPercent <= 0 {
					return usageErr("--region needs --read-data or --read-data-subset")
				}
				cfg, err := a.needConfig()
				if err != nil {
					return err
				}
				var have []string
				for _, rc := range cfg.Regions {
					have = append(have, rc.Name)
				}
				for _, n := range regionNames {
					if !slices.Contains(have, n) {
						return usageErr("--region %s: no such region (have %s)", n, strings.Join(have, ", "))
					}
				}
				opts.Regions = regionNames
			}
			if seed == 0 {
				opts.Seed = uint64(time.Now().UnixNano())
			}
			ctx := cmd.Context()
			st, err := a.openStorage(ctx, false)
			if err != nil {
				return err
			}
			id, err := a.identity(true)
			if err != nil {
				return err
			}
			// A wrong key (or no repository) must leave the storage
			// untouched: find out before taking the lock.
			r, err := repo.Open(ctx, st, id, repo.Options{CacheDir: a.cacheDir(), StateDir: a.hostStateDir()})
			if err != nil {
				return err
			}
			held := noLockHeld(ctx)
			if !noLock && a.flags.asOf == "" {
				if held, err = a.takeRepoLock(ctx, st, lockWait); err != nil {
					return err
				}
				defer held.release()
			}
			ctx = held.ctx
			type problemJSON struct {
				Region string `json:"region,omitempty"`
				Object string `json:"object"`
				Blob   string `json:"blob,omitempty"`
				Path   string `json:"path,omitempty"`
				Error  string `json:"error"`
			}
			var problems, warnings []string
			var details []problemJSON
			other := 0
			opts.OnWarning = func(p check.Problem) {
				warnings = append(warnings, p.String())
				if !a.flags.json {
					fmt.Fprintf(a.stderr, "warning: %s\n", p)
				}
			}
			opts.OnProblem = func(p check.Problem) {
				problems = append(problems, p.String())
				d := problemJSON{Region: p.Region, Object: p.Object, Path: p.Path, Error: p.Err.Error()}
				if !p.Blob.IsZero() {
					d.Blob = p.Blob.String()
				}
				details = append(details, d)
				if p.Region == "" {
					other++
				}
				if !a.flags.json {
					fmt.Fprintf(a.stderr, "error: %s\n", p)
				}
			}
			res, err := checkRepo(ctx, r, hostname(), opts, func(err error) {
				fmt.Fprintf(a.stderr, "lifeboat: warning: coverage records: %v\n", err)
			})
			if errors.Is(err, check.ErrUnknownRegion) {
				return withCode(ExitUsage, err)
			}
			err = held.lost(err)
			if res == nil {
				return err
			}
			if set, ok := st.(*regions.Set); ok {
				// Regions sync refuses until re-seeded (a warning: no
				// data is damaged).
				if stale, serr := syncer.Stale(ctx, set, 0); serr == nil {
					for _, sr := range stale {
						w := fmt.Sprintf("region %s must be re-seeded: %s; run lifeboat sync --reseed %s", sr.Region, sr.Reason, sr.Region)
						warnings = append(warnings, w)
						if !a.flags.json {
							fmt.Fprintf(a.stderr, "warning: %s\n", w)
						}
					}
				}
			}
			var advice []string
			if errors.Is(err, check.ErrProblems) {
				advice = repairAdvice(res, other)
			}
			if a.flags.json {
				if jerr := a.printJSON(map[string]any{"snapshots": res.Snapshots, "trees": res.Trees, "packs": res.Packs,
					"packs_read": res.PacksRead, "blobs_checked": res.Blobs, "bytes_read": res.BytesRead,
					"unindexed_packs": res.UnindexedPacks, "warnings": warnings, "regions_read": res.Regions, "problems": problems,
					"problem_details": details, "bad_copies": res.BadCopies, "no_good_copy": res.NoGoodCopy,
					"repair": advice}); jerr != nil {
					return jerr
				}
			} else {
				a.printf("checked %d snapshots, %d trees, %d packs", res.Snapshots, res.Trees, res.Packs)
				if res.PacksRead > 0 {
					a.printf("; read %d pack copies (%s) in %s, %d blobs", res.PacksRead, formatBytes(res.BytesRead),
						regionList(res.Regions), res.Blobs)
				}
				a.printf("\n")
				if res.UnindexedPacks > 0 {
					a.printf("%d packs are not indexed (left by an interrupted or running backup; the next backup adopts them)\n", res.UnindexedPacks)
				}
			}
			if errors.Is(err, check.ErrProblems) {
				if !a.flags.json {
					fmt.Fprintf(a.stderr, "check found %d problems\n", len(problems))
					for _, l := range advice {
						fmt.Fprintln(a.stderr, l)
					}
				}
				return &silentError{code: checkExitCode(res, other)}
			}
			if err != nil {
				return err
			}
			if !a.flags.json { // the JSON object is the whole output
				a.printf("no problems found\n")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&readData, "read-data", false, "read and verify all data, every region's copy")
	f.StringVar(&subset, "read-data-subset", "", "read and verify `N%` of the packs (those read least recently), every region's copy")
	f.StringArrayVar(&regionNames, "region", nil, "read only this region's copies (`NAME`, repeatable; with --read-data or --read-data-subset)")
	f.Uint64Var(&seed, "seed", 0, "random seed for --read-data-subset (default: time)")
	lockWaitFlag(cmd, &lockWait)
	f.BoolVar(&noLock, "no-lock", false, "check without taking the repository lock")
	a.addAsOfFlag(cmd) // reads the past: no lock, nothing repaired
	return cmd
}

// regionList names the regions read, for a summary line.
func regionList(names []string) string {
	switch {
	case len(names) == 0 || (len(names) == 1 && names[0] == ""):
		return "the repository"
	case len(names) == 1:
		return "region " + names[0]
	}
	return "regions " + strings.Join(names, ", ")
}
