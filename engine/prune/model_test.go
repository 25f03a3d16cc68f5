package prune

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"lifeboat/engine/backup"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/engine/syncer"
	"lifeboat/storage"
	"lifeboat/storage/fault"
)

const (
	modelSeeds = 40
	modelSteps = 60
)

// smallTree writes a few files whose contents come from a small pool, so
// that snapshots share some blobs and packs end up partly used.
func smallTree(t *testing.T, rng *rand.Rand, dir string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 2 + rng.IntN(4) {
		pool := rng.Uint64N(10)
		src := rand.New(rand.NewPCG(pool, 77))
		data := make([]byte, 1000+int(pool)*23000)
		for j := range data {
			data[j] = byte(src.Uint32())
		}
		name := filepath.Join(dir, fmt.Sprintf("f%d", i))
		if i%2 == 1 {
			name = filepath.Join(dir, "sub", fmt.Sprintf("f%d", i))
		}
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestModel runs random interleavings of backups, forgets, prune runs
// (some crashed at a random mutation), clock steps, region outages and
// syncs, checking after every step that every remembered snapshot is
// complete in every region that holds it, and that nothing a gc tombstone
// buries comes back to a region it was deleted from. Backups do not
// overlap prune runs (steps are sequential).
func TestModel(t *testing.T) {
	for seed := uint64(1); seed <= modelSeeds; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { runModel(t, seed) })
	}
}

