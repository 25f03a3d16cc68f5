package retention

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"lifeboat/engine/format"
)

const propertySeeds = 400

var propertyZones = []string{"UTC", "Europe/Berlin", "America/New_York", "America/Sao_Paulo", "Australia/Lord_Howe", "Asia/Kolkata"}

type propCase struct {
	extra Rule // a rule to add, for TestPropertyAddingRuleNeverRemovesMore
	snaps []Snapshot
	p     Policy
	now   time.Time
	zone  *time.Location
}

func genDuration(r *rand.Rand) Duration {
	switch r.IntN(6) {
	case 0:
		return Duration{Hours: 1 + r.IntN(100)}
	case 1:
		return Duration{Days: 1 + r.IntN(40)}
	case 2:
		return Duration{Weeks: 1 + r.IntN(8)}
	case 3:
		return Duration{Months: 1 + r.IntN(14)}
	case 4:
		return Duration{Years: 1 + r.IntN(3)}
	}
	return Duration{Years: r.IntN(2), Months: r.IntN(3), Days: r.IntN(10), Hours: 1 + r.IntN(30)}
}

func genTags(r *rand.Rand, min int) []string {
	var tags []string
	for len(tags) < min || (len(tags) < 3 && r.IntN(2) == 0) {
		tags = append(tags, string(rune('a'+r.IntN(3))))
	}
	return tags
}

func genRule(r *rand.Rand) Rule {
	n := 1 + r.IntN(6)
	if r.IntN(6) == 0 {
		n = Unlimited
	}
	switch k := Kind(1 + r.IntN(int(kindEnd)-1)); {
	case k.counted():
		return Rule{Kind: k, N: n}
	case k.windowed():
		return Rule{Kind: k, D: genDuration(r)}
	default:
		return Tag(genTags(r, 1)...)
	}
}

func genCase(t testing.TB, r *rand.Rand) propCase {
	zone := mustZone(t, propertyZones[r.IntN(len(propertyZones))])
	base := time.Date(2015+r.IntN(10), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), 0, 0, 0, time.UTC)
	span := []time.Duration{6 * time.Hour, 72 * time.Hour, 60 * 24 * time.Hour, 3 * 365 * 24 * time.Hour}[r.IntN(4)]
	n := r.IntN(80)
	snaps := make([]Snapshot, n)
	paths := [][]string{{"/x"}, {"/x", "/y"}, {"/y", "/x"}}
	for i := range snaps {
		ts := base.Add(-time.Duration(r.Int64N(int64(span))))
		if i > 0 && r.IntN(10) == 0 {
			ts = snaps[r.IntN(i)].Time // same instant as another snapshot
		}
		snaps[i] = Snapshot{
			ID:      testID(r.IntN(1<<20)*1000 + i), // IDs unique, not in input order
			Time:    ts.Truncate(time.Minute),
			Host:    []string{"a", "b"}[r.IntN(2)],
			Paths:   paths[r.IntN(len(paths))],
			Partial: r.IntN(7) == 0,
		}
		if r.IntN(2) == 0 {
			snaps[i].Tags = genTags(r, 0)
		}
	}
	rules := make([]Rule, 1+r.IntN(4))
	for i := range rules {
		rules[i] = genRule(r)
	}
	gb := []GroupBy{0, GroupHost, GroupNone, GroupHost | GroupTags, GroupPaths | GroupTags}[r.IntN(5)]
	now := base.Add(-time.Duration(r.Int64N(int64(span / 8))))
	return propCase{extra: genRule(r), snaps: snaps, p: Policy{Rules: rules, GroupBy: gb}, now: now, zone: zone}
}

// forEachSeed runs f on propertySeeds generated cases, naming the seed
// in any failure.
func forEachSeed(t *testing.T, f func(t *testing.T, c propCase) error) {
	for seed := uint64(1); seed <= propertySeeds; seed++ {
		c := genCase(t, rand.New(rand.NewPCG(seed, 0x7e7e)))
		if err := f(t, c); err != nil {
			t.Fatalf("seed %d (zone %s, rules %v, group-by %q, %d snapshots): %v", seed, c.zone, c.p.Rules, c.p.GroupBy, len(c.snaps), err)
		}
	}
}

func keptSet(res *Result) map[format.ID]bool {
	m := map[format.ID]bool{}
	for _, id := range res.Kept() {
		m[id] = true
	}
	return m
}

