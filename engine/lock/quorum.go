package lock

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"lifeboat/storage"
)

// ErrNoQuorum reports a lock operation that fewer than a majority of the
// regions answered or accepted; it is not ErrLocked (nobody else need
// hold the lock), and trying again later may succeed.
var ErrNoQuorum = errors.New("too few regions for the lock")

// undoTimeout bounds the deletes that undo a failed create; they run even
// when the caller's context has ended.
const undoTimeout = 30 * time.Second

// Regional is what the lock needs of a storage made of several regions (a
// region set, found in its Capabilities().Regions): the lock then keeps its
// objects in every region separately and decides by a majority of them.
// Names lists every region; Region returns the storage of one region alone.
type Regional interface {
	Names() []string
	Region(name string) (storage.Storage, bool)
}

// regionalOf returns the regions of st from its capabilities (which
// wrappers keep), or nil for a storage that is not a region set.
func regionalOf(st storage.Reader) Regional {
	if rs := st.Capabilities().Regions; rs != nil {
		return rs
	}
	return nil
}

// replica is one region's copy of the lock objects.
type replica struct {
	name string
	rd   storage.Reader
	st   storage.Storage // nil for a read-only use (Inspect)
}

func (r replica) label() string {
	if r.name == "" {
		return "storage"
	}
	return "region " + r.name
}

