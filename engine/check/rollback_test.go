package check_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"lifeboat/engine/backup"
	"lifeboat/engine/check"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage/mem"
)

// Check reports, as a problem naming it, a snapshot deleted from storage
// by hand (no tombstone), and stays clean after a forget.
func TestCheckReportsVanishedSnapshot(t *testing.T) {
	ctx := context.Background()
	st := mem.New()
	r, id := enginetest.NewRepo(t, st)
	src := filepath.Join(t.TempDir(), "src")
	enginetest.MakeTree(t, src, 7)
	var snaps []format.ID
	for range 3 {
		res, err := backup.Run(ctx, r, backup.Options{Paths: []string{src}, Host: "h"})
		if err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, res.ID)
	}
	run := func() ([]check.Problem, error) {
		var problems []check.Problem
		_, err := check.Run(ctx, enginetest.Reopen(t, st, id), check.Options{OnProblem: func(p check.Problem) { problems = append(problems, p) }})
		return problems, err
	}
	if _, err := r.Forget(ctx, snaps[:1]); err != nil {
		t.Fatal(err)
	}
	if problems, err := run(); err != nil || len(problems) > 0 {
		t.Fatalf("check after a forget: %v, %v", problems, err)
	}
	gone := format.SnapshotName(snaps[1])
	if err := st.Delete(ctx, gone); err != nil {
		t.Fatal(err)
	}
	problems, err := run()
	if !errors.Is(err, check.ErrProblems) {
		t.Fatalf("check = %v, want ErrProblems", err)
	}
	if len(problems) != 1 || problems[0].Object != gone || !errors.Is(problems[0].Err, repo.ErrVanished) {
		t.Fatalf("problems %v, want %s vanished", problems, gone)
	}
}