// oracle is a slow, independent formulation of the definition in doc.go:
// for each rule, the IDs it keeps (including oldest and anchor), and the
// IDs of the safety set.
func oracle(c propCase) (perRule map[string]map[format.ID]bool, safety map[format.ID]bool) {
	perRule, safety = map[string]map[format.ID]bool{}, map[format.ID]bool{}
	gb, _ := c.p.GroupBy.effective()
	groups := map[string][]Snapshot{}
	for _, s := range c.snaps {
		var key []string
		if gb&GroupHost != 0 {
			key = append(key, "host="+s.Host)
		}
		if gb&GroupPaths != 0 {
			key = append(key, "paths="+strings.Join(normTags(s.Paths), "\n"))
		}
		if gb&GroupTags != 0 {
			key = append(key, "tags="+strings.Join(normTags(s.Tags), "\n"))
		}
		k := strings.Join(key, "\x00")
		groups[k] = append(groups[k], s)
	}
	limit := c.now.Add(5 * time.Minute)
	bucketName := func(k Kind, t time.Time) string {
		lt := t.In(c.zone)
		switch k {
		case KindHourly, KindWithinHourly:
			return lt.Format("2006-01-02T15 -07:00")
		case KindDaily, KindWithinDaily:
			return lt.Format("2006-01-02")
		case KindWeekly, KindWithinWeekly:
			y, w := lt.ISOWeek()
			return fmt.Sprint(y, w)
		case KindMonthly, KindWithinMonthly:
			return lt.Format("2006-01")
		}
		return lt.Format("2006")
	}
	for _, g := range groups {
		sort.Slice(g, func(i, j int) bool {
			if !g[i].Time.Equal(g[j].Time) {
				return g[i].Time.After(g[j].Time)
			}
			return g[i].ID.String() < g[j].ID.String()
		})
		var cands []Snapshot
		for _, s := range g {
			if !s.Partial && !s.Time.After(limit) {
				cands = append(cands, s)
			}
		}
		for _, s := range g {
			if s.Time.After(limit) || (s.Partial && (len(cands) == 0 || s.Time.After(cands[0].Time))) {
				safety[s.ID] = true
			}
		}
		if len(cands) == 0 {
			continue
		}
		ref := cands[0].Time
		safety[cands[0].ID] = true
		for _, r := range c.p.Rules {
			rs := r.String()
			if perRule[rs] == nil {
				perRule[rs] = map[format.ID]bool{}
			}
			keep := perRule[rs]
			oldest := cands[len(cands)-1]
			var cutoff time.Time
			if r.Kind.windowed() {
				cutoff = ref.In(c.zone).AddDate(-r.D.Years, -r.D.Months, -7*r.D.Weeks-r.D.Days).Add(-time.Duration(r.D.Hours) * time.Hour)
			}
			// newest member of each bucket, buckets ordered by it
			newest := func(in []Snapshot) []Snapshot {
				seen := map[string]bool{}
				var out []Snapshot
				for _, s := range in {
					if b := bucketName(r.Kind, s.Time); !seen[b] {
						seen[b] = true
						out = append(out, s)
					}
				}
				return out
			}
			switch {
			case r.Kind == KindLast:
				for i, s := range cands {
					if r.N == Unlimited || i < r.N {
						keep[s.ID] = true
					}
				}
			case r.Kind.counted():
				tops := newest(cands)
				if r.N != Unlimited && len(tops) >= r.N {
					tops = tops[:r.N]
				} else {
					keep[oldest.ID] = true
				}
				for _, s := range tops {
					keep[s.ID] = true
				}
			case r.Kind == KindWithin:
				for _, s := range cands {
					keep[s.ID] = true
					if !s.Time.After(cutoff) {
						break
					}
				}
			case r.Kind.windowed():
				var in []Snapshot
				for _, s := range cands {
					if s.Time.After(cutoff) {
						in = append(in, s)
					}
				}
				for _, s := range newest(in) {
					keep[s.ID] = true
				}
				if oldest.Time.After(cutoff) {
					keep[oldest.ID] = true
				}
			default:
				for _, s := range cands {
					if hasAll(normTags(s.Tags), normTags(r.Tags)) {
						keep[s.ID] = true
					}
				}
			}
		}
	}
	return perRule, safety
}

