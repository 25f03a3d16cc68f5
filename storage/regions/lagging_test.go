package regions

import (
	"fmt"
	"testing"

	"lifeboat/storage"
	"lifeboat/storage/mem"
	"lifeboat/storage/storagetest"
)

// A set of three regions with a write quorum of 2 keeps the guarantees of
// storagetest.RunLagging while one region is down or lagging: with the
// default breaker (a region that failed is read last for a while), and
// with a breaker that never opens (the lagging region stays the preferred
// one for reads).
func TestConformanceLagging(t *testing.T) {
	for _, tc := range []struct {
		name      string
		threshold int
	}{
		{"default breaker", 0},
		{"breaker never opens", 1 << 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storagetest.RunLagging(t,
				func(t *testing.T) storage.Storage { return mem.New() },
				func(t *testing.T, rs []storage.Storage) storage.Storage {
					var regs []Region
					for i, st := range rs {
						regs = append(regs, Region{Name: fmt.Sprintf("r%d", i), Storage: st, Priority: i})
					}
					s, err := New(regs, Options{WriteQuorum: 2, BreakerThreshold: tc.threshold})
					if err != nil {
						t.Fatal(err)
					}
					return s
				})
		})
	}
}
