package syncer_test

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"lifeboat/crypto"
	"lifeboat/engine/backup"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/engine/restore"
	"lifeboat/engine/syncer"
	"lifeboat/engine/treecmp"
	"lifeboat/storage"
	"lifeboat/storage/fault"
	"lifeboat/storage/mem"
	"lifeboat/storage/regions"
)

// recorder records the names of the successful Puts, in order.
type recorder struct {
	storage.Storage
	mu   sync.Mutex
	puts []string
}

func (r *recorder) Put(ctx context.Context, name string, rd io.ReadSeeker, size int64, opt storage.PutOptions) error {
	err := r.Storage.Put(ctx, name, rd, size, opt)
	if err == nil {
		r.mu.Lock()
		r.puts = append(r.puts, name)
		r.mu.Unlock()
	}
	return err
}

// take returns the recorded Puts and forgets them.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.puts
	r.puts = nil
	return out
}

// fixture is a region set over three regions a, b, c (priority in that
// order), each a fault wrapper over a Put recorder over a mem storage.
type fixture struct {
	set    *regions.Set
	faults map[string]*fault.Storage
	recs   map[string]*recorder
	mems   map[string]storage.Storage
	id     *crypto.Identity
	r      *repo.Repository
	src    string
}

var regionNames = []string{"a", "b", "c"}

func newSet(t *testing.T, quorum int) *fixture {
	t.Helper()
	f := &fixture{faults: map[string]*fault.Storage{}, recs: map[string]*recorder{}, mems: map[string]storage.Storage{}}
	var rs []regions.Region
	for i, name := range regionNames {
		m := mem.New()
		rec := &recorder{Storage: m}
		fs := fault.New(rec)
		f.mems[name], f.recs[name], f.faults[name] = m, rec, fs
		rs = append(rs, regions.Region{Name: name, Storage: fs, Priority: i})
	}
	set, err := regions.New(rs, regions.Options{WriteQuorum: quorum})
	if err != nil {
		t.Fatal(err)
	}
	f.set = set
	return f
}

// initRepo creates the repository through the set.
func (f *fixture) initRepo(t *testing.T) {
	t.Helper()
	f.r, f.id = enginetest.NewRepo(t, f.set)
}

// backup backs up a fresh sample tree.
func (f *fixture) backup(t *testing.T) (*backup.Result, error) {
	t.Helper()
	if f.src == "" {
		f.src = filepath.Join(t.TempDir(), "src")
		enginetest.MakeTree(t, f.src, 3)
	}
	return backup.Run(context.Background(), f.r, backup.Options{Paths: []string{f.src}, Host: "h"})
}

var syncTime = time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)

func opts() syncer.Options {
	return syncer.Options{Now: func() time.Time { return syncTime }, Host: "testhost", Concurrency: 3}
}

// names lists the objects under prefix in st, sorted.
func names(t *testing.T, st storage.Reader, prefix string) []string {
	t.Helper()
	var out []string
	err := st.List(context.Background(), prefix, func(info storage.Info) error {
		out = append(out, info.Name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// repoObjects lists every object of the repository (not state/) in st.
func repoObjects(t *testing.T, st storage.Reader) []string {
	t.Helper()
	var out []string
	for _, n := range names(t, st, "") {
		if !strings.HasPrefix(n, syncer.StatePrefix) {
			out = append(out, n)
		}
	}
	return out
}

func regionReport(t *testing.T, rep *syncer.Report, name string) syncer.RegionReport {
	t.Helper()
	for _, r := range rep.Regions {
		if r.Region == name {
			return r
		}
	}
	t.Fatalf("no report for region %s", name)
	return syncer.RegionReport{}
}

// restoreFrom opens the repository on st alone, restores its latest
// snapshot and compares it with src.
func restoreFrom(t *testing.T, st storage.Storage, id *crypto.Identity, src string) {
	t.Helper()
	ctx := context.Background()
	r := enginetest.Reopen(t, st, id)
	snap, err := r.FindSnapshot(ctx, "latest", repo.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	target := t.TempDir()
	var errs []string
	res, err := restore.Run(ctx, r, snap.Snapshot, restore.Options{Target: target,
		OnError: func(p string, err error) { errs = append(errs, p+": "+err.Error()) }})
	if err != nil || len(errs) > 0 || res.Errors > 0 {
		t.Fatalf("restore: %v %v", err, errs)
	}
	diffs, err := treecmp.Compare(src, filepath.Join(target, src), treecmp.Options{})
	if err != nil || len(diffs) > 0 {
		t.Fatalf("restore differs: %v %v", diffs, err)
	}
}

// largestPack returns the name and bytes of the biggest pack in st.
func largestPack(t *testing.T, st storage.Storage) (string, []byte) {
	t.Helper()
	var best string
	var size int64 = -1
	err := st.List(context.Background(), format.DataPrefix, func(info storage.Info) error {
		if info.Size > size {
			best, size = info.Name, info.Size
		}
		return nil
	})
	if err != nil || best == "" {
		t.Fatalf("no pack: %v", err)
	}
	data, err := storage.ReadAll(context.Background(), st, best)
	if err != nil {
		t.Fatal(err)
	}
	return best, data
}

func mustPut(t *testing.T, st storage.Storage, name string, data []byte) {
	t.Helper()
	if err := storage.PutBytes(context.Background(), st, name, data, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

func isNotExist(err error) bool { return errors.Is(err, storage.ErrNotExist) }