func runModel(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 2026))
	budget := &crashBudget{left: -1}
	f := newFixtureOn(t, nil, budget)
	f.seed = seed
	f.r, f.id = newRepo(t, f)
	ctx := context.Background()
	var live []format.ID
	var down *fault.Storage
	var downRules []*fault.Rule
	deleted := map[string]map[string]bool{}
	present := func(rn string) map[string]bool {
		m := map[string]bool{}
		for _, p := range []string{format.DataPrefix, format.IndexPrefix, format.SnapshotPrefix} {
			for _, n := range f.names(rn, p) {
				m[n] = true
			}
		}
		return m
	}
	before := map[string]map[string]bool{}
	for _, rn := range regionNames {
		before[rn], deleted[rn] = present(rn), map[string]bool{}
	}
	heal := func() {
		for _, r := range downRules {
			r.Remove()
		}
		downRules, down = nil, nil
	}
	o := func() Options {
		op := f.opts()
		op.MaxUnused = []float64{0.01, 0.05, 0.3}[rng.IntN(3)]
		var s [32]byte
		s[0], s[1] = byte(rng.Uint32()), byte(rng.Uint32())
		op.Rand = rand.NewChaCha8(s)
		return op
	}
	for step := range modelSteps {
		what := ""
		switch k := rng.IntN(100); {
		case k < 30:
			dir := filepath.Join(t.TempDir(), "src")
			smallTree(t, rng, dir)
			res, err := backup.Run(ctx, f.reopen(), backup.Options{Paths: []string{dir}, Host: "h"})
			what = "backup"
			if err != nil {
				t.Fatalf("seed %d step %d: backup: %v", seed, step, err)
			}
			f.sources[res.ID] = dir
			live = append(live, res.ID)
		case k < 36:
			// A backup that started before a prune run and is suspended
			// while it uploads (before its last check of gc/): one or two
			// prune runs happen meanwhile, the clock perhaps past a grace.
			dir := filepath.Join(t.TempDir(), "src")
			smallTree(t, rng, dir)
			var cmu sync.Mutex
			bnow := f.clock
			br, err := repo.Open(ctx, f.newSet(), f.id, repo.Options{Now: func() time.Time { cmu.Lock(); defer cmu.Unlock(); return bnow }})
			if err != nil {
				t.Fatal(err)
			}
			g := newGate(format.DataPrefix)
			budget.mu.Lock()
			budget.gate = g
			budget.mu.Unlock()
			type out struct {
				res *backup.Result
				err error
			}
			done := make(chan out, 1)
			go func() {
				gctx := context.WithValue(ctx, gatedKey{}, true)
				if err := br.LoadIndex(gctx); err != nil {
					done <- out{nil, err}
					return
				}
				res, err := backup.Run(gctx, br, backup.Options{Paths: []string{dir}, Host: "h"})
				done <- out{res, err}
			}()
			var o1 out
			finished := false
			select {
			case <-g.hit:
			case o1 = <-done:
				finished = true
			case <-time.After(time.Minute):
				t.Fatalf("seed %d step %d: backup neither uploaded nor finished", seed, step)
			}
			what = "overlap:"
			for i := range 1 + rng.IntN(2) {
				if i > 0 || rng.IntN(2) == 0 {
					cmu.Lock()
					f.clock = f.clock.Add(time.Duration(rng.IntN(100)) * time.Minute)
					bnow = f.clock
					cmu.Unlock()
				}
				res, err := f.run(o())
				if err != nil && down == nil {
					t.Fatalf("seed %d step %d: prune during a backup: %v", seed, step, err)
				}
				if res != nil {
					what += " " + string(res.Action)
				}
			}
			budget.mu.Lock()
			budget.gate = nil
			budget.mu.Unlock()
			close(g.release)
			if !finished {
				o1 = <-done
			}
			switch {
			case o1.err == nil:
				f.sources[o1.res.ID] = dir
				live = append(live, o1.res.ID)
				what += " committed"
			case errors.Is(o1.err, backup.ErrSwept):
				what += " refused"
			default:
				t.Fatalf("seed %d step %d: suspended backup: %v", seed, step, o1.err)
			}
		case k < 42 && len(live) > 0:
			i := rng.IntN(len(live))
			what = "forget " + live[i].Short()
			f.forget(live[i])
			live = slices.Delete(live, i, i+1)
		case k < 70:
			crash := rng.IntN(3) == 0
			if crash {
				budget.left = rng.IntN(60)
			}
			res, err := f.run(o())
			hit := budget.hit
			budget.left, budget.hit = -1, false
			what = fmt.Sprintf("prune (crash %v)", hit)
			if res != nil {
				what += " " + string(res.Action)
			}
			if err != nil && !hit && down == nil {
				t.Fatalf("seed %d step %d: prune without fault: %v", seed, step, err)
			}
		case k < 82:
			f.clock = f.clock.Add(time.Duration(10+rng.IntN(80)) * time.Minute)
			what = "clock"
		case k < 92:
			if down != nil {
				// An admin brings a region that was down up to date
				// before backups use it again: a backup may reuse blobs
				// of packs the region missed (not prune's concern).
				heal()
				if _, err := syncer.Sync(ctx, f.reopen().Storage().Capabilities().Regions.(syncer.Regions), syncer.Options{Tombstones: f.reopen(), Host: "h",
					Now: func() time.Time { return f.clock }}); err != nil {
					t.Fatalf("seed %d step %d: sync after heal: %v", seed, step, err)
				}
			}
			if rng.IntN(2) == 0 {
				rn := regionNames[rng.IntN(len(regionNames))]
				down = f.faults[rn]
				for _, op := range []fault.Op{fault.OpGet, fault.OpStat, fault.OpList, fault.OpPut, fault.OpDelete} {
					downRules = append(downRules, down.FailOn(op, fault.Any, storage.MarkTransient(fault.ErrInjected), -1))
				}
				what = "outage " + rn
			} else {
				what = "heal"
			}
		default:
			_, err := syncer.Sync(ctx, f.set, syncer.Options{Tombstones: f.reopen(), Host: "h",
				Now: func() time.Time { return f.clock }})
			what = "sync"
			if err != nil && down == nil && !errors.Is(err, context.Canceled) {
				t.Logf("seed %d step %d: sync: %v", seed, step, err)
			}
		}
		label := fmt.Sprintf("seed %d step %d (%s)", seed, step, what)
		if os.Getenv("MODEL_DEBUG") != "" {
			t.Log(label)
		}
		f.checkBlobs(label)
		for _, rn := range regionNames {
			now := present(rn)
			tombs := map[string]bool{}
			for _, tn := range f.names(rn, format.TombstonePrefix) {
				if obj, ok := format.TombstonedObject(tn); ok {
					tombs[obj] = true
				}
			}
			for n := range now {
				if deleted[rn][n] {
					t.Fatalf("%s: %s came back to region %s", label, n, rn)
				}
			}
			for n := range before[rn] {
				if !now[n] && tombs[n] {
					deleted[rn][n] = true
				}
			}
			before[rn] = now
		}
	}
	if down != nil {
		heal()
	}
	if _, err := syncer.Sync(ctx, f.set, syncer.Options{Tombstones: f.reopen(), Host: "h", Now: func() time.Time { return f.clock }}); err != nil {
		t.Logf("seed %d: final sync: %v", seed, err)
	}
	f.sweepAll(f.opts())
	f.check(fmt.Sprintf("seed %d: final", seed))
	for _, rn := range regionNames {
		for _, n := range f.buriedPresent(rn) {
			if !strings.HasPrefix(n, format.SnapshotPrefix) {
				t.Fatalf("seed %d: region %s still holds swept %s", seed, rn, n)
			}
		}
	}
}
