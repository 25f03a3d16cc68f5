package main

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"lifeboat/engine/backup"
	"lifeboat/engine/repo"
	"lifeboat/engine/restore"
)

func (a *app) restoreCommand() *cobra.Command {
	var o struct {
		target, overwrite, host string
		includes, excludes      []string
		tags, paths             []string
		delete                  bool
		noXattrs, noFlags       bool
	}
	cmd := &cobra.Command{
		Use:   "restore SNAPSHOT|latest --target DIR",
		Short: "Restore a snapshot, verifying every file before it gets its real name",
		Long: `Restore a snapshot into --target. Every file is written as a temporary
file, its content verified against the snapshot, then given its real name; a
file that fails verification is removed and reported (exit code 4). Paths are
restored below the target as they were in the snapshot (e.g. DIR/home/user/…).

Restore replaces only what the snapshot has: an entry of the target whose type
differs from the snapshot's (a directory where the snapshot has a file, …) is
a conflict, reported and left as it is (exit code 3). --delete makes the target
identical to the snapshot instead: it removes such entries, and every entry of
a restored directory that the snapshot does not have (only within --include,
never what --exclude matches), and lists what it removed.

Extended attributes (user.*, POSIX ACLs, file capabilities in security.*,
trusted.*) are restored after each file's content and owner; inode flags
(chattr's immutable, append-only, no-dump, …) last of all. An attribute or flag
the target's file system does not support, or this process may not set (most
but user.* and ACLs need root), is reported by name and the restore is partial
(exit code 3). --no-xattrs and --no-flags leave them out. A file that is
immutable or append-only in the target is a conflict (chattr -i to replace it).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if o.target == "" {
				return usageErr("restore needs --target DIR")
			}
			mode, err := restore.ParseOverwrite(o.overwrite)
			if err != nil {
				return usageErr("%v", err)
			}
			var include, exclude restore.Selector
			if len(o.includes) > 0 {
				m, err := backup.NewMatcher(o.includes)
				if err != nil {
					return usageErr("%v", err)
				}
				include = m
			}
			if len(o.excludes) > 0 {
				m, err := backup.NewMatcher(o.excludes)
				if err != nil {
					return usageErr("%v", err)
				}
				exclude = m
			}
			a.readOnlyOpen = true
			r, err := a.openRepo(ctx)
			if err != nil {
				return err
			}
			snap, err := r.FindSnapshot(ctx, args[0], repo.Filter{Host: o.host, Tags: o.tags, Paths: o.paths})
			if err != nil {
				return err
			}
			prog := &restore.Progress{}
			rep := a.startReporter("restore", func() status {
				return status{Files: prog.FilesDone.Load(), Bytes: prog.BytesDone.Load(), Errors: prog.Errors.Load()}
			})
			if s := snap.Summary; s != nil {
				rep.setTotals(s.TotalFiles, s.TotalBytes)
			}
			integrity := false
			var failures, deleted []string
			var failMu sync.Mutex
			res, err := restore.Run(ctx, r, snap.Snapshot, restore.Options{
				Target: o.target, Include: include, Exclude: exclude, Overwrite: mode, Progress: prog,
				Delete: o.delete, NoXattrs: o.noXattrs, NoFlags: o.noFlags,
				OnDelete: func(p string, dir bool) {
					failMu.Lock()
					defer failMu.Unlock()
					if len(deleted) < 1000 {
						p = filepath.Join(o.target, filepath.FromSlash(p))
						if dir {
							p += string(filepath.Separator)
						}
						deleted = append(deleted, p)
					}
				},
				OnError: func(p string, err error) {
					failMu.Lock()
					defer failMu.Unlock()
					var ie *repo.IntegrityError
					if errors.As(err, &ie) || errors.Is(err, restore.ErrVerify) {
						integrity = true
					}
					msg := fmt.Sprintf("%s: %v", p, err)
					if len(failures) < 1000 {
						failures = append(failures, msg)
					}
					rep.warn(msg)
				},
			})
			rep.stop()
			if err != nil {
				return err
			}
			reads := r.ReadStats()
			if a.flags.json {
				if err := a.printJSON(map[string]any{
					"message_type": "summary", "snapshot_id": snap.ID.String(), "target": o.target,
					"files_restored": res.Files, "files_skipped": res.Skipped, "dirs": res.Dirs,
					"hard_links": res.Links, "bytes_restored": res.Bytes, "errors": res.Errors, "failures": failures,
					"xattr_errors": res.XattrErrors,
					"conflicts":    res.Conflicts, "entries_deleted": res.Deleted, "deleted": deleted,
					"regions": reads.Regions, "failovers": reads.Failovers, "repairs": reads.Repairs,
				}); err != nil {
					return err
				}
			} else {
				for _, p := range deleted {
					a.printf("deleted %s\n", p)
				}
				if n := res.Deleted - int64(len(deleted)); n > 0 {
					a.printf("deleted %d more entries\n", n)
				}
				a.printf("restored snapshot %s to %s: %d files (%s), %d dirs, %d skipped",
					snap.ID.Short(), o.target, res.Files, formatBytes(res.Bytes), res.Dirs, res.Skipped)
				if o.delete {
					a.printf(", %d deleted", res.Deleted)
				}
				a.printf("\n")
				a.printReads(reads)
			}
			if res.Conflicts > 0 {
				fmt.Fprintf(a.stderr, "error: %d entries conflict with an entry of another type in the target and were skipped (--delete replaces them)\n", res.Conflicts)
			}
			if n := res.Errors - res.XattrErrors; n > 0 {
				fmt.Fprintf(a.stderr, "error: %d entries could not be restored\n", n)
			}
			if res.XattrErrors > 0 {
				fmt.Fprintf(a.stderr, "error: %d failures to set extended attributes or inode flags of restored entries (--no-xattrs, --no-flags leave them out)\n", res.XattrErrors)
			}
			switch {
			case integrity:
				return &silentError{code: ExitIntegrity}
			case res.Errors > 0 || res.Conflicts > 0:
				return &silentError{code: ExitPartial}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.target, "target", "t", "", "restore into `DIR` (created if missing)")
	f.StringArrayVarP(&o.includes, "include", "i", nil, "restore only paths matching `PATTERN` (repeatable)")
	f.StringArrayVarP(&o.excludes, "exclude", "e", nil, "do not restore paths matching `PATTERN` (repeatable)")
	f.StringVar(&o.overwrite, "overwrite", "always", "existing files: always, if-changed (keep files whose content already matches) or never")
	f.BoolVar(&o.delete, "delete", false, "make the target identical to the snapshot: remove entries of another type in the way and entries the snapshot does not have (within --include, not --exclude)")
	f.BoolVar(&o.noXattrs, "no-xattrs", false, "do not restore extended attributes (ACLs and file capabilities included)")
	f.BoolVar(&o.noFlags, "no-flags", false, "do not restore inode flags (immutable, append-only, no-dump, …)")
	f.StringVar(&o.host, "host", "", "with latest: only snapshots of this host")
	f.StringArrayVar(&o.tags, "tag", nil, "with latest: only snapshots with this tag")
	f.StringArrayVar(&o.paths, "path", nil, "with latest: only snapshots of exactly these paths")
	a.addAsOfFlag(cmd)
	return cmd
}

// cleanSnapPath normalizes a user-given path inside a snapshot.
func cleanSnapPath(p string) string {
	if p == "" {
		return "/"
	}
	return path.Clean("/" + strings.TrimPrefix(p, "/"))
}

// printReads tells which regions served a read and what failed over.
func (a *app) printReads(reads repo.ReadStats) {
	if len(reads.Regions) > 1 || len(reads.Failovers) > 0 {
		names := make([]string, 0, len(reads.Regions))
		for n := range reads.Regions {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			rr := reads.Regions[n]
			a.printf("  region %s: served %d objects (%s), %d errors\n", n, rr.Objects, formatBytes(rr.Bytes), rr.Errors)
		}
	}
	for _, f := range reads.Failovers {
		served := f.Served
		if served == "" {
			served = "no region"
		}
		fmt.Fprintf(a.stderr, "failover: %s from region %s (%s), served by %s\n", f.Object, f.Region, f.Reason, served)
	}
	for _, rp := range reads.Repairs {
		if rp.Err != "" {
			fmt.Fprintf(a.stderr, "repair of %s in region %s failed: %s\n", rp.Object, rp.Region, rp.Err)
		} else {
			a.printf("  repaired %s in region %s from %s\n", rp.Object, rp.Region, rp.From)
		}
	}
}
