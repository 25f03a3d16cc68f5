package retention

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"lifeboat/engine/format"
)

// FutureSlack is how far past now a snapshot's time may be before the
// snapshot counts as future-dated.
const FutureSlack = 5 * time.Minute

var (
	// ErrEmptyPolicy: a policy without rules would remove everything but
	// the safety set, so it is refused.
	ErrEmptyPolicy = errors.New("empty retention policy")
	// ErrLocalZone: the policy zone must be explicit; time.Local would make
	// the result depend on the machine running the policy.
	ErrLocalZone = errors.New("retention zone must be an explicit IANA zone, not time.Local")
	// ErrDuplicateID: two input snapshots have the same ID.
	ErrDuplicateID = errors.New("duplicate snapshot id")
)

// Policy is a set of rules and the grouping they run under. The order of
// Rules does not matter: each rule is evaluated on its own and a snapshot
// is kept if any rule keeps it.
type Policy struct {
	Rules   []Rule
	GroupBy GroupBy
}

// Validate reports whether p can be applied.
func (p Policy) Validate() error {
	if len(p.Rules) == 0 {
		return ErrEmptyPolicy
	}
	for _, r := range p.Rules {
		if err := r.Validate(); err != nil {
			return err
		}
	}
	if _, err := p.GroupBy.effective(); err != nil {
		return err
	}
	return nil
}

// Snapshot is what the policy needs to know about one snapshot.
type Snapshot struct {
	ID      format.ID
	Time    time.Time
	Host    string
	Paths   []string
	Tags    []string
	Partial bool // some files could not be read (summary.partial)
}

// FromFormat returns the policy's view of the stored snapshot s with ID
// id. A snapshot without a summary counts as complete.
func FromFormat(id format.ID, s *format.Snapshot) Snapshot {
	return Snapshot{
		ID: id, Time: s.Time, Host: s.Host, Paths: s.Paths, Tags: s.Tags,
		Partial: s.Summary != nil && s.Summary.Partial,
	}
}

// Fate is what happens to a snapshot.
type Fate string

// The fates.
const (
	FateKeep   Fate = "keep"
	FateRemove Fate = "remove"
)

// ReasonKind classifies a Reason.
type ReasonKind string

// The reason kinds.
const (
	ReasonFuture       ReasonKind = "future"                             // time > now + FutureSlack
	ReasonLastComplete ReasonKind = "last complete"                      // the group's newest complete, non-future snapshot
	ReasonPartial      ReasonKind = "partial newer than newest complete" // partial, newer than that
	ReasonRule         ReasonKind = "rule"                               // selected by Rule
	ReasonOldest       ReasonKind = "oldest"                             // the oldest complete snapshot, kept because Rule kept fewer than N
	ReasonAnchor       ReasonKind = "anchor"                             // the newest snapshot at or before ref − D of within Rule
)

// Reason is one cause for keeping a snapshot.
type Reason struct {
	Kind ReasonKind `json:"kind"`
	// Rule is the canonical text of the rule (Rule.String) for the kinds
	// rule, oldest and anchor.
	Rule string `json:"rule,omitempty"`
	// Count is, for last, bucket and within-bucket rules, the 1-based
	// position of this snapshot among those the rule selected, newest
	// first.
	Count int `json:"count,omitempty"`
	// Text is the human form: "daily 3/7", "daily 3/all",
	// "within-daily 7d #3", "within 30d", "anchor (within 30d)",
	// "oldest (daily 7)", "tag a,b", "last complete", "future",
	// "partial newer than newest complete".
	Text string `json:"text"`

	rank int // canonical order
}

// Decision is the fate of one snapshot and every reason it is kept.
type Decision struct {
	ID      format.ID `json:"id"`
	Time    time.Time `json:"time"`
	Partial bool      `json:"partial,omitempty"`
	Fate    Fate      `json:"fate"`
	Reasons []Reason  `json:"reasons,omitempty"`
}

// Group is one group's decisions, newest first (ties by ID ascending).
type Group struct {
	Key GroupKey `json:"key"`
	// Ref is the time of the newest complete, non-future snapshot, from
	// which within rules are measured; zero if the group has none.
	Ref       time.Time  `json:"ref,omitzero"`
	Snapshots []Decision `json:"snapshots"`
}

// Result is the outcome of Apply: groups in order of their key (host,
// then paths, then tags, compared element-wise).
type Result struct {
	Zone   string  `json:"zone"`
	Groups []Group `json:"groups"`
}

// Kept returns the IDs of the kept snapshots, in result order.
func (r *Result) Kept() []format.ID { return r.ids(FateKeep) }

// Removed returns the IDs of the removed snapshots, in result order.
func (r *Result) Removed() []format.ID { return r.ids(FateRemove) }

