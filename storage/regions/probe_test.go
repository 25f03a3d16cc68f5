package regions_test

import (
	"errors"
	"fmt"
	"testing"

	"lifeboat/storage"
	"lifeboat/storage/local"
	"lifeboat/storage/regions"
)

func TestCheckWriteQuorum(t *testing.T) {
	cfgErr := fmt.Errorf("access denied: %w", storage.ErrConfig)
	outage := storage.MarkTransient(errors.New("connection refused"))
	for _, tc := range []struct {
		name    string
		quorum  int
		down    map[string]error // of regions a, b, c
		wantErr bool
	}{
		{"all open", 0, nil, false},
		{"quorum 2, one down", 2, map[string]error{"b": cfgErr}, false},
		{"quorum 2, two down", 2, map[string]error{"b": cfgErr, "c": outage}, true},
		{"all needed, one down", 0, map[string]error{"c": outage}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rs []regions.Region
			for _, name := range []string{"a", "b", "c"} {
				var st storage.Storage
				if err, ok := tc.down[name]; ok {
					st = regions.Down(err)
				} else {
					l, err := local.New(t.TempDir())
					if err != nil {
						t.Fatal(err)
					}
					st = l
				}
				rs = append(rs, regions.Region{Name: name, Storage: st})
			}
			set, err := regions.New(rs, regions.Options{WriteQuorum: tc.quorum})
			if err != nil {
				t.Fatal(err)
			}
			defer set.Close()
			if got := len(set.Down()); got != len(tc.down) {
				t.Fatalf("Down lists %d regions, want %d", got, len(tc.down))
			}
			err = set.CheckWriteQuorum()
			if (err != nil) != tc.wantErr {
				t.Fatalf("CheckWriteQuorum = %v, want error %v", err, tc.wantErr)
			}
			if err == nil {
				return
			}
			var qe *regions.QuorumError
			if !errors.As(err, &qe) || !errors.Is(err, regions.ErrQuorum) {
				t.Fatalf("error %v is not a QuorumError wrapping ErrQuorum", err)
			}
			if len(qe.Down) != len(tc.down) {
				t.Errorf("QuorumError names %d down regions, want %d", len(qe.Down), len(tc.down))
			}
			for _, d := range qe.Down {
				if d.Err != tc.down[d.Region] {
					t.Errorf("region %s: cause %v, want %v", d.Region, d.Err, tc.down[d.Region])
				}
			}
			if errors.Is(err, storage.ErrConfig) != (tc.down["b"] == cfgErr) {
				t.Errorf("errors.Is(ErrConfig) wrong for %v", err)
			}
			if storage.IsTransient(err) {
				t.Errorf("a quorum that cannot be reached is reported transient: %v", err)
			}
		})
	}
}
