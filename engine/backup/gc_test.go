package backup_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lifeboat/crypto"
	"lifeboat/engine/backup"
	"lifeboat/engine/check"
	"lifeboat/engine/compress"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage"
	"lifeboat/storage/mem"
)

// fakeClock is the repository's clock in these tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// gcListCounter counts the listings of gc/, and runs beforeSnapshot (when
// set) once, before the first snapshot object is stored.
type gcListCounter struct {
	storage.Storage
	lists          atomic.Int64
	beforeSnapshot func()
}

func (s *gcListCounter) Put(ctx context.Context, name string, r io.ReadSeeker, size int64, opt storage.PutOptions) error {
	if fn := s.beforeSnapshot; fn != nil && strings.HasPrefix(name, format.SnapshotPrefix) {
		s.beforeSnapshot = nil
		fn()
	}
	return s.Storage.Put(ctx, name, r, size, opt)
}

func (s *gcListCounter) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	if prefix == format.GCPrefix {
		s.lists.Add(1)
	}
	return s.Storage.List(ctx, prefix, fn)
}

// gcFixture is a repository with a fake clock holding one backup of src.
type gcFixture struct {
	st    *gcListCounter
	r     *repo.Repository
	clock *fakeClock
	id    *crypto.Identity
	src   string
	first *backup.Result
	old   []format.ID // the packs of the first backup
	index []format.ID // the index objects of the first backup
}

