package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"lifeboat/engine/prune"
	"lifeboat/scheduler"
)

// statusTimeout bounds the request to the daemon.
const statusTimeout = 5 * time.Second

func (a *app) statusCommand() *cobra.Command {
	var o struct{ addr, stateDir string }
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the daemon's jobs: last run, result, next run",
		Long: `Show the jobs of the running daemon: schedule, last run, result, duration and
next run. The daemon is asked on its HTTP listener (--addr; default: the
address the daemon recorded in --state-dir, else daemon.listen, else
127.0.0.1:9464). When it does not answer, the last runs recorded in the state
directory are shown and the exit code is 1.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			dir, dirErr := a.stateDir(o.stateDir)
			addr := o.addr
			if addr == "" && dirErr == nil {
				var info daemonInfo
				if data, err := os.ReadFile(filepath.Join(dir, daemonInfoFile)); err == nil && json.Unmarshal(data, &info) == nil {
					addr = info.Listen
				}
			}
			if addr == "" {
				addr = listenAddress("", a.cfg)
			}
			if addr == "" {
				addr = defaultListen
			}
			st, err := fetchStatus(ctx, addr)
			if err == nil {
				if a.flags.json {
					return a.printJSON(st)
				}
				a.printf("daemon pid %d on %s, version %s, running since %s\n", st.PID, st.Host, st.Version, st.Started.Local().Format(time.DateTime))
				a.printJobs(st.Jobs, true)
				a.printForgets(st.Forgets)
				a.printPruneStatus(st.Prune)
				return nil
			}
			if errors.Is(err, context.Canceled) {
				return err
			}
			if dirErr != nil {
				return fmt.Errorf("the daemon does not answer at %s: %w", addr, err)
			}
			path := filepath.Join(dir, schedulerStateFile)
			state, serr := scheduler.ReadState(path)
			if serr != nil {
				return fmt.Errorf("the daemon does not answer at %s: %w; %w", addr, err, serr)
			}
			fmt.Fprintf(a.stderr, "lifeboat: the daemon does not answer at %s (%v)\n", addr, err)
			jobs := jobsFromState(state)
			if a.flags.json {
				if jerr := a.printJSON(map[string]any{"running": false, "state_file": path, "jobs": jobs}); jerr != nil {
					return jerr
				}
			} else {
				if len(jobs) == 0 {
					fmt.Fprintf(a.stderr, "lifeboat: no runs recorded in %s\n", path)
				} else {
					fmt.Fprintf(a.stderr, "lifeboat: last runs recorded in %s:\n", path)
					a.printJobs(jobs, false)
				}
			}
			return &silentError{code: ExitError}
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "", "the daemon's HTTP `ADDRESS`")
	f.StringVar(&o.stateDir, "state-dir", "", "the daemon's state `DIR` (env LIFEBOAT_STATE_DIR)")
	return cmd
}

// fetchStatus asks the daemon at addr for its job table.
func fetchStatus(ctx context.Context, addr string) (*daemonStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/status", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /status: %s", resp.Status)
	}
	var st daemonStatus
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&st); err != nil {
		return nil, fmt.Errorf("GET /status: %w", err)
	}
	return &st, nil
}

// jobsFromState turns a state file into job rows, sorted by name.
func jobsFromState(st *scheduler.State) []jobStatus {
	var out []jobStatus
	for name, j := range st.Jobs {
		kind, _, _ := strings.Cut(name, "/")
		out = append(out, jobStatus{Kind: kind, Status: scheduler.Status{
			Name: name, Spec: j.Spec, LastStart: j.LastStart, LastEnd: j.LastEnd, LastSuccess: j.LastSuccess,
			LastResult: j.Result, LastError: j.Error, Runs: j.Runs, Failures: j.Failures,
		}})
	}
	slices.SortFunc(out, func(a, b jobStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// printJobs prints the job table; live is false for a table read from the
// state file (no next run, no running job).
func (a *app) printJobs(jobs []jobStatus, live bool) {
	when := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Local().Format(time.DateTime)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tKIND\tSCHEDULE\tLAST RUN\tRESULT\tDURATION\tNEXT RUN\tRUNS\tFAILURES")
	for _, j := range jobs {
		result, dur := j.LastResult, "-"
		switch {
		case j.Running && live:
			result = "running"
		case result == "" && !j.LastStart.IsZero():
			result = "did not finish"
		case result == "":
			result = "never run"
		}
		if !j.LastEnd.IsZero() && !j.LastStart.IsZero() {
			dur = j.LastEnd.Sub(j.LastStart).Round(time.Millisecond).String()
		}
		next := "-"
		if live {
			next = when(j.Next)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\n", j.Name, j.Kind, j.Spec, when(j.LastStart), result, dur, next, j.Runs, j.Failures)
	}
	tw.Flush()
	for _, j := range jobs {
		if j.LastError != "" {
			fmt.Fprintf(a.stdout, "%s: %s: %s\n", j.Name, j.LastResult, j.LastError)
		}
	}
}

// printForgets prints the last forget after each source's backup.
func (a *app) printForgets(fs []forgetStatus) {
	for _, f := range fs {
		if f.OK {
			a.printf("forget %s: %s: removed %d snapshots, kept %d\n", f.Source, f.Time.Local().Format(time.DateTime), f.Removed, f.Kept)
		} else {
			a.printf("forget %s: %s: failed: %s\n", f.Source, f.Time.Local().Format(time.DateTime), f.Error)
		}
	}
}

// printPruneStatus prints the last run of jobs.prune (nil: none yet).
func (a *app) printPruneStatus(p *pruneStatus) {
	if p == nil {
		return
	}
	when := p.Time.Local().Format(time.DateTime)
	if !p.OK {
		a.printf("prune: %s: failed: %s\n", when, p.Error)
		return
	}
	switch prune.Action(p.Action) {
	case prune.ActionNone:
		a.printf("prune: %s: nothing to prune\n", when)
	case prune.ActionMark:
		a.printf("prune: %s: marked gc record %d: %d packs condemned, %s reclaimable; sweep after %s\n",
			when, p.Generation, p.Condemned, formatBytes(sumValues(p.Reclaimable)), p.SweepAfter.Local().Format(time.DateTime))
	case prune.ActionWait:
		a.printf("prune: %s: gc record %d waits for its grace: %d packs condemned; sweep after %s\n",
			when, p.Generation, p.Condemned, p.SweepAfter.Local().Format(time.DateTime))
	case prune.ActionSweep:
		a.printf("prune: %s: swept gc record %d: %d objects deleted, %s reclaimed", when, p.Generation,
			sumValues(p.Deleted), formatBytes(sumValues(p.BytesReclaimed)))
		if p.Rescued > 0 {
			a.printf(", %d packs kept for new snapshots", p.Rescued)
		}
		a.printf("\n")
		if len(p.Pending) > 0 {
			a.printf("prune: regions still to sweep: %s\n", strings.Join(p.Pending, ", "))
		}
	}
	for _, pr := range p.Problems {
		a.printf("prune: warning: %s\n", pr)
	}
}

// sumValues adds up a map's values.
func sumValues[V int | int64](m map[string]V) V {
	var t V
	for _, v := range m {
		t += v
	}
	return t
}
