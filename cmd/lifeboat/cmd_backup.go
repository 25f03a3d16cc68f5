package main

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/engine/backup"
	"lifeboat/engine/repo"
)

func (a *app) backupCommand() *cobra.Command {
	var o struct {
		excludes, excludeFiles, tags []string
		oneFS, force, noXattrs       bool
		host, parent, source         string
	}
	cmd := &cobra.Command{
		Use:   "backup PATH... | backup --source NAME",
		Short: "Back up files and directories into a new snapshot",
		Long: `Back up files and directories into a new snapshot. Unchanged files (same size,
mtime, ctime and inode as in the parent snapshot: the latest with the same host
and paths) are not read again. Files that cannot be read are reported and
skipped; the snapshot is then marked partial and the exit code is 3.

Extended attributes (user.*; POSIX ACLs, file capabilities and the other
security.*, trusted.* and system.* attributes this process may read) and inode
flags (chattr's immutable, append-only, no-dump, …) are stored with each file,
directory and symlink; privileged attributes this process may not read are
left out with one warning. --no-xattrs leaves out the extended attributes.

--source NAME backs up a source of the configuration now, exactly as the
daemon's scheduled backup of it would: its paths, excludes, exclude file,
one_file_system, tags and host (no PATH, --exclude, --exclude-file, -x,
--tag or --host with it).

When fewer regions open than repository.write_quorum needs, the backup fails
before uploading anything, naming each region's cause (exit 2 when a region is
misconfigured, 1 when it is down).`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var spec *backupSpec
			var err error
			if o.source != "" {
				spec, err = a.sourceBackupSpec(cmd, o.source, args)
			} else {
				if len(args) == 0 {
					return usageErr("give the PATHs to back up, or --source NAME to back up a source of the configuration")
				}
				spec, err = newBackupSpec(args, o.excludes, o.excludeFiles, o.oneFS, o.tags, o.host)
			}
			if err != nil {
				return err
			}
			r, err := a.openRepo(ctx)
			if err != nil {
				return err
			}
			// With too few regions open for the write quorum, fail now,
			// naming each region's cause, rather than upload packs that
			// no snapshot will name.
			if err := requireWriteQuorum(r.Storage()); err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			parent, err := spec.findParent(ctx, r, o.parent, o.force)
			if err != nil {
				return err
			}
			prog := &backup.Progress{}
			var warnings []string
			var warnMu sync.Mutex
			rep := a.startReporter("backup", func() status {
				return status{Files: prog.FilesDone.Load(), Bytes: prog.BytesDone.Load(), Errors: prog.Errors.Load(), Current: prog.CurrentFile()}
			})
			total := scanTotals(spec.paths, spec.exclude, rep)
			defer total.stop()
			opts := spec.options(parent, prog, func(path string, err error) {
				msg := fmt.Sprintf("%s: %v", path, err)
				warnMu.Lock()
				if len(warnings) < 1000 {
					warnings = append(warnings, msg)
				}
				warnMu.Unlock()
				rep.warn(msg)
			})
			opts.OnNotice = func(err error) { rep.warn(err.Error()) }
			opts.NoXattrs = o.noXattrs
			res, err := backup.Run(ctx, r, opts)
			rep.stop()
			if err != nil {
				return err
			}
			behind := regionsBehind(r.Storage(), res.ID)
			s := res.Snapshot.Summary
			if a.flags.json {
				return a.finishBackupJSON(res, parent, warnings, behind)
			}
			if parent != nil {
				a.printf("using parent snapshot %s\n", parent.ID.Short())
			}
			a.printf("Files: %d new, %d changed, %d unmodified\n", s.FilesNew, s.FilesChanged, s.FilesUnchanged)
			a.printf("Dirs:  %d\n", s.Dirs)
			a.printf("Added to the repository: %s (%s stored, %d packs)\n", formatBytes(s.BytesAdded), formatBytes(s.BytesStored), s.PacksAdded)
			if n := len(res.Adopted.Adopted); n > 0 {
				a.printf("Adopted %d packs an interrupted backup left unindexed\n", n)
			}
			a.printf("processed %d files, %s in %s\n", s.TotalFiles, formatBytes(s.TotalBytes), s.End.Sub(s.Start).Round(time.Millisecond))
			fmt.Fprintf(a.stdout, "snapshot %s saved\n", res.ID.Short())
			a.warnBehind(r.Storage(), behind)
			if res.Warnings > 0 {
				fmt.Fprintf(a.stderr, "warning: %d files or directories could not be read; the snapshot is partial\n", res.Warnings)
				return &silentError{code: ExitPartial}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.excludes, "exclude", "e", nil, "exclude `PATTERN` (repeatable; * ? [..] within a name, ** across)")
	f.StringArrayVar(&o.excludeFiles, "exclude-file", nil, "read exclude patterns from `FILE` (repeatable)")
	f.BoolVarP(&o.oneFS, "one-file-system", "x", false, "do not cross file system boundaries")
	f.StringArrayVar(&o.tags, "tag", nil, "add a `TAG` to the snapshot (repeatable)")
	f.StringVar(&o.host, "host", "", "record this host name (default: this machine's)")
	f.StringVar(&o.parent, "parent", "", "use this snapshot as the parent instead of the latest")
	f.BoolVar(&o.force, "force", false, "read every file, ignoring any parent snapshot")
	f.BoolVar(&o.noXattrs, "no-xattrs", false, "do not back up extended attributes (ACLs and file capabilities included)")
	f.StringVar(&o.source, "source", "", "back up the configured source `NAME` (its paths, excludes, tags and host)")
	return cmd
}

// sourceBackupSpec returns the spec of `backup --source name`: the
// configured source's, as the daemon builds it (sourceSpec). Paths and the
// flags that say what to back up are usage errors with it.
func (a *app) sourceBackupSpec(cmd *cobra.Command, name string, args []string) (*backupSpec, error) {
	if len(args) > 0 {
		return nil, usageErr("--source %s backs up the paths of the configured source; give no PATH with it", name)
	}
	for _, fl := range []string{"exclude", "exclude-file", "one-file-system", "tag", "host"} {
		if cmd.Flags().Changed(fl) {
			return nil, usageErr("--source %s takes its settings from the configuration; --%s cannot be given with it", name, fl)
		}
	}
	src, err := a.source(name)
	if err != nil {
		return nil, err
	}
	return sourceSpec(src)
}

func (a *app) finishBackupJSON(res *backup.Result, parent *repo.SnapshotRef, warnings []string, behind []regionLag) error {
	s := res.Snapshot.Summary
	out := map[string]any{
		"message_type":     "summary",
		"snapshot_id":      res.ID.String(),
		"files_new":        s.FilesNew,
		"files_changed":    s.FilesChanged,
		"files_unmodified": s.FilesUnchanged,
		"dirs":             s.Dirs,
		"total_files":      s.TotalFiles,
		"total_bytes":      s.TotalBytes,
		"bytes_read":       s.BytesRead,
		"data_added":       s.BytesAdded,
		"data_stored":      s.BytesStored,
		"packs_added":      s.PacksAdded,
		"packs_adopted":    len(res.Adopted.Adopted),
		"duration_s":       s.End.Sub(s.Start).Seconds(),
		"partial":          s.Partial,
		"warnings":         warnings,
	}
	if parent != nil {
		out["parent"] = parent.ID.String()
	}
	if behind != nil {
		out["regions_behind"] = behind
	}
	if err := a.printJSON(out); err != nil {
		return err
	}
	if res.Warnings > 0 {
		return &silentError{code: ExitPartial}
	}
	return nil
}

// totals is a background count of what a backup will process (for ETA).
type totals struct {
	stopped atomic.Bool
}

func (t *totals) stop() { t.stopped.Store(true) }

// scanTotals walks the paths in the background and feeds the reporter the
// expected file and byte totals.
func scanTotals(paths []string, m *backup.Matcher, rep *reporter) *totals {
	t := &totals{}
	if !rep.active() {
		return t
	}
	go func() {
		var files, bytes int64
		for _, root := range paths {
			_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if t.stopped.Load() {
					return filepath.SkipAll
				}
				if err != nil {
					return nil
				}
				if m.Excluded(p) {
					if d.IsDir() {
						return filepath.SkipDir
					}
					return nil
				}
				if d.Type().IsRegular() {
					files++
					if fi, err := d.Info(); err == nil {
						bytes += fi.Size()
					}
				}
				return nil
			})
		}
		rep.setTotals(files, bytes)
	}()
	return t
}

func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for v := n / unit; v >= unit && exp < 5; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.2f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
