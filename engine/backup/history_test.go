package backup_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"lifeboat/engine/backup"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage/mem"
)

// A backup warns, naming it, of a snapshot removed from storage by hand
// since the last one, and still commits its own.
func TestBackupWarnsOfVanishedSnapshot(t *testing.T) {
	ctx := context.Background()
	st := mem.New()
	r, id := enginetest.NewRepo(t, st)
	src := filepath.Join(t.TempDir(), "src")
	enginetest.MakeTree(t, src, 3)
	var notices []error
	run := func(r *repo.Repository) *backup.Result {
		t.Helper()
		notices = nil
		res, err := backup.Run(ctx, r, backup.Options{Paths: []string{src}, Host: "h",
			OnNotice: func(err error) { notices = append(notices, err) }})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	first := run(r)
	run(r)
	if len(notices) > 0 {
		t.Fatalf("notices of a clean repository: %v", notices)
	}
	gone := format.SnapshotName(first.ID)
	if err := st.Delete(ctx, gone); err != nil {
		t.Fatal(err)
	}
	run(enginetest.Reopen(t, st, id))
	if len(notices) != 1 || !errors.Is(notices[0], repo.ErrVanished) || !strings.Contains(notices[0].Error(), gone) {
		t.Fatalf("notices %v, want one naming %s", notices, gone)
	}
}
