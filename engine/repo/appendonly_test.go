package repo_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"lifeboat/crypto"
	"lifeboat/engine/backup"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/engine/restore"
	"lifeboat/engine/treecmp"
	"lifeboat/storage"
	"lifeboat/storage/fault"
	"lifeboat/storage/mem"
	"lifeboat/storage/regions"
)

func mustRecipient(t *testing.T) *crypto.Recipient {
	t.Helper()
	_, rcpt := enginetest.Identity(t)
	return rcpt
}

// deletes counts the Delete calls that reached the regions.
func deletes(faults []*fault.Storage) int {
	n := 0
	for _, f := range faults {
		n += f.Calls(fault.OpDelete)
	}
	return n
}

// A backup, the adoption of an orphan pack and an incremental on an
// append-only region set issue no delete at all: the one-pack index objects
// stay (one per pack, each naming it like the writer would), a second
// index object naming an adopted pack is harmless, and the snapshots
// restore. The same runs on an ordinary set delete their one-pack index
// objects, which is what an append-only host's credentials refuse.
func TestAppendOnlyBackupsIssueNoDeletes(t *testing.T) {
	for _, appendOnly := range []bool{true, false} {
		t.Run(map[bool]string{true: "append-only", false: "ordinary"}[appendOnly], func(t *testing.T) {
			ctx := context.Background()
			var rs []regions.Region
			var faults []*fault.Storage
			for i, name := range []string{"a", "b", "c"} {
				f := fault.New(mem.New())
				faults = append(faults, f)
				rs = append(rs, regions.Region{Name: name, Storage: f, Priority: i})
			}
			admin, err := regions.New(rs, regions.Options{})
			if err != nil {
				t.Fatal(err)
			}
			host, err := regions.New(rs, regions.Options{AppendOnly: appendOnly})
			if err != nil {
				t.Fatal(err)
			}
			if got := host.Capabilities().AppendOnly; got != appendOnly {
				t.Fatalf("Capabilities().AppendOnly = %v, want %v", got, appendOnly)
			}
			if appendOnly {
				_, rcpt := enginetest.Identity(t)
				if _, err := repo.Init(ctx, host, repo.InitOptions{Recipient: rcpt}); !errors.Is(err, storage.ErrAppendOnly) {
					t.Fatalf("Init on append-only storage: %v, want ErrAppendOnly", err)
				}
			}
			// The trusted host creates the repository and leaves an
			// orphan pack (a backup that died before indexing it).
			r0, id := enginetest.NewRepo(t, admin)
			src := filepath.Join(t.TempDir(), "src")
			enginetest.MakeTree(t, src, 31)
			if _, err := backup.Run(ctx, r0, backup.Options{Paths: []string{src}, Host: "h"}); err != nil {
				t.Fatal(err)
			}
			written, _ := indexObjects(t, r0)
			for name := range written {
				if err := admin.Delete(ctx, name); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range faults {
				f.Reset()
			}

			r := enginetest.Reopen(t, host, id)
			first, err := backup.Run(ctx, r, backup.Options{Paths: []string{src}, Host: "h"})
			if err != nil {
				t.Fatal(err)
			}
			if len(first.Adopted.Adopted) == 0 {
				t.Fatalf("no orphan pack adopted: %+v", first.Adopted)
			}
			enginetest.MakeTree(t, filepath.Join(src, "more"), 32)
			if err := os.WriteFile(filepath.Join(src, "changed"), []byte("new content"), 0o600); err != nil {
				t.Fatal(err)
			}
			r = enginetest.Reopen(t, host, id)
			second, err := backup.Run(ctx, r, backup.Options{Paths: []string{src}, Host: "h",
				Parent: &repo.SnapshotRef{ID: first.ID, Snapshot: first.Snapshot}})
			if err != nil {
				t.Fatal(err)
			}
			if second.Stats.Packs < 2 {
				t.Fatalf("incremental wrote %d packs; the test needs several", second.Stats.Packs)
			}
			n := deletes(faults)
			if !appendOnly {
				if n == 0 {
					t.Fatal("ordinary backups issued no deletes: the append-only case proves nothing")
				}
				return
			}
			if n != 0 {
				t.Fatalf("append-only backups issued %d delete calls, want 0", n)
			}
			// One index object per pack: nothing consolidated, nothing
			// deleted, every pack named.
			objs, packs := indexObjects(t, enginetest.Reopen(t, host, id))
			if len(objs) != len(packs) {
				t.Fatalf("%d index objects for %d packs, want one per pack", len(objs), len(packs))
			}
			if err := host.Delete(ctx, format.IndexPrefix+"x"); !errors.Is(err, storage.ErrAppendOnly) || deletes(faults) != 0 {
				t.Fatalf("Delete on an append-only set: %v, %d calls", err, deletes(faults))
			}
			r = enginetest.Reopen(t, host, id)
			orphans, err := r.FindOrphans(ctx)
			if err != nil || len(orphans) != 0 {
				t.Fatalf("orphans after append-only backups: %v %v", orphans, err)
			}
			target := t.TempDir()
			rres, err := restore.Run(ctx, r, second.Snapshot, restore.Options{Target: target})
			if err != nil || rres.Errors > 0 {
				t.Fatalf("restore: %v %+v", err, rres)
			}
			if diffs, err := treecmp.Compare(src, filepath.Join(target, src), treecmp.Options{}); err != nil || len(diffs) > 0 {
				t.Fatalf("restore differs: %v %v", diffs, err)
			}
			keys, err := r.Keys(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.AddKey(ctx, mustRecipient(t), "second", "h", "u"); err != nil {
				t.Fatal(err)
			}
			if _, err := r.RemoveKey(ctx, keys[0].ID.String()); !errors.Is(err, storage.ErrAppendOnly) {
				t.Fatalf("RemoveKey on append-only storage: %v, want ErrAppendOnly", err)
			}
			puts := 0
			for _, f := range faults {
				puts += f.Calls(fault.OpPut)
			}
			if _, err := r.Forget(ctx, []format.ID{first.ID}); !errors.Is(err, storage.ErrAppendOnly) {
				t.Fatalf("Forget on append-only storage: %v, want ErrAppendOnly", err)
			}
			after := 0
			for _, f := range faults {
				after += f.Calls(fault.OpPut)
			}
			if n := deletes(faults); n != 0 || after != puts {
				t.Fatalf("refused removals made %d delete calls and %d puts", n, after-puts)
			}
		})
	}
}
