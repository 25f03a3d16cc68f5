package check_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"lifeboat/engine/backup"
	"lifeboat/engine/check"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage/fault"
	"lifeboat/storage/mem"
)

// Check reports a pack no index names (left by a backup that died between
// storing it and indexing it) as a warning that names the fix; with data
// reading it verifies the pack too, and one that fails is a problem.
func TestCheckReportsOrphanPacks(t *testing.T) {
	ctx := context.Background()
	st := fault.New(mem.New())
	r, id := enginetest.NewRepo(t, st)
	src := filepath.Join(t.TempDir(), "src")
	enginetest.MakeTree(t, src, 31)
	var n atomic.Int64
	st.FailOn(fault.OpPut, func(name string) bool {
		return strings.HasPrefix(name, format.IndexPrefix) && n.Add(1) > 1
	}, errors.New("killed"), -1)
	if _, err := backup.Run(ctx, r, backup.Options{Paths: []string{src}, Host: "h"}); err == nil {
		t.Fatal("backup succeeded although no index object could be written")
	}
	st.Reset()
	orphans, err := enginetest.Reopen(t, st, id).FindOrphans(ctx)
	if err != nil || len(orphans) == 0 {
		t.Fatalf("the crash left no orphan: %v", err)
	}

	run := func(opts check.Options) (*check.Result, []check.Problem, []check.Problem, error) {
		var warnings, problems []check.Problem
		opts.OnWarning = func(p check.Problem) { warnings = append(warnings, p) }
		opts.OnProblem = func(p check.Problem) { problems = append(problems, p) }
		res, err := check.Run(ctx, enginetest.Reopen(t, st, id), opts)
		return res, warnings, problems, err
	}
	names := func(ps []check.Problem) map[string]bool {
		m := map[string]bool{}
		for _, p := range ps {
			if !errors.Is(p.Err, repo.ErrOrphanPack) {
				t.Errorf("finding %v is not about an orphan pack", p)
			}
			m[p.Object] = true
		}
		return m
	}
	for _, readData := range []bool{false, true} {
		res, warnings, problems, err := run(check.Options{ReadData: readData})
		if err != nil || len(problems) > 0 {
			t.Fatalf("read data %v: an orphan made check fail: %v %v", readData, err, problems)
		}
		got := names(warnings)
		if len(got) != len(orphans) || res.UnindexedPacks != int64(len(orphans)) || res.Warnings != int64(len(orphans)) {
			t.Fatalf("read data %v: warnings %v for %d orphans (%+v)", readData, warnings, len(orphans), res)
		}
		for _, o := range orphans {
			if !got[format.PackName(o.ID)] {
				t.Errorf("read data %v: no warning for %s", readData, format.PackName(o.ID))
			}
		}
		if !strings.Contains(warnings[0].String(), "lifeboat backup") {
			t.Errorf("the warning does not name the fix: %s", warnings[0])
		}
	}

	// A damaged orphan: the structural check cannot tell (a warning), the
	// data check can (a problem naming it).
	bad := format.PackName(orphans[0].ID)
	st.Corrupt(fault.Exact(bad))
	if _, _, problems, err := run(check.Options{}); err != nil || len(problems) > 0 {
		t.Fatalf("structural check of a damaged orphan: %v %v", err, problems)
	}
	_, warnings, problems, err := run(check.Options{ReadData: true})
	if !errors.Is(err, check.ErrProblems) || len(problems) != 1 || problems[0].Object != bad {
		t.Fatalf("data check of a damaged orphan: %v, problems %v", err, problems)
	}
	names(problems)
	if len(warnings) != len(orphans)-1 {
		t.Fatalf("warnings %v, want the %d good orphans", warnings, len(orphans)-1)
	}
}