func TestPropertyOracle(t *testing.T) {
	forEachSeed(t, func(t *testing.T, c propCase) error {
		res, err := Apply(c.snaps, c.p, c.now, c.zone)
		if err != nil {
			return err
		}
		wantRule, wantSafety := oracle(c)
		gotRule, gotSafety := map[string]map[format.ID]bool{}, map[format.ID]bool{}
		for _, r := range c.p.Rules {
			gotRule[r.String()] = map[format.ID]bool{}
		}
		for _, g := range res.Groups {
			next := map[string]int{} // per rule, the counter the next kept snapshot must carry
			for _, d := range g.Snapshots {
				for _, re := range d.Reasons {
					if re.Count > 0 {
						if re.Count != next[re.Rule]+1 {
							return fmt.Errorf("rule %q: counter %d after %d", re.Rule, re.Count, next[re.Rule])
						}
						next[re.Rule] = re.Count
					}
					switch re.Kind {
					case ReasonFuture, ReasonLastComplete, ReasonPartial:
						gotSafety[d.ID] = true
					default:
						gotRule[re.Rule][d.ID] = true
					}
				}
			}
		}
		if !reflect.DeepEqual(gotSafety, wantSafety) {
			return fmt.Errorf("safety set %v, oracle %v", gotSafety, wantSafety)
		}
		for rs, want := range wantRule {
			if !reflect.DeepEqual(gotRule[rs], want) {
				return fmt.Errorf("rule %q keeps %d snapshots, oracle %d", rs, len(gotRule[rs]), len(want))
			}
		}
		return nil
	})
}

func TestPropertyRuleOrderIrrelevant(t *testing.T) {
	forEachSeed(t, func(t *testing.T, c propCase) error {
		res, err := Apply(c.snaps, c.p, c.now, c.zone)
		if err != nil {
			return err
		}
		rules := slices.Clone(c.p.Rules)
		slices.Reverse(rules)
		rules = append(rules[1:], rules[0])
		shuffled := c.snaps
		if len(shuffled) > 1 {
			shuffled = append(slices.Clone(c.snaps[1:]), c.snaps[0])
		}
		res2, err := Apply(shuffled, Policy{Rules: rules, GroupBy: c.p.GroupBy}, c.now, c.zone)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(res, res2) {
			return fmt.Errorf("results differ with rules %v", rules)
		}
		return nil
	})
}

func TestPropertyIdempotent(t *testing.T) {
	forEachSeed(t, func(t *testing.T, c propCase) error {
		res, err := Apply(c.snaps, c.p, c.now, c.zone)
		if err != nil {
			return err
		}
		kept := keptSet(res)
		var rest []Snapshot
		for _, s := range c.snaps {
			if kept[s.ID] {
				rest = append(rest, s)
			}
		}
		res2, err := Apply(rest, c.p, c.now, c.zone)
		if err != nil {
			return err
		}
		if len(res2.Removed()) != 0 {
			return fmt.Errorf("second pass removes %d of %d kept snapshots", len(res2.Removed()), len(rest))
		}
		return nil
	})
}

func TestPropertyAddingRuleNeverRemovesMore(t *testing.T) {
	forEachSeed(t, func(t *testing.T, c propCase) error {
		res, err := Apply(c.snaps, c.p, c.now, c.zone)
		if err != nil {
			return err
		}
		extra := c.extra
		more := Policy{Rules: append(slices.Clone(c.p.Rules), extra), GroupBy: c.p.GroupBy}
		res2, err := Apply(c.snaps, more, c.now, c.zone)
		if err != nil {
			return err
		}
		k2 := keptSet(res2)
		for id := range keptSet(res) {
			if !k2[id] {
				return fmt.Errorf("adding %v removes %s", extra, id.Short())
			}
		}
		return nil
	})
}

func TestPropertyLastCompleteKeptAndPartition(t *testing.T) {
	forEachSeed(t, func(t *testing.T, c propCase) error {
		res, err := Apply(c.snaps, c.p, c.now, c.zone)
		if err != nil {
			return err
		}
		seen := map[format.ID]int{}
		for _, id := range res.Kept() {
			seen[id]++
		}
		for _, id := range res.Removed() {
			seen[id]++
		}
		if len(seen) != len(c.snaps) {
			return fmt.Errorf("kept ∪ removed has %d IDs, input %d", len(seen), len(c.snaps))
		}
		for _, s := range c.snaps {
			if seen[s.ID] != 1 {
				return fmt.Errorf("snapshot %s appears %d times", s.ID.Short(), seen[s.ID])
			}
		}
		kept := keptSet(res)
		for _, g := range res.Groups {
			var newest *Decision
			for i := range g.Snapshots {
				d := &g.Snapshots[i]
				if !d.Partial && (newest == nil || d.Time.After(newest.Time)) {
					newest = d
				}
			}
			if newest != nil && !kept[newest.ID] {
				return fmt.Errorf("newest complete snapshot %s of group %v removed", newest.ID.Short(), g.Key)
			}
		}
		return nil
	})
}
