package migrate_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"lifeboat/crypto"
	"lifeboat/engine/compress"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/migrate"
	"lifeboat/engine/repo"
	"lifeboat/storage"
	"lifeboat/storage/fault"
	"lifeboat/storage/mem"
	"lifeboat/storage/regions"
)

// twoRegions returns a region set over two fault-injecting mem regions and
// a repository of format version v in it.
func twoRegions(t *testing.T, v int) (*regions.Set, []*fault.Storage, *crypto.Identity) {
	t.Helper()
	faults := []*fault.Storage{fault.New(mem.New()), fault.New(mem.New())}
	set, err := regions.New([]regions.Region{{Name: "a", Storage: faults[0]}, {Name: "b", Storage: faults[1], Priority: 1}}, regions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	id, rc := enginetest.Identity(t)
	_, err = repo.Init(context.Background(), set, repo.InitOptions{
		Options:   repo.Options{Rand: rand.NewChaCha8([32]byte{4})},
		Recipient: rc, Chunker: enginetest.SmallParams, Compression: compress.LevelFastest, PackSize: 1 << 20,
		FormatVersion: v,
	})
	if err != nil {
		t.Fatal(err)
	}
	return set, faults, id
}

// configBytes returns each region's stored config object.
func configBytes(t *testing.T, faults []*fault.Storage) [][]byte {
	t.Helper()
	var out [][]byte
	for _, f := range faults {
		data, err := storage.ReadAll(context.Background(), f, format.ConfigName)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

// treeMagic saves a one-node tree and returns the first four bytes of the
// stored blob ("LBT2", "LBT3" or JSON).
func treeMagic(t *testing.T, r *repo.Repository) string {
	t.Helper()
	ctx := context.Background()
	id, err := r.SaveTree(ctx, &format.Tree{Nodes: []format.Node{{Name: "fifo", Type: format.TypeFIFO}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	data, err := r.LoadBlob(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return string(data[:4])
}

func TestMigrate(t *testing.T) {
	for _, from := range []int{1, 2, 3, 4} {
		t.Run(fmt.Sprintf("v%d", from), func(t *testing.T) {
			ctx := context.Background()
			set, faults, id := twoRegions(t, from)
			before := configBytes(t, faults)
			r := enginetest.Reopen(t, set, id)
			if v := r.FormatVersion(); v != from {
				t.Fatalf("new repository of version %d opens as %d", from, v)
			}
			plan, err := migrate.Run(ctx, r, migrate.Options{DryRun: true})
			if err != nil {
				t.Fatal(err)
			}
			if plan.From != from || plan.To != format.Version || !plan.Pending() || len(plan.Steps) != 2 || len(plan.Changes) == 0 {
				t.Fatalf("dry run: %+v", plan)
			}
			for _, s := range plan.Steps {
				if s.Action != "raise" || s.From != from || s.Done {
					t.Fatalf("dry run step %+v", s)
				}
			}
			if after := configBytes(t, faults); !bytes.Equal(after[0], before[0]) || !bytes.Equal(after[1], before[1]) {
				t.Fatal("a dry run changed a config")
			}
			res, err := migrate.Run(ctx, r, migrate.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Pending() {
				t.Fatalf("migrate left work: %+v", res)
			}
			after := configBytes(t, faults)
			if !bytes.Equal(after[0], after[1]) {
				t.Fatal("the regions' configs differ after migrate")
			}
			r = enginetest.Reopen(t, set, id)
			if v := r.FormatVersion(); v != format.Version {
				t.Fatalf("migrated repository opens as version %d", v)
			}
			if m := treeMagic(t, r); m != "LBT3" {
				t.Fatalf("migrated repository stores trees starting %q", m)
			}
			again, err := migrate.Run(ctx, r, migrate.Options{})
			if err != nil || again.Pending() || again.Steps[0].Action != "none" || again.Steps[1].Action != "none" {
				t.Fatalf("second migrate: %v %+v", err, again)
			}
		})
	}
}

func TestInterruptedMigrate(t *testing.T) {
	ctx := context.Background()
	set, faults, id := twoRegions(t, 2)
	// The config put in region b fails once: a crash between the regions.
	rule := faults[1].FailOn(fault.OpPut, fault.Exact(format.ConfigName), fault.ErrInjected, 1)
	r := enginetest.Reopen(t, set, id)
	res, err := migrate.Run(ctx, r, migrate.Options{})
	if !errors.Is(err, fault.ErrInjected) || rule.Hits() != 1 {
		t.Fatalf("migrate = %v, want the injected failure", err)
	}
	if !res.Pending() || !res.Steps[0].Done || res.Steps[1].Done {
		t.Fatalf("interrupted migrate: %+v", res)
	}
	// Half migrated: writers keep to version 2 in every region.
	r = enginetest.Reopen(t, set, id)
	if v := r.FormatVersion(); v != 2 {
		t.Fatalf("half-migrated repository opens as version %d, want 2", v)
	}
	if m := treeMagic(t, r); m != "LBT2" {
		t.Fatalf("half-migrated repository stores trees starting %q, want LBT2", m)
	}
	plan, err := migrate.Run(ctx, r, migrate.Options{DryRun: true})
	if err != nil || plan.Steps[0].Action != "none" || plan.Steps[1].Action != "raise" {
		t.Fatalf("plan after the interruption: %v %+v", err, plan)
	}
	if _, err := migrate.Run(ctx, r, migrate.Options{}); err != nil {
		t.Fatal(err)
	}
	cfgs := configBytes(t, faults)
	if !bytes.Equal(cfgs[0], cfgs[1]) {
		t.Fatal("re-run migrate sealed a second config: the regions' configs differ")
	}
	if v := enginetest.Reopen(t, set, id).FormatVersion(); v != format.Version {
		t.Fatalf("finished migrate opens as version %d", v)
	}
}

func TestMigrateRefuses(t *testing.T) {
	ctx := context.Background()
	set, faults, id := twoRegions(t, 2)
	r := enginetest.Reopen(t, set, id)
	before := configBytes(t, faults)
	for _, tc := range []struct {
		name string
		to   int
		want error
	}{
		{"future version", format.Version + 1, migrate.ErrBadVersion},
		{"version zero", -1, migrate.ErrBadVersion},
		{"downgrade", 1, migrate.ErrDowngrade},
	} {
		if _, err := migrate.Run(ctx, r, migrate.Options{To: tc.to}); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	rule := faults[1].FailOn(fault.OpGet, fault.Exact(format.ConfigName), fault.ErrInjected, -1)
	if _, err := migrate.Run(ctx, r, migrate.Options{}); !errors.Is(err, migrate.ErrRegionUnreadable) {
		t.Errorf("unreadable region: %v", err)
	}
	rule.Remove()
	if after := configBytes(t, faults); !bytes.Equal(after[0], before[0]) || !bytes.Equal(after[1], before[1]) {
		t.Fatal("a refused migrate changed a config")
	}
}

// A migrated repository verifies clean: the new config is in the commit
// chain before any region holds it; the config it replaced, put back in a
// region, is reported.
func TestMigrateRecordsTheConfig(t *testing.T) {
	ctx := context.Background()
	set, faults, id := twoRegions(t, 3)
	r, err := repo.Open(ctx, set, id, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	old := configBytes(t, faults)[1]
	if _, err := migrate.Run(ctx, r, migrate.Options{}); err != nil {
		t.Fatal(err)
	}
	r2, err := repo.Open(ctx, set, id, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r2.VerifyHistory(ctx, true)
	if err != nil || len(rep.Findings) > 0 {
		t.Fatalf("after migrate: %v, %v", rep, err)
	}
	if err := storage.PutBytes(ctx, faults[1], format.ConfigName, old, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	rep, err = r2.VerifyHistory(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Region != "b" || !errors.Is(rep.Findings[0], repo.ErrConfigReplaced) {
		t.Fatalf("findings %v, want region b's config replaced", rep.Findings)
	}
}

// chainNames lists the commit records stored in st.
func chainNames(t *testing.T, st storage.Storage) []string {
	t.Helper()
	var out []string
	if err := st.List(context.Background(), format.ChainPrefix, func(fi storage.Info) error {
		out = append(out, fi.Name)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// commitSnapshot stores a tree (and so a pack and an index object) and
// commits a snapshot of it.
func commitSnapshot(t *testing.T, r *repo.Repository, host string) format.ID {
	t.Helper()
	ctx := context.Background()
	tree, err := r.SaveTree(ctx, &format.Tree{Nodes: []format.Node{{Name: host, Type: format.TypeFIFO}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	id, _, err := r.CommitSnapshot(ctx, &format.Snapshot{Version: r.FormatVersion(), Host: host, Paths: []string{"/x"}, Tree: tree})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// deleteEverywhere removes name from every region by hand (no tombstone).
func deleteEverywhere(t *testing.T, faults []*fault.Storage, name string) {
	t.Helper()
	for _, f := range faults {
		if err := f.Delete(context.Background(), name); err != nil {
			t.Fatal(err)
		}
	}
}

// TestVersion5RecordsCommits: writers of a version 4 repository (made by
// init or by migrate --to 4) append no commit records and history
// verification reports nothing, even for an object removed by hand; after
// a migrate to version 5 every commit is recorded, and what was recorded
// since (the snapshots the writer's start record found, the commits
// after) is verified, while what vanished before, or was never named by a
// record (an index object written at version 4), is not reported.
func TestVersion5RecordsCommits(t *testing.T) {
	ctx := context.Background()
	for _, made := range []string{"init", "migrate"} {
		t.Run(made, func(t *testing.T) {
			var set *regions.Set
			var faults []*fault.Storage
			var id *crypto.Identity
			if made == "init" {
				set, faults, id = twoRegions(t, 4)
			} else {
				set, faults, id = twoRegions(t, 3)
				res, err := migrate.Run(ctx, enginetest.Reopen(t, set, id), migrate.Options{To: 4})
				if err != nil || res.To != 4 {
					t.Fatalf("migrate --to 4: %+v, %v", res, err)
				}
				for _, c := range res.Changes {
					if strings.HasPrefix(c, "version 5") {
						t.Fatalf("migrate --to 4 announces %q", c)
					}
				}
			}
			r := enginetest.Reopen(t, set, id)
			if v := r.FormatVersion(); v != 4 {
				t.Fatalf("repository opens as version %d, want 4", v)
			}
			gone := commitSnapshot(t, r, "gone-before")
			commitSnapshot(t, r, "kept")
			later := commitSnapshot(t, r, "removed-after")
			var oldIndex []string
			if err := faults[0].List(ctx, format.IndexPrefix, func(fi storage.Info) error {
				oldIndex = append(oldIndex, fi.Name)
				return nil
			}); err != nil || len(oldIndex) == 0 {
				t.Fatalf("index objects %v, %v", oldIndex, err)
			}
			for i, f := range faults {
				if names := chainNames(t, f); len(names) != 0 {
					t.Fatalf("a version 4 repository got commit records in region %d: %v", i, names)
				}
			}
			deleteEverywhere(t, faults, format.SnapshotName(gone))
			if rep, err := r.VerifyHistory(ctx, true); err != nil || len(rep.Findings) != 0 || rep.Writers != 0 {
				t.Fatalf("history of a version 4 repository: %+v, %v", rep, err)
			}

			res, err := migrate.Run(ctx, r, migrate.Options{})
			if err != nil || res.From != 4 || res.To != 5 {
				t.Fatalf("migrate: %+v, %v", res, err)
			}
			if !slices.ContainsFunc(res.Changes, func(c string) bool { return strings.HasPrefix(c, "version 5") }) {
				t.Fatalf("migrate 4 -> 5 changes %q", res.Changes)
			}
			r = enginetest.Reopen(t, set, id)
			if v := r.FormatVersion(); v != 5 {
				t.Fatalf("migrated repository opens as version %d", v)
			}
			for i, f := range faults {
				if names := chainNames(t, f); len(names) != 2 {
					t.Fatalf("region %d after migrate: commit records %v, want a start and a config record", i, names)
				}
			}
			after := commitSnapshot(t, r, "after")
			if names := chainNames(t, faults[0]); len(names) != 3 {
				t.Fatalf("after a backup: commit records %v, want 3", names)
			}
			if rep, err := r.VerifyHistory(ctx, true); err != nil || len(rep.Findings) != 0 {
				t.Fatalf("history right after migrate: %+v, %v", rep, err)
			}
			// Never named by a record: not reported.
			for _, n := range oldIndex {
				deleteEverywhere(t, faults, n)
			}
			if rep, err := r.VerifyHistory(ctx, true); err != nil || len(rep.Findings) != 0 {
				t.Fatalf("history after removing version 4 index objects: %+v, %v", rep, err)
			}
			// Named by the start record (found at migrate) and by the
			// backup after: reported.
			deleteEverywhere(t, faults, format.SnapshotName(later))
			deleteEverywhere(t, faults, format.SnapshotName(after))
			rep, err := r.VerifyHistory(ctx, true)
			if err != nil {
				t.Fatal(err)
			}
			var vanished []string
			for _, f := range rep.Findings {
				if !errors.Is(f.Err, repo.ErrVanished) {
					t.Errorf("unexpected finding %v", f)
				}
				vanished = append(vanished, f.Object)
			}
			want := []string{format.SnapshotName(later), format.SnapshotName(after)}
			if len(vanished) != 2 || !slices.Contains(vanished, want[0]) || !slices.Contains(vanished, want[1]) {
				t.Fatalf("vanished %v, want %v", vanished, want)
			}
		})
	}
}
