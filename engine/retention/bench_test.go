package retention

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkApply100k runs a typical policy over 100,000 snapshots in
// 1,000 groups (10 hosts × 100 path sets), 100 hourly-ish snapshots each.
func BenchmarkApply100k(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	snaps := make([]Snapshot, 0, 100_000)
	for g := range 1000 {
		host := fmt.Sprintf("host%d", g%10)
		paths := []string{fmt.Sprintf("/data/%d", g/10), "/etc"}
		for i := range 100 {
			snaps = append(snaps, Snapshot{
				ID:      testID(len(snaps)),
				Time:    base.Add(-time.Duration(i)*7*time.Hour - time.Duration(r.IntN(3600))*time.Second),
				Host:    host,
				Paths:   paths,
				Tags:    []string{"auto"},
				Partial: r.IntN(50) == 0,
			})
		}
	}
	p := Policy{Rules: mustRules(b, "last 5", "hourly 24", "daily 7", "weekly 4", "monthly 12", "yearly 3",
		"within 2d", "within-daily 14d", "tag keep")}
	zone := mustZone(b, "Europe/Berlin")
	b.ReportAllocs()
	for b.Loop() {
		res, err := Apply(snaps, p, base, zone)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Groups) != 1000 {
			b.Fatalf("%d groups", len(res.Groups))
		}
	}
}