func newGCFixture(t *testing.T) *gcFixture {
	t.Helper()
	ctx := context.Background()
	f := &gcFixture{st: &gcListCounter{Storage: mem.New()}, clock: &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}
	id, rc := enginetest.Identity(t)
	f.id = id
	r, err := repo.Init(ctx, f.st, repo.InitOptions{
		Options:   repo.Options{Rand: rand.NewChaCha8([32]byte{4}), Now: f.clock.Now},
		Recipient: rc, Host: "test", Chunker: enginetest.SmallParams,
		Compression: compress.LevelFastest, PackSize: 1 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.r = r
	f.src = filepath.Join(t.TempDir(), "src")
	enginetest.MakeTree(t, f.src, 3)
	f.first = run(t, r, backup.Options{Paths: []string{f.src}, Host: "h", Workers: 1})
	for _, p := range r.Index().Packs() {
		f.old = append(f.old, p.ID)
	}
	slices.SortFunc(f.old, cmpID)
	if err := r.List(ctx, format.IndexPrefix, func(fi storage.Info) error {
		id, err := format.ParseName(format.IndexPrefix, fi.Name)
		f.index = append(f.index, id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return f
}

func cmpID(a, b format.ID) int { return strings.Compare(a.String(), b.String()) }

// record writes a GC record condemning the first backup's packs.
func (f *gcFixture) record(t *testing.T, gen uint64, state string, marked time.Time) {
	t.Helper()
	err := f.r.SaveGCRecord(context.Background(), &format.GCRecord{
		Version: format.GCRecordVersion, Generation: gen, RunID: "run", State: state,
		Marked: marked, GraceSeconds: 3600, Condemned: f.old,
	})
	if err != nil {
		t.Fatal(err)
	}
}

// sweep deletes the first backup's packs and index objects, as a prune's
// sweep does.
func (f *gcFixture) sweep(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for _, id := range f.index {
		if err := f.st.Delete(ctx, format.IndexName(id)); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range f.old {
		if err := f.st.Delete(ctx, format.PackName(id)); err != nil {
			t.Fatal(err)
		}
	}
}

// addFile adds a file of new data to the source, so that the next backup
// uploads a pack.
func (f *gcFixture) addFile(t *testing.T) {
	t.Helper()
	data := make([]byte, 20000)
	rand.NewChaCha8([32]byte{9}).Read(data)
	if err := os.WriteFile(filepath.Join(f.src, "added"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// countFiles counts the regular files below root.
func countFiles(t *testing.T, root string) int {
	t.Helper()
	n := 0
	if err := filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// onLastFile runs fn once, when the (single) worker opens the last file of
// root: every other file was saved by then.
func onLastFile(t *testing.T, root string, fn func()) {
	t.Helper()
	total := int64(countFiles(t, root))
	var opened atomic.Int64
	t.Cleanup(backup.SetOpenHookForTest(func(string) error {
		if opened.Add(1) == total {
			fn()
		}
		return nil
	}))
}

// blobsOf returns every blob (tree and data) the snapshot tree references.
func blobsOf(t *testing.T, r *repo.Repository, tree format.ID) []format.ID {
	t.Helper()
	ids := []format.ID{tree}
	tr, err := r.LoadTree(context.Background(), tree)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range tr.Nodes {
		ids = append(ids, n.Content...)
		if n.Subtree != nil {
			ids = append(ids, blobsOf(t, r, *n.Subtree)...)
		}
	}
	return ids
}

// assertNotInCondemned fails when a blob of the snapshot is indexed only in
// a condemned pack.
func assertNotInCondemned(t *testing.T, f *gcFixture, res *backup.Result) {
	t.Helper()
	for _, id := range blobsOf(t, f.r, res.Snapshot.Tree) {
		loc, ok := f.r.Index().Lookup(id)
		if !ok {
			t.Fatalf("blob %s of the snapshot is not indexed", id.Short())
		}
		if _, found := slices.BinarySearchFunc(f.old, loc.Pack.ID, cmpID); found {
			t.Fatalf("blob %s of the snapshot is only in condemned pack %s", id.Short(), loc.Pack.ID.Short())
		}
	}
}

// assertSourceIn fails unless every blob of the source's subtree is
// indexed in one of packs (the blobs of the directories above the source
// may change while other tests run).
func assertSourceIn(t *testing.T, f *gcFixture, res *backup.Result, packs map[format.ID]bool, what string) {
	t.Helper()
	for _, id := range blobsOf(t, f.r, subtreeOf(t, f.r, res.Snapshot.Tree, f.src)) {
		loc, ok := f.r.Index().Lookup(id)
		if !ok || !packs[loc.Pack.ID] {
			t.Fatalf("blob %s of the source is not reused from %s (pack %s)", id.Short(), what, loc.Pack.ID.Short())
		}
	}
}

// restoresAfterSweep deletes the condemned packs and checks that the
// snapshot restores from a freshly opened repository.
func restoresAfterSweep(t *testing.T, f *gcFixture, res *backup.Result) {
	t.Helper()
	f.sweep(t)
	r2, err := repo.Open(context.Background(), f.st, f.id, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.LoadIndex(context.Background()); err != nil {
		t.Fatal(err)
	}
	restoreAndCompare(t, r2, res.Snapshot, f.src)
}

// A backup that starts after a prune condemned packs does not reuse their
// blobs: it stores them again, and its snapshot survives the sweep.
func TestBackupDoesNotReuseCondemnedPacks(t *testing.T) {
	f := newGCFixture(t)
	f.record(t, 1, format.GCMarked, f.clock.Now())
	res := run(t, f.r, backup.Options{Paths: []string{f.src}, Host: "h", Workers: 1})
	if res.Stats.Blobs == 0 {
		t.Fatal("the backup stored nothing: it reused the condemned packs")
	}
	assertNotInCondemned(t, f, res)
	restoresAfterSweep(t, f, res)
}

// A prune that marks packs while a backup runs, after the backup reused
// their blobs: the backup copies what it referenced into its own packs
// before it commits, and its snapshot survives the sweep.
func TestBackupRescuesWhatANewRecordCondemns(t *testing.T) {
	f := newGCFixture(t)
	onLastFile(t, f.src, func() {
		f.record(t, 1, format.GCMarked, f.clock.Now())
		f.clock.Advance(backup.DefaultGCCheck) // the next check is due
	})
	res := run(t, f.r, backup.Options{Paths: []string{f.src}, Host: "h", Workers: 1})
	if res.Stats.Blobs == 0 {
		t.Fatal("the backup stored nothing: it neither rescued nor stored again")
	}
	assertNotInCondemned(t, f, res)
	restoresAfterSweep(t, f, res)
}

// A prune that is already sweeping when the backup first learns of it,
// and condemned data the backup references: the backup refuses to commit,
// and the repository stays valid (what it uploaded is indexed).
func TestBackupRefusesAfterSweepStarted(t *testing.T) {
	f := newGCFixture(t)
	f.addFile(t)
	onLastFile(t, f.src, func() {
		f.record(t, 1, format.GCMarked, f.clock.Now())
		f.record(t, 2, format.GCSweeping, f.clock.Now())
		f.clock.Advance(backup.DefaultGCCheck)
	})
	assertRefused(t, f)
}

// A backup suspended across a prune's grace period (the clock jumps
// beyond marked + grace between its last check and its commit) refuses to
// commit, whether or not the sweep has written its records yet.
func TestSuspendedBackupRefusesToCommit(t *testing.T) {
	for _, states := range [][]string{
		{format.GCMarked},
		{format.GCMarked, format.GCSweeping, format.GCSwept},
	} {
		t.Run(strings.Join(states, "-"), func(t *testing.T) {
			f := newGCFixture(t)
			f.addFile(t)
			onLastFile(t, f.src, func() {
				marked := f.clock.Now()
				for i, s := range states {
					f.record(t, uint64(i+1), s, marked)
				}
				f.clock.Advance(2 * time.Hour) // suspended past the grace (1 h)
			})
			assertRefused(t, f)
		})
	}
}

// A backup suspended after its last check before the commit, while a
// prune marks and sweeps (the records appear, and the clock passes the
// grace, between that check and the snapshot's write): the check after the
// commit finds the sweep, forgets the snapshot again and fails; the
// repository stays clean and the next backup commits.
func TestSuspendedBeforeCommitForgetsSnapshot(t *testing.T) {
	f := newGCFixture(t)
	f.addFile(t)
	f.st.beforeSnapshot = func() {
		marked := f.clock.Now()
		f.record(t, 1, format.GCMarked, marked)
		f.record(t, 2, format.GCSweeping, marked)
		f.clock.Advance(2 * time.Hour) // past the grace (1 h)
	}
	assertRefused(t, f)
}

// The same suspension, but the prune only marked and its grace has not
// passed: the check after the commit rescues what the snapshot uses from
// the condemned packs, so the snapshot survives the sweep.
func TestMarkedBeforeCommitRescuesAfter(t *testing.T) {
	f := newGCFixture(t)
	f.addFile(t)
	f.st.beforeSnapshot = func() {
		f.record(t, 1, format.GCMarked, f.clock.Now())
		f.clock.Advance(backup.DefaultGCCheck)
	}
	res := run(t, f.r, backup.Options{Paths: []string{f.src}, Host: "h", Workers: 1})
	restoresAfterSweep(t, f, res)
}

// assertRefused runs a backup that must refuse to commit, and checks the
// repository: no new snapshot, check clean; and after the sweep, the next
// backup (a new process) commits a snapshot that restores.
func assertRefused(t *testing.T, f *gcFixture) {
	t.Helper()
	ctx := context.Background()
	_, err := backup.Run(ctx, f.r, backup.Options{Paths: []string{f.src}, Host: "h", Workers: 1})
	if !errors.Is(err, backup.ErrSwept) {
		t.Fatalf("backup: %v, want ErrSwept", err)
	}
	snaps, err := f.r.Snapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 1 {
		t.Fatalf("%d snapshots, want only the first", len(snaps))
	}
	reopen := func() *repo.Repository {
		r, err := repo.Open(ctx, f.st, f.id, repo.Options{Now: f.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.LoadIndex(ctx); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if cres, err := check.Run(ctx, reopen(), check.Options{ReadData: true}); err != nil || cres.Problems > 0 {
		t.Fatalf("check after a refused backup: %v %+v", err, cres)
	}
	f.sweep(t)
	r := reopen()
	res := run(t, r, backup.Options{Paths: []string{f.src}, Host: "h"})
	restoreAndCompare(t, r, res.Snapshot, f.src)
}

// Without GC records a backup behaves as before (it reuses everything)
// and lists gc/ three times: at its start, before and after its commit.
func TestBackupWithoutGCRecordsListsThrice(t *testing.T) {
	f := newGCFixture(t)
	f.st.lists.Store(0)
	res := run(t, f.r, backup.Options{Paths: []string{f.src}, Host: "h", Workers: 1})
	old := map[format.ID]bool{}
	for _, id := range f.old {
		old[id] = true
	}
	assertSourceIn(t, f, res, old, "the first backup's packs")
	if n := f.st.lists.Load(); n != 3 {
		t.Fatalf("gc/ listed %d times, want 3", n)
	}
}

// A prune that repacked the live blobs of the packs it condemned (its new
// index places them in new packs): a backup that starts after the mark
// reuses those new copies instead of storing the blobs again, whether or
// not its index had loaded the prune's new index before it learnt of the
// record.
func TestBackupReusesRepackedCopies(t *testing.T) {
	for _, loaded := range []bool{false, true} {
		t.Run(map[bool]string{false: "new-index-unknown", true: "new-index-loaded"}[loaded], func(t *testing.T) {
			ctx := context.Background()
			f := newGCFixture(t)
			// The "prune": another session copies the condemned packs'
			// blobs into new packs with their own index object.
			p, err := repo.Open(ctx, f.st, f.id, repo.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.LoadIndex(ctx); err != nil {
				t.Fatal(err)
			}
			p.CondemnPacks(f.old)
			if n, err := p.Rescue(ctx, f.old); err != nil || n == 0 {
				t.Fatalf("repack: %d blobs, %v", n, err)
			}
			if _, err := p.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			var newIndex []format.ID
			if err := p.List(ctx, format.IndexPrefix, func(fi storage.Info) error {
				id, err := format.ParseName(format.IndexPrefix, fi.Name)
				if !slices.Contains(f.index, id) {
					newIndex = append(newIndex, id)
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
			slices.SortFunc(newIndex, cmpID)
			if err := f.r.SaveGCRecord(ctx, &format.GCRecord{
				Version: format.GCRecordVersion, Generation: 1, RunID: "run", State: format.GCMarked,
				Marked: f.clock.Now(), GraceSeconds: 3600, Condemned: f.old, Superseded: f.index, NewIndex: newIndex,
			}); err != nil {
				t.Fatal(err)
			}
			if loaded {
				// The old index objects first, then the new one: each blob's
				// first location is in a condemned pack.
				if err := f.r.LoadIndex(ctx); err != nil {
					t.Fatal(err)
				}
			}
			res := run(t, f.r, backup.Options{Paths: []string{f.src}, Host: "h", Workers: 1})
			repacked := map[format.ID]bool{}
			for _, pk := range p.Index().Packs() {
				if !slices.Contains(f.old, pk.ID) {
					repacked[pk.ID] = true
				}
			}
			assertSourceIn(t, f, res, repacked, "the repacked copies")
			assertNotInCondemned(t, f, res)
			restoresAfterSweep(t, f, res)
		})
	}
}

// A prune that condemns packs the running backup uploaded itself (a
// backup suspended longer than prune's minimum pack age): the backup
// counts them as used, and refuses to commit once the run is sweeping.
func TestBackupRefusesWhenItsOwnPacksAreSwept(t *testing.T) {
	ctx := context.Background()
	f := newGCFixture(t)
	data := make([]byte, 3<<20) // three packs of new data, read first
	rand.NewChaCha8([32]byte{5}).Read(data)
	if err := os.WriteFile(filepath.Join(f.src, "added-big"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	onLastFile(t, f.src, func() {
		// Wait (bounded) until the uploaders stored a pack of this backup.
		var own []format.ID
		for range 1000 {
			if err := f.r.List(ctx, format.DataPrefix, func(fi storage.Info) error {
				id, err := format.ParseName(format.DataPrefix, fi.Name)
				if err == nil && !slices.Contains(f.old, id) && !slices.Contains(own, id) {
					own = append(own, id)
				}
				return nil
			}); err != nil {
				t.Error(err)
				return
			}
			if len(own) > 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if len(own) == 0 {
			t.Error("the backup uploaded no pack before its last file")
			return
		}
		slices.SortFunc(own, cmpID)
		for i, state := range []string{format.GCMarked, format.GCSweeping} {
			if err := f.r.SaveGCRecord(ctx, &format.GCRecord{
				Version: format.GCRecordVersion, Generation: uint64(i + 1), RunID: "own", State: state,
				Marked: f.clock.Now(), GraceSeconds: 3600, Condemned: own,
			}); err != nil {
				t.Error(err)
			}
		}
		f.clock.Advance(backup.DefaultGCCheck)
	})
	_, err := backup.Run(ctx, f.r, backup.Options{Paths: []string{f.src}, Host: "h", Workers: 1})
	if !errors.Is(err, backup.ErrSwept) {
		t.Fatalf("backup: %v, want ErrSwept", err)
	}
}

// A rescue that cannot read the condemned data (a sweep that did not wait
// for the grace) fails the backup, at whichever check it happened: the
// backup never commits a snapshot naming the deleted packs.
func TestBackupFailsWhenARescueCannotRead(t *testing.T) {
	f := newGCFixture(t)
	onLastFile(t, f.src, func() {
		f.record(t, 1, format.GCMarked, f.clock.Now())
		for _, id := range f.old {
			if err := f.st.Delete(context.Background(), format.PackName(id)); err != nil {
				t.Error(err)
			}
		}
		f.clock.Advance(backup.DefaultGCCheck)
	})
	res, err := backup.Run(context.Background(), f.r, backup.Options{Paths: []string{f.src}, Host: "h", Workers: 1})
	if err == nil {
		t.Fatalf("backup committed snapshot %s although its rescue failed", res.ID.Short())
	}
	snaps, err := f.r.Snapshots(context.Background())
	if err != nil || len(snaps) != 1 {
		t.Fatalf("%d snapshots (%v), want only the first", len(snaps), err)
	}
}