func (r *Result) ids(f Fate) []format.ID {
	var out []format.ID
	for _, g := range r.Groups {
		for _, d := range g.Snapshots {
			if d.Fate == f {
				out = append(out, d.ID)
			}
		}
	}
	return out
}

// item is the working state of one input snapshot.
type item struct {
	in      int
	group   int32 // group number, then the group's rank in key order
	t       time.Time
	id      format.ID
	partial bool
	tags    []string // sorted, no duplicates
	b       [5]int64 // bucket keys: hourly, daily, weekly, monthly, yearly
	reasons []Reason
}

// Apply runs policy p on snaps. now is the storage time; zone is the
// policy zone (nil means UTC; time.Local is refused). Apply is pure: it
// reads no clock, does no I/O and does not modify snaps.
func Apply(snaps []Snapshot, p Policy, now time.Time, zone *time.Location) (*Result, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if zone == nil {
		zone = time.UTC
	}
	if zone == time.Local {
		return nil, ErrLocalZone
	}
	gb, _ := p.GroupBy.effective()
	rules := canonicalRules(p.Rules)
	var needBucket [5]bool
	for _, r := range rules {
		if i := r.Kind.bucket(); i >= 0 {
			needBucket[i] = true
		}
	}

	if err := checkUniqueIDs(snaps); err != nil {
		return nil, err
	}
	items := make([]item, len(snaps))
	groupOf := map[string]int32{}
	var keys []string // distinct group keys, by group number
	var enc keyEncoder
	var last int32 // the previous snapshot's group, often this one's
	for i := range snaps {
		s := &snaps[i]
		it := &items[i]
		it.in, it.t, it.id, it.partial = i, s.Time.Round(0), s.ID, s.Partial
		it.tags = normTags(s.Tags)
		enc.b = enc.b[:0]
		if gb&GroupHost != 0 {
			enc.str(s.Host)
		}
		if gb&GroupPaths != 0 {
			enc.list(normTags(s.Paths))
		}
		if gb&GroupTags != 0 {
			enc.list(it.tags)
		}
		if len(keys) == 0 || string(enc.b) != keys[last] {
			g, ok := groupOf[string(enc.b)]
			if !ok {
				g = int32(len(keys))
				keys = append(keys, string(enc.b))
				groupOf[keys[g]] = g
			}
			last = g
		}
		it.group = last
		if needBucket != [5]bool{} {
			it.b = bucketKeys(it.t.In(zone), needBucket)
		}
	}
	// Number the groups in key order, then sort once: by group, time
	// descending, ID ascending.
	byKey := make([]int32, len(keys))
	for i := range byKey {
		byKey[i] = int32(i)
	}
	slices.SortFunc(byKey, func(a, b int32) int { return cmp.Compare(keys[a], keys[b]) })
	rank := make([]int32, len(keys))
	for r, g := range byKey {
		rank[g] = int32(r)
	}
	order := make([]int32, len(items))
	for i := range order {
		order[i] = int32(i)
		items[i].group = rank[items[i].group]
	}
	slices.SortFunc(order, func(x, y int32) int {
		a, b := &items[x], &items[y]
		if c := cmp.Compare(a.group, b.group); c != 0 {
			return c
		}
		if c := b.t.Compare(a.t); c != 0 {
			return c
		}
		return bytes.Compare(a.id[:], b.id[:])
	})
	sorted := make([]item, len(items))
	for i, x := range order {
		sorted[i] = items[x]
	}
	items = sorted

	res := &Result{Zone: zone.String()}
	ev := evaluator{rules: rules, limit: now.Round(0).Add(FutureSlack), zone: zone}
	for lo := 0; lo < len(items); {
		hi := lo + 1
		for hi < len(items) && items[hi].group == items[lo].group {
			hi++
		}
		g := items[lo:hi]
		ref := ev.group(g)
		res.Groups = append(res.Groups, makeGroup(g, snaps, gb, ref))
		lo = hi
	}
	return res, nil
}

// canonicalRules validates nothing (Validate did) and returns the rules
// with tag lists normalised.
func canonicalRules(rules []Rule) []Rule {
	out := make([]Rule, len(rules))
	for i, r := range rules {
		if r.Kind == KindTag {
			r.Tags = normTags(r.Tags)
		}
		out[i] = r
	}
	return out
}

