package drill_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"lifeboat/crypto"
	"lifeboat/engine/backup"
	"lifeboat/engine/compress"
	"lifeboat/engine/drill"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage/fault"
	"lifeboat/storage/mem"
	"lifeboat/storage/regions"
)

// clock is a deterministic clock: every call returns the current time and
// advances it by step.
type clock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.t
	c.t = c.t.Add(c.step)
	return t
}

// backupTime is when the test backups are taken.
var backupTime = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// env is a repository in two in-memory regions, a and b (a preferred),
// each behind a fault wrapper, holding one snapshot of a generated tree.
type env struct {
	t      *testing.T
	id     *crypto.Identity
	faults map[string]*fault.Storage
	all    []regions.Region
	src    string
	snap   *format.Snapshot
	snapID format.ID
}

// newEnv backs up the generated sample tree (enginetest.MakeTree) into
// regions a and b.
func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, func(root string) { enginetest.MakeTree(t, root, 3) })
}

// newEnvWith backs up the tree that mk writes into regions a and b (1 MiB
// packs).
func newEnvWith(t *testing.T, mk func(root string)) *env {
	t.Helper()
	e := &env{t: t, faults: map[string]*fault.Storage{}}
	for i, name := range []string{"a", "b"} {
		f := fault.New(mem.New())
		e.faults[name] = f
		e.all = append(e.all, regions.Region{Name: name, Storage: f, Priority: i})
	}
	set, err := regions.New(e.all, regions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	id, rc := enginetest.Identity(t)
	e.id = id
	clk := &clock{t: backupTime}
	r, err := repo.Init(context.Background(), set, repo.InitOptions{
		Options:     repo.Options{Rand: rand.NewChaCha8([32]byte{7}), Now: clk.Now},
		Recipient:   rc,
		Host:        "test",
		Chunker:     enginetest.SmallParams,
		Compression: compress.LevelFastest,
		PackSize:    1 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.src = filepath.Join(t.TempDir(), "src")
	mk(e.src)
	res, err := backup.Run(context.Background(), r, backup.Options{Paths: []string{e.src}, Host: "test"})
	if err != nil {
		t.Fatal(err)
	}
	e.snap, e.snapID = res.Snapshot, res.ID
	if !e.snap.Time.Equal(backupTime) {
		t.Fatalf("snapshot time %v, want %v", e.snap.Time, backupTime)
	}
	return e
}

// open opens the repository on the regions a drill losing lose may read,
// tracked, as the CLI does.
func (e *env) open(t *testing.T, lose []string) *repo.Repository {
	t.Helper()
	names := make([]string, len(e.all))
	for i, r := range e.all {
		names[i] = r.Name
	}
	keep, err := drill.Keep(names, lose, nil)
	if err != nil {
		t.Fatal(err)
	}
	var sel []regions.Region
	for _, r := range e.all {
		if slices.Contains(keep, r.Name) {
			sel = append(sel, r)
		}
	}
	set, err := regions.New(sel, regions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(context.Background(), drill.Track(set), e.id, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// evidence opens the repository on every region (where records go).
func (e *env) evidence() *repo.Repository {
	e.t.Helper()
	set, err := regions.New(e.all, regions.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	r, err := repo.Open(context.Background(), set, e.id, repo.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := r.LoadIndex(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	return r
}

// drill runs a drill at the given time on a fresh repository losing lose;
// the clock advances one second per reading.
func (e *env) drill(t *testing.T, at time.Time, lose []string, opts drill.Options) *drill.Report {
	t.Helper()
	r := e.open(t, lose)
	opts.Lose = lose
	opts.Now = (&clock{t: at, step: time.Second}).Now
	if opts.Evidence == nil {
		opts.Evidence = e.evidence()
	}
	rep, err := drill.Run(context.Background(), r, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// fileNodes returns the snapshot's regular files by snapshot path.
func (e *env) fileNodes() map[string]*format.Node {
	e.t.Helper()
	r := e.evidence()
	out := map[string]*format.Node{}
	var walk func(id format.ID, dir string)
	walk = func(id format.ID, dir string) {
		tr, err := r.LoadTree(context.Background(), id)
		if err != nil {
			e.t.Fatal(err)
		}
		for i := range tr.Nodes {
			n := &tr.Nodes[i]
			p := strings.TrimSuffix(dir, "/") + "/" + n.Name
			switch n.Type {
			case format.TypeDir:
				walk(*n.Subtree, p)
			case format.TypeFile:
				out[p] = n
			}
		}
	}
	walk(e.snap.Tree, "/")
	return out
}

// packOf returns the pack holding blob id.
func (e *env) packOf(id format.ID) format.ID {
	e.t.Helper()
	loc, ok := e.evidence().Index().Lookup(id)
	if !ok {
		e.t.Fatalf("blob %s not indexed", id.Short())
	}
	return loc.Pack.ID
}

func reasonCodes(rep *drill.Report) []drill.ReasonCode {
	var out []drill.ReasonCode
	for _, r := range rep.Reasons {
		out = append(out, r.Code)
	}
	return out
}

// makeFiles writes n files of random bytes, 32 to 512 KiB each, in a few
// directories under root.
func makeFiles(t *testing.T, root string, n int, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	src := rand.NewChaCha8([32]byte{byte(seed)})
	for i := range n {
		dir := filepath.Join(root, fmt.Sprintf("d%d", i%5))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		data := make([]byte, 32<<10+rng.IntN(480<<10))
		_, _ = src.Read(data)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d", i)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