// replicasOf returns the regions of st, in its configuration order: st
// itself when it is not Regional.
func replicasOf(st storage.Reader) []replica {
	if rs := regionalOf(st); rs != nil {
		var out []replica
		for _, n := range rs.Names() {
			if s, ok := rs.Region(n); ok {
				out = append(out, replica{name: n, rd: s, st: s})
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	w, _ := st.(storage.Storage)
	return []replica{{rd: st, st: w}}
}

// majority is how many of n regions decide.
func majority(n int) int { return n/2 + 1 }

// testSequential, set by tests, makes the per-region calls run one after
// the other in region order (so a seeded model test replays exactly).
var testSequential bool

// each calls fn for every index below n, concurrently.
func each(n int, fn func(i int)) {
	if testSequential {
		for i := range n {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(i)
		}()
	}
	wg.Wait()
}

// dir returns the prefix of a lock's generation objects.
func dir(name string) string { return Prefix + name + "/" }

// objectName returns the name of generation seq of a lock.
func objectName(name string, seq uint64) string { return fmt.Sprintf("%s%020d", dir(name), seq) }

// generations lists the generation numbers of a lock in one region,
// ascending.
func generations(ctx context.Context, rd storage.Reader, name string) ([]uint64, error) {
	var seqs []uint64
	d := dir(name)
	err := rd.List(ctx, d, func(info storage.Info) error {
		rest, ok := strings.CutPrefix(info.Name, d)
		if !ok || len(rest) != 20 {
			return nil
		}
		if n, err := strconv.ParseUint(rest, 10, 64); err == nil && n > 0 {
			seqs = append(seqs, n)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	slices.Sort(seqs)
	return seqs, nil
}

// record is one copy of one generation, as read from one region.
type record struct {
	seq    uint64
	region int
	// info is nil when the object cannot be decoded (such a record holds
	// nothing: it can be broken).
	info *Info
}

// leaseKey identifies one acquisition: the records of one holder's lease,
// from its acquisition to its release, carry the same Holder and Acquired.
type leaseKey struct {
	holder   Holder
	acquired int64
}

func leaseOf(i *Info) leaseKey { return leaseKey{i.Holder, i.Acquired.UnixNano()} }

// view is what a majority (at least) of the regions held when read.
type view struct {
	// seqs[i] lists region i's generations; answered[i] is false for a
	// region that could not be listed or read.
	seqs     [][]uint64
	answered []bool
	records  []record
	// top is the newest generation in any answering region.
	top uint64
}

// readView lists and reads the lock's generations in every region. A
// region answers when it lists and every listed generation reads (a
// generation deleted in between makes the region list again, a few
// times). It fails with ErrNoQuorum unless a majority answered.
func readView(ctx context.Context, reps []replica, name string) (*view, error) {
	v := &view{seqs: make([][]uint64, len(reps)), answered: make([]bool, len(reps))}
	recs := make([][]record, len(reps))
	errs := make([]error, len(reps))
	each(len(reps), func(i int) {
		recs[i], v.seqs[i], errs[i] = readRegion(ctx, reps[i].rd, name, i)
		v.answered[i] = errs[i] == nil
	})
	n := 0
	var fails []error
	for i, ok := range v.answered {
		if !ok {
			fails = append(fails, fmt.Errorf("%s: %w", reps[i].label(), errs[i]))
			continue
		}
		n++
		v.records = append(v.records, recs[i]...)
		if s := v.seqs[i]; len(s) > 0 {
			v.top = max(v.top, s[len(s)-1])
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	if need := majority(len(reps)); n < need {
		return nil, fmt.Errorf("lock %s: %d of %d regions answered, need %d: %w: %w", name, n, len(reps), need, ErrNoQuorum, errors.Join(fails...))
	}
	return v, nil
}

// readRegion lists and reads every generation of a lock in one region.
func readRegion(ctx context.Context, rd storage.Reader, name string, region int) ([]record, []uint64, error) {
	var err error
attempts:
	for range maxAttempts {
		var seqs []uint64
		seqs, err = generations(ctx, rd, name)
		if err != nil {
			return nil, nil, err
		}
		recs := make([]record, 0, len(seqs))
		for _, s := range seqs {
			data, rerr := storage.ReadAll(ctx, rd, objectName(name, s))
			if errors.Is(rerr, storage.ErrNotExist) {
				// Replaced while we looked: list again.
				err = rerr
				continue attempts
			}
			if rerr != nil {
				return nil, nil, rerr
			}
			rec := record{seq: s, region: region}
			if info, derr := DecodeInfo(data); derr == nil && info.Name == name {
				rec.info = info
			}
			recs = append(recs, rec)
		}
		return recs, seqs, nil
	}
	return nil, nil, fmt.Errorf("generations keep changing: %w", err)
}

// holderOf returns the record that holds the lock at now, ignoring the
// records of lease skip (nil: none): for every lease, only the records of
// its newest generation count (a renewal or release supersedes the
// lease's older records), and the lease holds when any of those copies
// is held. Among holding leases the one that expires last is returned;
// nil when none holds.
func (v *view) holderOf(now time.Time, skip *leaseKey) *Info {
	newest := map[leaseKey]uint64{}
	for _, r := range v.records {
		if r.info != nil {
			k := leaseOf(r.info)
			newest[k] = max(newest[k], r.seq)
		}
	}
	var best *Info
	for _, r := range v.records {
		if r.info == nil || !r.info.Held(now) {
			continue
		}
		k := leaseOf(r.info)
		if (skip != nil && k == *skip) || r.seq != newest[k] {
			continue
		}
		if best == nil || r.info.Expires.After(best.Expires) {
			best = r.info
		}
	}
	return best
}

// outcome is the result of creating one generation in every region.
type outcome struct {
	created []bool
	// exists is set when some region already had the generation.
	exists  bool
	n       int
	errs    []error
	existIn []string
}

// create writes generation seq in every region with a conditional create
// (a region that already holds these very bytes counts as created).
// The first region is asked first and, when it reports the generation
// exists, the others are not asked: concurrent creators then meet there
// first and one of them gets every region (this orders creators; safety
// comes from the majority, not from it).
func create(ctx context.Context, reps []replica, name string, seq uint64, info *Info) (*outcome, error) {
	data, err := EncodeInfo(info)
	if err != nil {
		return nil, err
	}
	obj := objectName(name, seq)
	res := make([]error, len(reps))
	put := func(i int) {
		res[i] = storage.PutBytes(ctx, reps[i].st, obj, data, storage.PutOptions{IfNotExists: true})
		if errors.Is(res[i], storage.ErrExist) {
			// An earlier attempt whose answer was lost may have created
			// it: our own bytes are ours.
			if b, err := storage.ReadAll(ctx, reps[i].rd, obj); err == nil && bytes.Equal(b, data) {
				res[i] = nil
			}
		}
	}
	put(0)
	if errors.Is(res[0], storage.ErrExist) {
		for i := 1; i < len(reps); i++ {
			res[i] = errors.New("not asked")
		}
	} else {
		rest := len(reps) - 1
		each(rest, func(i int) { put(i + 1) })
	}
	o := &outcome{created: make([]bool, len(reps))}
	for i, err := range res {
		switch {
		case err == nil:
			o.created[i] = true
			o.n++
		case errors.Is(err, storage.ErrExist):
			o.exists = true
			o.existIn = append(o.existIn, reps[i].label())
		default:
			o.errs = append(o.errs, fmt.Errorf("%s: %w", reps[i].label(), err))
		}
	}
	return o, nil
}

// quorumErr describes a create that too few regions accepted.
func (o *outcome) quorumErr(name string, seq uint64, total int) error {
	return fmt.Errorf("lock %s: generation %d created in %d of %d regions, need %d: %w: %w",
		name, seq, o.n, total, majority(total), ErrNoQuorum, errors.Join(o.errs...))
}

// undo deletes generation seq from the regions where o created it (best
// effort: a copy left behind is a stale record, see the package
// documentation).
func undo(ctx context.Context, reps []replica, name string, seq uint64, o *outcome) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	each(len(reps), func(i int) {
		if o.created[i] {
			_ = reps[i].st.Delete(ctx, objectName(name, seq))
		}
	})
}

// deleteBelow deletes, in every region, the generations below seq that
// v saw there, or (v nil) generation seq-1 (best effort: leftovers are
// harmless).
func deleteBelow(ctx context.Context, reps []replica, name string, seq uint64, v *view) {
	each(len(reps), func(i int) {
		if v == nil {
			if seq > 1 {
				_ = reps[i].st.Delete(ctx, objectName(name, seq-1))
			}
			return
		}
		for _, s := range v.seqs[i] {
			if s < seq {
				_ = reps[i].st.Delete(ctx, objectName(name, s))
			}
		}
	})
}