// bucketKeys computes the bucket keys of lt (a time in the policy zone).
// The hourly key is the instant at which lt's wall-clock hour began, so
// the two passes through a repeated hour (fall back) are two buckets.
func bucketKeys(lt time.Time, need [5]bool) [5]int64 {
	var k [5]int64
	y, mo, d := lt.Date()
	if need[0] {
		k[0] = lt.Unix() - int64(lt.Minute()*60+lt.Second())
	}
	k[1] = int64(y)*10000 + int64(mo)*100 + int64(d)
	if need[2] {
		wy, w := lt.ISOWeek()
		k[2] = int64(wy)*100 + int64(w)
	}
	k[3] = int64(y)*100 + int64(mo)
	k[4] = int64(y)
	return k
}

func makeGroup(g []item, snaps []Snapshot, gb GroupBy, ref time.Time) Group {
	s0 := &snaps[g[0].in]
	var key GroupKey
	if gb&GroupHost != 0 {
		key.Host = s0.Host
	}
	if gb&GroupPaths != 0 {
		key.Paths = slices.Clone(normTags(s0.Paths))
	}
	if gb&GroupTags != 0 {
		key.Tags = slices.Clone(g[0].tags)
	}
	out := Group{Key: key, Ref: ref, Snapshots: make([]Decision, len(g))}
	for i := range g {
		it := &g[i]
		d := Decision{ID: it.id, Time: snaps[it.in].Time, Partial: it.partial, Fate: FateRemove}
		if len(it.reasons) > 0 {
			slices.SortFunc(it.reasons, func(a, b Reason) int {
				if c := cmp.Compare(a.rank, b.rank); c != 0 {
					return c
				}
				if c := cmp.Compare(a.Rule, b.Rule); c != 0 {
					return c
				}
				return cmp.Compare(a.Text, b.Text)
			})
			d.Reasons = slices.CompactFunc(it.reasons, func(a, b Reason) bool {
				return a.rank == b.rank && a.Rule == b.Rule && a.Text == b.Text
			})
			d.Fate = FateKeep
		}
		out.Snapshots[i] = d
	}
	return out
}

// evaluator applies the rules to one group at a time, reusing scratch
// space between groups.
type evaluator struct {
	rules []Rule
	limit time.Time // now + FutureSlack
	zone  *time.Location
	cands []int // indices into the group of complete, non-future snapshots
	w     bucketWalker
}

// Ranks of the reasons that are not rule-specific.
const (
	rankFuture = iota
	rankLastComplete
	rankPartial
	rankRules // + 4*Kind + sub
)

func ruleRank(k Kind, sub int) int { return rankRules + 4*int(k) + sub }

// group evaluates g (one group, in order) and returns ref.
func (e *evaluator) group(g []item) time.Time {
	e.cands = e.cands[:0]
	for i := range g {
		if !g[i].partial && !g[i].t.After(e.limit) {
			e.cands = append(e.cands, i)
		}
	}
	var ref time.Time
	if len(e.cands) > 0 {
		ref = g[e.cands[0]].t
		g[e.cands[0]].add(Reason{Kind: ReasonLastComplete, Text: string(ReasonLastComplete), rank: rankLastComplete})
	}
	for i := range g {
		switch {
		case g[i].t.After(e.limit):
			g[i].add(Reason{Kind: ReasonFuture, Text: string(ReasonFuture), rank: rankFuture})
		case g[i].partial && (len(e.cands) == 0 || g[i].t.After(ref)):
			g[i].add(Reason{Kind: ReasonPartial, Text: string(ReasonPartial), rank: rankPartial})
		}
	}
	if len(e.cands) == 0 {
		return time.Time{}
	}
	for _, r := range e.rules {
		e.rule(g, r, ref)
	}
	return ref
}

func (it *item) add(r Reason) { it.reasons = append(it.reasons, r) }

