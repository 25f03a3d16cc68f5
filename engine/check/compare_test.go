package check

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"lifeboat/engine/backup"
	"lifeboat/engine/enginetest"
	"lifeboat/engine/format"
	"lifeboat/engine/repo"
	"lifeboat/storage/mem"
)

// TestCompareIndex: an index entry that a pack's trailer does not hold
// exactly is named; trailer entries the index places elsewhere, or not at
// all, are not problems.
func TestCompareIndex(t *testing.T) {
	ctx := context.Background()
	st := mem.New()
	r, id := enginetest.NewRepo(t, st)
	src := filepath.Join(t.TempDir(), "src")
	enginetest.MakeTree(t, src, 6)
	if _, err := backup.Run(ctx, r, backup.Options{Paths: []string{src}, Host: "test"}); err != nil {
		t.Fatal(err)
	}
	r = enginetest.Reopen(t, st, id)
	c := &checker{r: r, indexed: map[format.ID]int{}}
	r.Index().Each(func(loc repo.Location) { c.indexed[loc.Pack.ID]++ })
	var p repo.PackInfo
	for _, q := range r.Index().Packs() {
		if c.indexed[q.ID] >= 3 {
			p = q
			break
		}
	}
	trailer, err := r.ReadPackTrailer(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	name := format.PackName(p.ID)
	second := trailer[1]
	longer := slices.Clone(trailer)
	longer[1].Length++
	for _, tc := range []struct {
		name    string
		trailer []format.Blob
		want    []format.ID
	}{
		{"same", trailer, nil},
		{"entry missing", slices.Delete(slices.Clone(trailer), 1, 2), []format.ID{second.ID}},
		{"entry differs", longer, []format.ID{second.ID}},
		{"unindexed entry", append(slices.Clone(trailer), format.Blob{Type: format.BlobData, ID: format.ID{1}, Length: 5}), nil},
		{"empty", nil, func() (ids []format.ID) {
			for _, b := range trailer {
				ids = append(ids, b.ID)
			}
			return ids
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []format.ID
			c.compareIndex(p, name, tc.trailer, func(pr Problem) {
				if pr.Object != name || !errors.Is(pr.Err, errIndexMismatch) {
					t.Errorf("problem %q", pr)
				}
				got = append(got, pr.Blob)
			})
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems for %v, want %v", got, tc.want)
			}
		})
	}
}