// rule applies r to the candidates of g.
func (e *evaluator) rule(g []item, r Rule, ref time.Time) {
	rs := r.String()
	cands := e.cands
	oldest := cands[len(cands)-1]
	switch {
	case r.Kind == KindLast:
		for n, ci := range cands {
			if r.N != Unlimited && n == r.N {
				break
			}
			g[ci].add(Reason{Kind: ReasonRule, Rule: rs, Count: n + 1,
				Text: "last " + strconv.Itoa(n+1) + "/" + countText(r.N), rank: ruleRank(r.Kind, 0)})
		}
	case r.Kind.counted(): // a bucket rule
		bi := r.Kind.bucket()
		e.w.reset()
		count, lastKept := 0, -1
		for _, ci := range cands {
			if r.N != Unlimited && count == r.N {
				break
			}
			if k := g[ci].b[bi]; e.w.isNew(k) {
				e.w.add(k)
				count++
				lastKept = ci
				g[ci].add(Reason{Kind: ReasonRule, Rule: rs, Count: count,
					Text: r.Kind.String() + " " + strconv.Itoa(count) + "/" + countText(r.N), rank: ruleRank(r.Kind, 0)})
			}
		}
		if (r.N == Unlimited || count < r.N) && lastKept != oldest {
			g[oldest].add(Reason{Kind: ReasonOldest, Rule: rs, Text: "oldest (" + rs + ")", rank: ruleRank(r.Kind, 1)})
		}
	case r.Kind == KindWithin:
		cutoff := r.D.Before(ref, e.zone)
		for _, ci := range cands {
			if g[ci].t.After(cutoff) {
				g[ci].add(Reason{Kind: ReasonRule, Rule: rs, Text: rs, rank: ruleRank(r.Kind, 0)})
				continue
			}
			g[ci].add(Reason{Kind: ReasonAnchor, Rule: rs, Text: "anchor (" + rs + ")", rank: ruleRank(r.Kind, 1)})
			break
		}
	case r.Kind.windowed(): // a within-bucket rule
		cutoff := r.D.Before(ref, e.zone)
		bi := r.Kind.bucket()
		e.w.reset()
		count, lastKept := 0, -1
		for _, ci := range cands {
			if !g[ci].t.After(cutoff) {
				break
			}
			if k := g[ci].b[bi]; e.w.isNew(k) {
				e.w.add(k)
				count++
				lastKept = ci
				g[ci].add(Reason{Kind: ReasonRule, Rule: rs, Count: count,
					Text: rs + " #" + strconv.Itoa(count), rank: ruleRank(r.Kind, 0)})
			}
		}
		if g[oldest].t.After(cutoff) && lastKept != oldest {
			g[oldest].add(Reason{Kind: ReasonOldest, Rule: rs, Text: "oldest (" + rs + ")", rank: ruleRank(r.Kind, 1)})
		}
	case r.Kind == KindTag:
		for _, ci := range cands {
			if hasAll(g[ci].tags, r.Tags) {
				g[ci].add(Reason{Kind: ReasonRule, Rule: rs, Text: rs, rank: ruleRank(r.Kind, 0)})
			}
		}
	}
}

// hasAll reports whether the sorted set have contains every element of
// the sorted set want.
func hasAll(have, want []string) bool {
	for _, w := range want {
		if _, ok := slices.BinarySearch(have, w); !ok {
			return false
		}
	}
	return true
}

// checkUniqueIDs fails with ErrDuplicateID if two snapshots share an ID.
// It sorts the IDs' first 8 bytes (IDs are hashes, so these almost always
// differ) and sorts by full ID only runs of equal prefixes.
func checkUniqueIDs(snaps []Snapshot) error {
	type pre struct {
		p uint64
		i int32
	}
	ps := make([]pre, len(snaps))
	for i := range snaps {
		ps[i] = pre{binary.BigEndian.Uint64(snaps[i].ID[:8]), int32(i)}
	}
	slices.SortFunc(ps, func(a, b pre) int { return cmp.Compare(a.p, b.p) })
	for lo := 0; lo < len(ps); {
		hi := lo + 1
		for hi < len(ps) && ps[hi].p == ps[lo].p {
			hi++
		}
		if hi-lo > 1 {
			run := ps[lo:hi]
			slices.SortFunc(run, func(a, b pre) int { return bytes.Compare(snaps[a.i].ID[:], snaps[b.i].ID[:]) })
			for i := 1; i < len(run); i++ {
				if id := snaps[run[i].i].ID; id == snaps[run[i-1].i].ID {
					return fmt.Errorf("%w: %s", ErrDuplicateID, id)
				}
			}
		}
		lo = hi
	}
	return nil
}

// bucketWalker remembers the buckets a rule has already kept. Walking
// newest first, a bucket's key normally differs from the last kept one
// only when the bucket is new, but in a zone whose clock falls back across
// midnight a day (and so a week, month or year) can recur after another,
// so a key that is not below every kept key is looked up in a set built
// on first need.
type bucketWalker struct {
	has       bool
	last, min int64
	kept      []int64
	set       map[int64]struct{}
}

func (w *bucketWalker) reset() {
	w.has, w.kept, w.set = false, w.kept[:0], nil
}

func (w *bucketWalker) isNew(k int64) bool {
	switch {
	case !w.has || k < w.min:
		return true
	case k == w.last:
		return false
	}
	if w.set == nil {
		w.set = make(map[int64]struct{}, len(w.kept))
		for _, x := range w.kept {
			w.set[x] = struct{}{}
		}
	}
	_, seen := w.set[k]
	return !seen
}

func (w *bucketWalker) add(k int64) {
	if !w.has || k < w.min {
		w.min = k
	}
	w.has, w.last = true, k
	w.kept = append(w.kept, k)
	if w.set != nil {
		w.set[k] = struct{}{}
	}
}
